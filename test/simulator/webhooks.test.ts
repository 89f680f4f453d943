import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulator/index.js';
import { eventsOf, SECRET, startReceiver, startSim, type Receiver } from './support.js';

let sim: Simulator;
let receiver: Receiver;
afterEach(async () => {
  await sim.close();
  await receiver.close();
});

async function makeTransfers(n: number): Promise<string[]> {
  const s = sim.stripe();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      (await s.transfers.create({ amount: 100 + i, currency: 'usd', destination: 'acct_x' })).id,
    );
  }
  return ids;
}

describe('webhook delivery', () => {
  it('signs each delivery so stripe.webhooks.constructEvent verifies it', async () => {
    sim = await startSim();
    receiver = await startReceiver();
    sim.addWebhookEndpoint({ url: receiver.url, secret: SECRET });
    const [id] = await makeTransfers(1);
    await sim.idle();
    expect(receiver.deliveries).toHaveLength(1);
    const d = receiver.deliveries[0] as (typeof receiver.deliveries)[number];
    const event = sim
      .stripe()
      .webhooks.constructEvent(d.body, d.headers['stripe-signature'] as string, SECRET);
    expect(event.type).toBe('transfer.created');
    expect((event.data.object as Stripe.Transfer).id).toBe(id);
    // Simulated time in the event, real time in the signature.
    expect(event.created).toBe(Math.floor(sim.now() / 1000));
    expect(event.pending_webhooks).toBe(1);
    expect(() =>
      sim
        .stripe()
        .webhooks.constructEvent(d.body, d.headers['stripe-signature'] as string, 'whsec_other'),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError);
    expect(sim.stats()).toMatchObject({
      eventsCreated: 1,
      deliveriesAttempted: 1,
      deliveriesSucceeded: 1,
    });
    // Delivered: pending_webhooks counts down.
    expect((await sim.stripe().events.retrieve(event.id)).pending_webhooks).toBe(0);
  });

  it('retries non-2xx with backoff until it succeeds', async () => {
    sim = await startSim({ webhook: { retryBaseMs: 5 } });
    receiver = await startReceiver((n) => (n < 2 ? 500 : 200));
    sim.addWebhookEndpoint({ url: receiver.url, secret: SECRET });
    await makeTransfers(1);
    await sim.idle();
    expect(receiver.deliveries.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(new Set(receiver.deliveries.map((d) => d.body)).size).toBe(1);
    expect(sim.stats()).toMatchObject({
      deliveriesAttempted: 3,
      deliveriesSucceeded: 1,
      failedPermanently: 0,
    });
  });

  it('gives up after maxAttempts and counts failedPermanently; delivery_success=false finds it', async () => {
    sim = await startSim({ webhook: { retryBaseMs: 1, maxAttempts: 3 } });
    receiver = await startReceiver(() => 503);
    sim.addWebhookEndpoint({ url: receiver.url, secret: SECRET });
    await makeTransfers(2);
    await sim.idle();
    expect(receiver.deliveries).toHaveLength(6);
    expect(sim.stats()).toMatchObject({
      deliveriesAttempted: 6,
      deliveriesSucceeded: 0,
      failedPermanently: 2,
    });
    const pending = await sim.stripe().events.list({ delivery_success: false });
    expect(pending.data).toHaveLength(2);
  });

  it('treats an unreachable endpoint as a failure', async () => {
    sim = await startSim({ webhook: { retryBaseMs: 1, maxAttempts: 2 } });
    receiver = await startReceiver();
    sim.addWebhookEndpoint({ url: 'http://127.0.0.1:1/nowhere', secret: SECRET });
    await makeTransfers(1);
    await sim.idle();
    expect(sim.stats()).toMatchObject({ deliveriesAttempted: 2, failedPermanently: 1 });
  });

  it('treats a slow endpoint (past timeoutMs) as a failure', async () => {
    sim = await startSim({ webhook: { retryBaseMs: 1, maxAttempts: 2, timeoutMs: 50 } });
    const hanging = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    receiver = await startReceiver();
    sim.addWebhookEndpoint({
      url: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/`,
      secret: SECRET,
    });
    await makeTransfers(1);
    await sim.idle();
    hanging.closeAllConnections();
    hanging.close();
    expect(sim.stats()).toMatchObject({
      deliveriesAttempted: 2,
      deliveriesSucceeded: 0,
      failedPermanently: 1,
    });
  });

  it('delivers in order by default', async () => {
    sim = await startSim();
    receiver = await startReceiver();
    sim.addWebhookEndpoint({ url: receiver.url, secret: SECRET });
    const ids = await makeTransfers(8);
    await sim.idle();
    expect(eventsOf(receiver).map((e) => e.data.object.id)).toEqual(ids);
  });
});

describe('chaos', () => {
  it('drops events: they stay in /v1/events but are never delivered', async () => {
    sim = await startSim({ seed: 7 });
    receiver = await startReceiver();
    sim.addWebhookEndpoint({ url: receiver.url, secret: SECRET });
    sim.setChaos({ dropRate: 0.5 });
    const ids = await makeTransfers(40);
    await sim.idle();
    const { dropped } = sim.stats();
    expect(dropped).toBeGreaterThan(5);
    expect(dropped).toBeLessThan(35);
    expect(receiver.deliveries).toHaveLength(40 - dropped);
    expect((await sim.stripe().events.list({ limit: 100 })).data).toHaveLength(40);
    const delivered = new Set(eventsOf(receiver).map((e) => e.data.object.id));
    expect(ids.filter((id) => !delivered.has(id))).toHaveLength(dropped);
  });

  it('duplicates events with the same id', async () => {
    sim = await startSim({ seed: 7 });
    receiver = await startReceiver();
    sim.addWebhookEndpoint({ url: receiver.url, secret: SECRET });
    sim.setChaos({ duplicateRate: 1 });
    await makeTransfers(3);
    await sim.idle();
    const got = eventsOf(receiver).map((e) => e.id);
    expect(got).toHaveLength(6);
    expect(new Set(got).size).toBe(3);
    expect(sim.stats().duplicated).toBe(3);
  });

  it('reorders within a window, deterministically for a seed', async () => {
    const run = async () => {
      sim = await startSim({ seed: 11 });
      receiver = await startReceiver();
      sim.addWebhookEndpoint({ url: receiver.url, secret: SECRET });
      sim.setChaos({ reorderWindow: 5 });
      const ids = await makeTransfers(10);
      await sim.idle();
      const got = eventsOf(receiver).map((e) => e.data.object.id);
      await sim.close();
      await receiver.close();
      return { ids, got };
    };
    const first = await run();
    expect([...first.got].sort()).toEqual([...first.ids].sort());
    expect(first.got).not.toEqual(first.ids);
    // Each window of 5 is shuffled within itself.
    expect(new Set(first.got.slice(0, 5))).toEqual(new Set(first.ids.slice(0, 5)));
    const second = await run();
    expect(second.got.map((id) => first.ids.indexOf(id))).toEqual(
      first.got.map((id) => first.ids.indexOf(id)),
    );
    // afterEach closes again; make that harmless.
    sim = await startSim();
    receiver = await startReceiver();
  });

  it('flushes a partly filled reorder window on idle()', async () => {
    sim = await startSim();
    receiver = await startReceiver();
    sim.addWebhookEndpoint({ url: receiver.url, secret: SECRET });
    sim.setChaos({ reorderWindow: 50, delayMs: 2 });
    await makeTransfers(3);
    await sim.idle();
    expect(receiver.deliveries).toHaveLength(3);
  });

  it('delivers Treasury transitions driven by the clock', async () => {
    sim = await startSim();
    receiver = await startReceiver();
    sim.addWebhookEndpoint({ url: receiver.url, secret: SECRET });
    const s = sim.stripe({ stripeAccount: 'acct_t1' });
    const fa = await s.treasury.financialAccounts.create({ supported_currencies: ['usd'] });
    const rd = await s.testHelpers.treasury.receivedDebits.create({
      amount: 100,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    const dr = await s.treasury.debitReversals.create({
      received_debit: rd.id,
      metadata: { sim_outcome: 'lost' },
    });
    await sim.advanceDays(3);
    await sim.idle();
    const events = eventsOf(receiver) as unknown as Stripe.Event[];
    expect(events.map((e) => e.type)).toEqual([
      'treasury.financial_account.created',
      'treasury.received_debit.created',
      'treasury.debit_reversal.created',
      'treasury.debit_reversal.completed',
    ]);
    const done = events[3] as Stripe.Event;
    expect(done.account).toBe('acct_t1');
    expect(done.data.object).toMatchObject({ id: dr.id, status: 'failed', transaction: null });
  });
});
