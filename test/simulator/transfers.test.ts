import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulator/index.js';
import { startSim } from './support.js';

let sim: Simulator;
let stripe: Stripe;
beforeEach(async () => {
  sim = await startSim();
  stripe = sim.stripe();
});
afterEach(() => sim.close());

const newTransfer = (amount = 1000, extra: Partial<Stripe.TransferCreateParams> = {}) =>
  stripe.transfers.create({ amount, currency: 'usd', destination: 'acct_seller1', ...extra });

describe('transfer reversals', () => {
  it('partial reversals grow amount_reversed; reversed only when fully reversed', async () => {
    const t = await newTransfer(1000);
    expect(t.id).toMatch(/^tr_/);
    expect(t.destination_payment).toMatch(/^py_/);
    const r1 = await stripe.transfers.createReversal(t.id, { amount: 400 });
    expect(r1).toMatchObject({
      object: 'transfer_reversal',
      amount: 400,
      transfer: t.id,
      currency: 'usd',
    });
    expect(r1.id).toMatch(/^trr_/);
    expect(r1.destination_payment_refund).toMatch(/^pyr_/);
    let after = await stripe.transfers.retrieve(t.id);
    expect(after).toMatchObject({ amount_reversed: 400, reversed: false });
    // Amount defaults to what remains.
    const r2 = await stripe.transfers.createReversal(t.id);
    expect(r2.amount).toBe(600);
    after = await stripe.transfers.retrieve(t.id);
    expect(after).toMatchObject({ amount_reversed: 1000, reversed: true });
    expect(after.reversals.data.map((r) => r.id)).toEqual([r2.id, r1.id]);
  });

  it('rejects reversing more than remains', async () => {
    const t = await newTransfer(1000);
    await stripe.transfers.createReversal(t.id, { amount: 700 });
    const err = await stripe.transfers
      .createReversal(t.id, { amount: 301 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, param: 'amount', code: 'amount_too_large' });
    expect((await stripe.transfers.retrieve(t.id)).amount_reversed).toBe(700);
  });

  it('rejects reversing a fully reversed transfer', async () => {
    const t = await newTransfer(500);
    await stripe.transfers.createReversal(t.id);
    await expect(stripe.transfers.createReversal(t.id, { amount: 1 })).rejects.toBeInstanceOf(
      Stripe.errors.StripeInvalidRequestError,
    );
  });

  it('rejects a non-positive amount and an unknown transfer', async () => {
    const t = await newTransfer(500);
    await expect(stripe.transfers.createReversal(t.id, { amount: 0 })).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      param: 'amount',
    });
    await expect(stripe.transfers.createReversal('tr_missing')).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
  });

  it('embeds the 10 most recent reversals and auto-paginates the rest', async () => {
    const t = await newTransfer(10_000);
    const created: string[] = [];
    for (let i = 0; i < 25; i++)
      created.push((await stripe.transfers.createReversal(t.id, { amount: 10 })).id);
    const got = await stripe.transfers.retrieve(t.id);
    expect(got.reversals.data).toHaveLength(10);
    expect(got.reversals.has_more).toBe(true);
    expect(got.reversals.url).toBe(`/v1/transfers/${t.id}/reversals`);
    expect(got.reversals.data.map((r) => r.id)).toEqual(created.slice(-10).reverse());
    const all: string[] = [];
    for await (const r of stripe.transfers.listReversals(t.id, { limit: 7 })) all.push(r.id);
    expect(all).toEqual([...created].reverse());
    // Backwards from the oldest with ending_before.
    const oldest = created[0] as string;
    const newer = await stripe.transfers.listReversals(t.id, { ending_before: oldest, limit: 3 });
    expect(newer.data.map((r) => r.id)).toEqual(created.slice(1, 4).reverse());
    expect(newer.has_more).toBe(true);
  });

  it('updates only metadata and description; empty values unset', async () => {
    const t = await newTransfer(1000);
    const r = await stripe.transfers.createReversal(t.id, {
      amount: 100,
      metadata: { a: '1', b: '2' },
    });
    const u1 = await stripe.transfers.updateReversal(t.id, r.id, { metadata: { a: '', c: '3' } });
    expect(u1.metadata).toEqual({ b: '2', c: '3' });
    const u2 = await stripe.transfers.updateReversal(t.id, r.id, { metadata: '' });
    expect(u2.metadata).toEqual({});
    const err = await stripe.transfers
      .updateReversal(t.id, r.id, { amount: 5 } as unknown as Stripe.TransferUpdateReversalParams)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ code: 'parameter_unknown', param: 'amount' });
    const again = await stripe.transfers.retrieveReversal(t.id, r.id);
    expect(again.amount).toBe(100);
  });

  it('transfer update emits transfer.updated with previous_attributes', async () => {
    const t = await newTransfer(1000, { metadata: { k: 'old' }, description: 'first' });
    await stripe.transfers.update(t.id, { metadata: { k: 'new', n: '1' }, description: 'second' });
    const [ev] = (await stripe.events.list({ type: 'transfer.updated' })).data;
    expect(ev?.data.object).toMatchObject({
      id: t.id,
      description: 'second',
      metadata: { k: 'new', n: '1' },
    });
    expect(ev?.data.previous_attributes).toEqual({
      description: 'first',
      metadata: { k: 'old', n: null },
    });
  });

  it('transfer.reversed carries the Transfer', async () => {
    const t = await newTransfer(1000);
    await stripe.transfers.createReversal(t.id, { amount: 250 });
    const [ev] = (await stripe.events.list({ type: 'transfer.reversed' })).data;
    expect(ev?.data.object).toMatchObject({
      object: 'transfer',
      id: t.id,
      amount_reversed: 250,
      reversed: false,
    });
  });

  it('lists transfers with destination, transfer_group and created filters', async () => {
    const a = await newTransfer(100, { transfer_group: 'g1' });
    await sim.advance(10_000);
    const b = await newTransfer(200, { destination: 'acct_other' });
    const c = await newTransfer(300, { transfer_group: 'g1' });
    expect((await stripe.transfers.list()).data.map((t) => t.id)).toEqual([c.id, b.id, a.id]);
    expect(
      (await stripe.transfers.list({ destination: 'acct_other' })).data.map((t) => t.id),
    ).toEqual([b.id]);
    expect((await stripe.transfers.list({ transfer_group: 'g1' })).data.map((t) => t.id)).toEqual([
      c.id,
      a.id,
    ]);
    expect(
      (await stripe.transfers.list({ created: { gt: a.created } })).data.map((t) => t.id),
    ).toEqual([c.id, b.id]);
    expect((await stripe.transfers.list({ created: a.created })).data.map((t) => t.id)).toEqual([
      a.id,
    ]);
    await expect(stripe.transfers.list({ limit: 101 })).rejects.toBeInstanceOf(
      Stripe.errors.StripeInvalidRequestError,
    );
  });
});
