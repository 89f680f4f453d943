import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulator/index.js';
import { eventsOf, startReceiver, startSim, type Receiver } from './support.js';

let sim: Simulator;
const receivers: Receiver[] = [];
afterEach(async () => {
  await sim.close();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${sim.url}/_sim${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('/v1/webhook_endpoints through the SDK', () => {
  it('creates (secret shown once), lists, retrieves, updates and deletes', async () => {
    sim = await startSim();
    const stripe = sim.stripe();
    const created = await stripe.webhookEndpoints.create({
      url: 'https://recon.example.com/webhooks/stripe',
      enabled_events: ['transfer.reversed', 'treasury.credit_reversal.posted'],
      api_version: '2026-10-28.endive',
      connect: true,
      metadata: { recon_endpoint: 'connect' },
    });
    expect(created).toMatchObject({
      object: 'webhook_endpoint',
      url: 'https://recon.example.com/webhooks/stripe',
      enabled_events: ['transfer.reversed', 'treasury.credit_reversal.posted'],
      api_version: '2026-10-28.endive',
      status: 'enabled',
      livemode: false,
      application: null,
      description: null,
      metadata: { recon_endpoint: 'connect' },
    });
    expect(created.id).toMatch(/^we_/);
    expect(created.secret).toMatch(/^whsec_/);
    // Stripe's object has no `connect` field (stripe-node 23.1.0): it is only a create param.
    expect(created).not.toHaveProperty('connect');

    const plain = await stripe.webhookEndpoints.create({
      url: 'https://recon.example.com/webhooks/stripe',
      enabled_events: ['*'],
    });
    expect(plain.api_version).toBeNull();

    const got = await stripe.webhookEndpoints.retrieve(created.id);
    expect(got).not.toHaveProperty('secret');
    expect(got.enabled_events).toEqual(created.enabled_events);

    const listed = await stripe.webhookEndpoints.list({ limit: 1 }).autoPagingToArray({
      limit: 100,
    });
    expect(listed.map((e) => e.id)).toEqual([plain.id, created.id]);
    expect(listed.every((e) => e.secret === undefined)).toBe(true);

    const updated = await stripe.webhookEndpoints.update(created.id, {
      enabled_events: ['transfer.created'],
      disabled: true,
      description: 'recon',
      metadata: { extra: 'x' },
    });
    expect(updated).toMatchObject({
      enabled_events: ['transfer.created'],
      status: 'disabled',
      description: 'recon',
      metadata: { recon_endpoint: 'connect', extra: 'x' },
    });
    // api_version and connect cannot be changed after creation, as in Stripe.
    await expect(
      stripe.webhookEndpoints.update(created.id, {
        api_version: '2024-06-20',
      } as Stripe.WebhookEndpointUpdateParams),
    ).rejects.toMatchObject({ type: 'StripeInvalidRequestError', code: 'parameter_unknown' });

    const deleted = await stripe.webhookEndpoints.del(created.id);
    expect(deleted).toEqual({ id: created.id, object: 'webhook_endpoint', deleted: true });
    await expect(stripe.webhookEndpoints.retrieve(created.id)).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
  });

  it('rejects what Stripe rejects', async () => {
    sim = await startSim();
    const stripe = sim.stripe();
    await expect(
      stripe.webhookEndpoints.create({ url: 'not a url', enabled_events: ['*'] }),
    ).rejects.toMatchObject({ type: 'StripeInvalidRequestError', param: 'url' });
    await expect(
      stripe.webhookEndpoints.create({ url: 'https://x.example', enabled_events: [] }),
    ).rejects.toMatchObject({ param: 'enabled_events', code: 'parameter_missing' });
    await expect(
      stripe.webhookEndpoints.create({
        url: 'https://x.example',
        enabled_events: ['nope' as 'transfer.created'],
      }),
    ).rejects.toMatchObject({ param: 'enabled_events[0]' });
    for (let i = 0; i < 16; i++) {
      await stripe.webhookEndpoints.create({
        url: `https://x.example/${i}`,
        enabled_events: ['*'],
      });
    }
    await expect(
      stripe.webhookEndpoints.create({ url: 'https://x.example/17', enabled_events: ['*'] }),
    ).rejects.toMatchObject({ code: 'webhook_endpoint_limit_reached' });
  });

  it('delivers as Stripe does: platform endpoints get platform events, Connect endpoints connected-account events, each only its types, signed with its own secret', async () => {
    sim = await startSim();
    const platformRx = await startReceiver();
    const connectRx = await startReceiver();
    receivers.push(platformRx, connectRx);
    const stripe = sim.stripe();
    const platform = await stripe.webhookEndpoints.create({
      url: platformRx.url,
      enabled_events: ['transfer.created', 'transfer.reversed'],
    });
    const connect = await stripe.webhookEndpoints.create({
      url: connectRx.url,
      enabled_events: ['treasury.financial_account.created'],
      connect: true,
    });
    const t = await stripe.transfers.create({
      amount: 100,
      currency: 'usd',
      destination: 'acct_d',
    });
    await stripe.transfers.update(t.id, { description: 'not subscribed' });
    await sim.stripe({ stripeAccount: 'acct_d' }).treasury.financialAccounts.create({
      supported_currencies: ['usd'],
    });
    await stripe.treasury.financialAccounts.create({ supported_currencies: ['usd'] });
    await sim.idle();
    expect(eventsOf(platformRx).map((e) => e.type)).toEqual(['transfer.created']);
    expect(eventsOf(connectRx).map((e) => e.type)).toEqual(['treasury.financial_account.created']);
    const delivered = connectRx.deliveries[0]!;
    expect(() =>
      Stripe.webhooks.constructEvent(
        delivered.body,
        delivered.headers['stripe-signature'] as string,
        connect.secret as string,
      ),
    ).not.toThrow();
    expect(() =>
      Stripe.webhooks.constructEvent(
        delivered.body,
        delivered.headers['stripe-signature'] as string,
        platform.secret as string,
      ),
    ).toThrow();
    // A disabled endpoint gets nothing more.
    await stripe.webhookEndpoints.update(platform.id, { disabled: true });
    await stripe.transfers.create({ amount: 1, currency: 'usd', destination: 'acct_d' });
    await sim.idle();
    expect(eventsOf(platformRx)).toHaveLength(1);
    const endpoints = (await admin('GET', '/webhook_endpoints')).body.data as Array<
      Record<string, unknown>
    >;
    expect(endpoints.map((e) => [e.id, e.connect, e.status])).toEqual([
      [platform.id, false, 'disabled'],
      [connect.id, true, 'enabled'],
    ]);
  });
});

describe('/v1/accounts through the SDK', () => {
  it('lists the connected accounts it knows, newest first, with auto-pagination', async () => {
    sim = await startSim();
    const stripe = sim.stripe();
    for (const d of ['acct_a', 'acct_b', 'acct_c']) {
      await stripe.transfers.create({ amount: 1, currency: 'usd', destination: d });
      await sim.advance(1_000);
    }
    await sim.stripe({ stripeAccount: 'acct_z' }).transfers.list();
    const all = await stripe.accounts.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(all.map((a) => a.id)).toEqual(['acct_z', 'acct_c', 'acct_b', 'acct_a']);
    expect(all[0]).toMatchObject({
      object: 'account',
      charges_enabled: true,
      payouts_enabled: true,
      details_submitted: true,
      type: 'custom',
    });
    const a = await stripe.accounts.retrieve('acct_b');
    expect(a.id).toBe('acct_b');
    expect(a.created).toBeLessThan(all[0]!.created as number);
    await expect(stripe.accounts.retrieve('acct_unknown')).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
    // A connected account cannot list the platform's accounts.
    await expect(sim.stripe({ stripeAccount: 'acct_a' }).accounts.list()).rejects.toMatchObject({
      type: 'StripePermissionError',
    });
  });
});

describe('a revoked or restricted key', () => {
  it('answers 401 when revoked and 403 when forbidden, through the admin toggle', async () => {
    sim = await startSim();
    const stripe = sim.stripe();
    expect((await admin('POST', '/api_key', { state: 'revoked' })).body).toEqual({
      state: 'revoked',
    });
    await expect(stripe.transfers.list()).rejects.toMatchObject({
      type: 'StripeAuthenticationError',
      statusCode: 401,
    });
    await admin('POST', '/api_key', { state: 'forbidden', paths: ['/v1/webhook_endpoints'] });
    await expect(stripe.webhookEndpoints.list()).rejects.toMatchObject({
      type: 'StripePermissionError',
      statusCode: 403,
    });
    await expect(stripe.transfers.list()).resolves.toMatchObject({ object: 'list' });
    expect((await admin('POST', '/api_key', { state: 'weird' })).status).toBe(400);
    sim.setApiKeyState({ state: 'active' });
    expect((await admin('GET', '/api_key')).body).toEqual({ state: 'active' });
    await expect(stripe.webhookEndpoints.list()).resolves.toMatchObject({ object: 'list' });
  });
});
