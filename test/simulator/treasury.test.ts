import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulator/index.js';
import { startSim, treasuryFixture } from './support.js';

let sim: Simulator;
afterEach(() => sim.close());

const ids = (l: { data: Array<{ id: string }> }) => l.data.map((x) => x.id);

describe('credit reversals', () => {
  it('reverses a whole received credit, links it, and posts after N days', async () => {
    sim = await startSim({ rules: { creditReversalPostAfterDays: 2 } });
    const { stripe, fa } = await treasuryFixture(sim);
    const rc = await stripe.testHelpers.treasury.receivedCredits.create({
      amount: 1234,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    expect(rc.id).toMatch(/^rc_/);
    expect(rc.reversal_details).toMatchObject({ restricted_reason: null });
    const cr = await stripe.treasury.creditReversals.create({
      received_credit: rc.id,
      metadata: { ledger: 'L1' },
    });
    expect(cr).toMatchObject({
      amount: 1234,
      status: 'processing',
      financial_account: fa.id,
      network: 'ach',
    });
    expect(cr.id).toMatch(/^credrev_/);
    expect(cr.transaction).toMatch(/^trxn_/);
    const linked = await stripe.treasury.receivedCredits.retrieve(rc.id);
    expect(linked.linked_flows.credit_reversal).toBe(cr.id);
    expect(linked.reversal_details?.restricted_reason).toBe('already_reversed');

    await expect(
      stripe.treasury.creditReversals.create({ received_credit: rc.id }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);

    await sim.advanceDays(1);
    expect((await stripe.treasury.creditReversals.retrieve(cr.id)).status).toBe('processing');
    await sim.advanceDays(1);
    const posted = await stripe.treasury.creditReversals.retrieve(cr.id);
    expect(posted.status).toBe('posted');
    expect(posted.status_transitions.posted_at).toBe(Math.floor(sim.now() / 1000));
    const types = (await stripe.events.list()).data.map((e) => e.type);
    expect(types.slice(0, 2)).toEqual([
      'treasury.credit_reversal.posted',
      'treasury.credit_reversal.created',
    ]);
    const fa2 = await stripe.treasury.financialAccounts.retrieve(fa.id);
    expect(fa2.balance).toEqual({
      cash: { usd: 0 },
      inbound_pending: { usd: 0 },
      outbound_pending: { usd: 0 },
    });
  });

  it('filters lists by status and received_credit; stuck and canceled follow the fate', async () => {
    sim = await startSim();
    const { stripe, fa } = await treasuryFixture(sim);
    const credit = () =>
      stripe.testHelpers.treasury.receivedCredits.create({
        amount: 100,
        currency: 'usd',
        financial_account: fa.id,
        network: 'ach',
      });
    const [a, b, c] = [await credit(), await credit(), await credit()];
    const normal = await stripe.treasury.creditReversals.create({ received_credit: a.id });
    const stuck = await stripe.treasury.creditReversals.create({
      received_credit: b.id,
      metadata: { sim_outcome: 'stuck' },
    });
    const canceled = await stripe.treasury.creditReversals.create({
      received_credit: c.id,
      metadata: { sim_outcome: 'canceled' },
    });
    await sim.advanceDays(30);
    const list = (status?: 'posted' | 'processing' | 'canceled') =>
      stripe.treasury.creditReversals.list({
        financial_account: fa.id,
        ...(status ? { status } : {}),
      });
    expect(ids(await list('posted'))).toEqual([normal.id]);
    expect(ids(await list('processing'))).toEqual([stuck.id]);
    expect(ids(await list('canceled'))).toEqual([canceled.id]);
    expect(ids(await list())).toEqual([canceled.id, stuck.id, normal.id]);
    expect(
      ids(
        await stripe.treasury.creditReversals.list({
          financial_account: fa.id,
          received_credit: b.id,
        }),
      ),
    ).toEqual([stuck.id]);
    // Stripe has no canceled event for credit reversals.
    const events = await stripe.events.list({ type: 'treasury.credit_reversal.*', limit: 100 });
    expect(
      events.data
        .filter((e) => (e.data.object as { id: string }).id === canceled.id)
        .map((e) => e.type),
    ).toEqual(['treasury.credit_reversal.created']);
    // financial_account is required.
    await expect(
      stripe.treasury.creditReversals.list({} as Stripe.Treasury.CreditReversalListParams),
    ).rejects.toMatchObject({ code: 'parameter_missing', param: 'financial_account' });
  });

  it('refuses wires (network_restricted) and credits past their deadline', async () => {
    sim = await startSim();
    const { stripe, fa } = await treasuryFixture(sim);
    const wire = await stripe.testHelpers.treasury.receivedCredits.create({
      amount: 100,
      currency: 'usd',
      financial_account: fa.id,
      network: 'us_domestic_wire',
    });
    expect(wire.reversal_details?.restricted_reason).toBe('network_restricted');
    await expect(
      stripe.treasury.creditReversals.create({ received_credit: wire.id }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    const ach = await stripe.testHelpers.treasury.receivedCredits.create({
      amount: 100,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    await sim.advanceDays(6);
    expect(
      (await stripe.treasury.receivedCredits.retrieve(ach.id)).reversal_details?.restricted_reason,
    ).toBe('deadline_passed');
    await expect(
      stripe.treasury.creditReversals.create({ received_credit: ach.id }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  });
});

describe('debit reversals', () => {
  it('completes won or lost per the rule; list filters agree with the object statuses', async () => {
    sim = await startSim({
      rules: { debitReversalOutcome: (dr) => (dr.amount === 666 ? 'lost' : 'won') },
    });
    const { stripe, fa } = await treasuryFixture(sim);
    const debit = (amount: number) =>
      stripe.testHelpers.treasury.receivedDebits.create({
        amount,
        currency: 'usd',
        financial_account: fa.id,
        network: 'ach',
      });
    const rdWon = await debit(100);
    const rdLost = await debit(666);
    const rdStuck = await debit(300);
    const won = await stripe.treasury.debitReversals.create({ received_debit: rdWon.id });
    const lost = await stripe.treasury.debitReversals.create({ received_debit: rdLost.id });
    const stuck = await stripe.treasury.debitReversals.create({
      received_debit: rdStuck.id,
      metadata: { sim_outcome: 'stuck' },
    });
    expect(won).toMatchObject({ status: 'processing', transaction: null, network: 'ach' });
    expect(won.id).toMatch(/^debrev_/);
    expect(
      (await stripe.treasury.receivedDebits.retrieve(rdWon.id)).linked_flows.debit_reversal,
    ).toBe(won.id);
    await expect(
      stripe.treasury.debitReversals.create({ received_debit: rdWon.id }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);

    await sim.advanceDays(2);
    expect((await stripe.treasury.debitReversals.retrieve(won.id)).status).toBe('processing');
    await sim.advanceDays(1);
    const w = await stripe.treasury.debitReversals.retrieve(won.id);
    const l = await stripe.treasury.debitReversals.retrieve(lost.id);
    expect(w.status).toBe('succeeded');
    expect(w.transaction).toMatch(/^trxn_/);
    expect(w.status_transitions.completed_at).toBe(Math.floor(sim.now() / 1000));
    expect(l).toMatchObject({ status: 'failed', transaction: null });
    expect((await stripe.treasury.debitReversals.retrieve(stuck.id)).status).toBe('processing');

    const list = (p: Partial<Stripe.Treasury.DebitReversalListParams>) =>
      stripe.treasury.debitReversals.list({ financial_account: fa.id, ...p }).then(ids);
    expect(await list({ status: 'completed' })).toEqual([lost.id, won.id]);
    expect(await list({ status: 'completed', resolution: 'won' })).toEqual([won.id]);
    expect(await list({ resolution: 'lost' })).toEqual([lost.id]);
    expect(await list({ status: 'processing' })).toEqual([stuck.id]);
    expect(await list({ received_debit: rdLost.id })).toEqual([lost.id]);

    const completed = await stripe.events.list({ type: 'treasury.debit_reversal.completed' });
    expect(
      completed.data.map((e) => (e.data.object as Stripe.Treasury.DebitReversal).status).sort(),
    ).toEqual(['failed', 'succeeded']);
  });

  it('grants an initial credit on card debits and by metadata; cancels silently', async () => {
    sim = await startSim();
    const { stripe, fa } = await treasuryFixture(sim);
    const card = await stripe.testHelpers.treasury.receivedDebits.create({
      amount: 500,
      currency: 'usd',
      financial_account: fa.id,
      network: 'card' as 'ach',
    });
    const ach = await stripe.testHelpers.treasury.receivedDebits.create({
      amount: 200,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    const viaCard = await stripe.treasury.debitReversals.create({ received_debit: card.id });
    expect(viaCard.network).toBe('card');
    const canceled = await stripe.treasury.debitReversals.create({
      received_debit: ach.id,
      metadata: { sim_outcome: 'canceled', sim_initial_credit: 'true' },
    });
    const granted = await stripe.events.list({
      type: 'treasury.debit_reversal.initial_credit_granted',
    });
    expect(granted.data.map((e) => (e.data.object as { id: string }).id)).toEqual([
      canceled.id,
      viaCard.id,
    ]);
    await sim.advanceDays(3);
    expect((await stripe.treasury.debitReversals.retrieve(canceled.id)).status).toBe('canceled');
    expect(
      ids(
        await stripe.treasury.debitReversals.list({ financial_account: fa.id, status: 'canceled' }),
      ),
    ).toEqual([canceled.id]);
    const completed = await stripe.events.list({ type: 'treasury.debit_reversal.completed' });
    expect(completed.data.map((e) => (e.data.object as { id: string }).id)).toEqual([viaCard.id]);
    // -500 -200 debits, +500 provisional then kept (won); the canceled one's credit is clawed back.
    expect((await stripe.treasury.financialAccounts.retrieve(fa.id)).balance.cash).toEqual({
      usd: -200,
    });
  });
});

describe('financial accounts', () => {
  it('are listed per account so a sweep can enumerate them', async () => {
    sim = await startSim();
    const platform = await treasuryFixture(sim);
    const other = await treasuryFixture(sim, 'acct_treasury1');
    const second = await other.stripe.treasury.financialAccounts.create({
      supported_currencies: ['usd'],
    });
    expect(ids(await platform.stripe.treasury.financialAccounts.list())).toEqual([platform.fa.id]);
    const all: string[] = [];
    for await (const f of other.stripe.treasury.financialAccounts.list({ limit: 1 }))
      all.push(f.id);
    expect(all).toEqual([second.id, other.fa.id]);
    await expect(
      platform.stripe.treasury.financialAccounts.retrieve(other.fa.id),
    ).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
  });
});
