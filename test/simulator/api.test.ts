import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulator/index.js';
import { startSim } from './support.js';

let sim: Simulator;
beforeEach(async () => {
  sim = await startSim();
});
afterEach(() => sim.close());

const transfer = (
  s: Stripe,
  p: Partial<Stripe.TransferCreateParams> = {},
  o?: Stripe.RequestOptions,
) => s.transfers.create({ amount: 1000, currency: 'usd', destination: 'acct_seller1', ...p }, o);

describe('authentication and accounts', () => {
  it('rejects a wrong or missing key with StripeAuthenticationError', async () => {
    const bad = new Stripe('sk_test_wrong', {
      host: sim.host,
      port: sim.port,
      protocol: 'http',
      maxNetworkRetries: 0,
      telemetry: false,
    });
    await expect(bad.transfers.list()).rejects.toBeInstanceOf(
      Stripe.errors.StripeAuthenticationError,
    );
    const res = await fetch(`${sim.url}/v1/transfers`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe(
      'invalid_request_error',
    );
  });

  it('keeps objects per account (Stripe-Account header)', async () => {
    const connected = sim.stripe({ stripeAccount: 'acct_conn1' });
    const t = await transfer(connected);
    await expect(sim.stripe().transfers.retrieve(t.id)).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 404,
      code: 'resource_missing',
    });
    expect((await connected.transfers.retrieve(t.id)).id).toBe(t.id);
    const [ev] = (await connected.events.list()).data;
    expect(ev?.account).toBe('acct_conn1');
    expect((await sim.stripe().events.list()).data).toHaveLength(0);
    const platformEvent = (await sim.stripe().events.list({ limit: 1 })).data[0];
    expect(platformEvent).toBeUndefined();
    await transfer(sim.stripe());
    const [pev] = (await sim.stripe().events.list()).data;
    expect(pev && 'account' in pev).toBe(false);
  });

  it('answers unknown routes with a Stripe 404', async () => {
    const res = await fetch(`${sim.url}/v1/nothing`, {
      headers: { authorization: `Bearer ${sim.apiKey}` },
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /Unrecognized request URL/,
    );
  });
});

describe('idempotency', () => {
  it('replays the same response for the same key and params, without a second object', async () => {
    const s = sim.stripe();
    const a = await transfer(s, { metadata: { x: '1' } }, { idempotencyKey: 'k1' });
    const b = await transfer(s, { metadata: { x: '1' } }, { idempotencyKey: 'k1' });
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect((await s.transfers.list()).data).toHaveLength(1);
    expect((await s.events.list()).data).toHaveLength(1);
  });

  it('raises StripeIdempotencyError for the same key with other params', async () => {
    const s = sim.stripe();
    await transfer(s, { amount: 100 }, { idempotencyKey: 'k2' });
    const err = await transfer(s, { amount: 200 }, { idempotencyKey: 'k2' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
  });

  it('replays a business error too, but not a validation error', async () => {
    const s = sim.stripe();
    const t = await transfer(s, { amount: 100 });
    const over = () => s.transfers.createReversal(t.id, { amount: 500 }, { idempotencyKey: 'k3' });
    await expect(over()).rejects.toMatchObject({ code: 'amount_too_large' });
    await expect(over()).rejects.toMatchObject({ code: 'amount_too_large' });
    await expect(
      s.transfers.create(
        { currency: 'usd', destination: 'acct_1' } as Stripe.TransferCreateParams,
        {
          idempotencyKey: 'k4',
        },
      ),
    ).rejects.toMatchObject({ code: 'parameter_missing', param: 'amount' });
    const fixed = await s.transfers.create(
      { amount: 5, currency: 'usd', destination: 'acct_1' },
      { idempotencyKey: 'k4' },
    );
    expect(fixed.amount).toBe(5);
  });
});

describe('GET /v1/events', () => {
  it('filters by type wildcard, types[] and created; pages newest first', async () => {
    const s = sim.stripe();
    const t = await transfer(s);
    await sim.advance(60_000);
    await s.transfers.createReversal(t.id, { amount: 10 });
    await s.transfers.update(t.id, { metadata: { a: 'b' } });
    const all = await s.events.list();
    expect(all.data.map((e) => e.type)).toEqual([
      'transfer.updated',
      'transfer.reversed',
      'transfer.created',
    ]);
    expect(all.data.every((e) => e.id.startsWith('evt_') && e.livemode === false)).toBe(true);
    expect((await s.events.list({ type: 'transfer.*' })).data).toHaveLength(3);
    expect((await s.events.list({ type: '*.reversed' })).data.map((e) => e.type)).toEqual([
      'transfer.reversed',
    ]);
    expect(
      (await s.events.list({ types: ['transfer.created', 'transfer.updated'] })).data.map(
        (e) => e.type,
      ),
    ).toEqual(['transfer.updated', 'transfer.created']);
    const created = all.data[2]?.created as number;
    expect((await s.events.list({ created: { gt: created } })).data).toHaveLength(2);
    const paged: string[] = [];
    for await (const e of s.events.list({ limit: 1 })) paged.push(e.id);
    expect(paged).toEqual(all.data.map((e) => e.id));
    const one = await s.events.retrieve(all.data[0]?.id as string);
    expect(one.request).toMatchObject({ id: expect.stringMatching(/^req_/) });
    expect(one.created).toBe(Math.floor(sim.now() / 1000));
    await expect(s.events.list({ type: 'transfer.created', types: ['x'] })).rejects.toBeInstanceOf(
      Stripe.errors.StripeInvalidRequestError,
    );
  });

  it('only reaches back 30 days', async () => {
    const s = sim.stripe();
    await transfer(s);
    await sim.advanceDays(31);
    await transfer(s);
    expect((await s.events.list()).data).toHaveLength(1);
  });

  it('marks clock-driven events with a null request', async () => {
    const s = sim.stripe();
    const fa = await s.treasury.financialAccounts.create({ supported_currencies: ['usd'] });
    const rc = await s.testHelpers.treasury.receivedCredits.create({
      amount: 100,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    await s.treasury.creditReversals.create({ received_credit: rc.id }, { idempotencyKey: 'cr-1' });
    await sim.advanceDays(1);
    const [posted, created] = (await s.events.list({ type: 'treasury.credit_reversal.*' })).data;
    expect(posted?.request).toEqual({ id: null, idempotency_key: null });
    expect(created?.request?.idempotency_key).toBe('cr-1');
  });
});
