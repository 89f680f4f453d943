import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { applySnapshots } from '../../src/projections/apply.js';
import { STATUS_HISTORY_SQL } from '../../src/projections/writers.js';
import { type EventWorker, startEventWorker } from '../../src/projections/worker.js';
import { listDeadLetters, replayDeadLetters } from '../../src/queue/dead-letter.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import {
  TEST_OPERATOR_TOKEN,
  captureLog,
  injectEvent,
  makeEvent,
  stripeId,
  testConfig,
  type StripeEventEnvelope,
} from '../support/events.js';
import {
  creditReversal,
  debitReversal,
  receivedCredit,
  receivedDebit,
  transfer,
  transferReversal,
} from '../support/projection-objects.js';

/**
 * Every handled event type, end to end: signed POST to the real receiver → inbox → BullMQ →
 * projection worker → rows, asserted field by field against the event's object.
 */

let db: TestDatabase;
let sim: Simulator;
let rt: Runtime;
let app: FastifyInstance;
let worker: EventWorker;

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await createSimulator();
  const config = testConfig({
    DATABASE_URL: db.url,
    STRIPE_API_KEY: sim.apiKey,
    STRIPE_API_BASE: sim.url,
  });
  rt = createRuntime(config, captureLog('warn').log);
  app = await buildApp(rt);
  worker = startEventWorker(rt, {
    concurrency: 16,
    stripe: createStripeClient(config, { maxNetworkRetries: 0, timeoutMs: 5_000 }),
  });
});

afterAll(async () => {
  await worker?.close();
  await app?.close();
  await rt?.close();
  await sim?.close();
  await db?.close();
});

type Row = Record<string, unknown>;

async function inboxRow(id: string): Promise<Row | undefined> {
  return (await db.pool.query('SELECT * FROM stripe_events WHERE id = $1', [id])).rows[0];
}

async function deliver(ev: StripeEventEnvelope<object>, want = 'processed'): Promise<void> {
  const res = await injectEvent(app, ev);
  expect(res.statusCode, res.body).toBe(200);
  await waitFor(async () => (await inboxRow(ev.id))?.status === want, {
    what: `event ${ev.id} ${want}`,
  });
}

async function row(table: string, id: string): Promise<Row> {
  const r = (await db.pool.query(`SELECT * FROM ${table} WHERE id = $1`, [id])).rows[0];
  expect(r, `${table} ${id}`).toBeDefined();
  return r!;
}

async function history(id: string) {
  const { rows } = await db.pool.query(
    `SELECT from_status, to_status, to_status_raw, event_id, event_created
       FROM (${STATUS_HISTORY_SQL}) AS h WHERE object_id = $1 ORDER BY event_created, to_status`,
    [id],
  );
  return rows;
}

const snapshot = (ev: StripeEventEnvelope<object>) => ({
  snapshot_at: ev.created * 1000,
  snapshot_id: ev.id,
  raw: ev.data.object,
});

describe('transfer events', () => {
  it('transfer.created, transfer.reversed, transfer.updated project the transfer and its reversals', async () => {
    const tr = stripeId('tr');
    const account = stripeId('acct');
    const t0 = Math.floor(Date.now() / 1000) - 100;
    const created = makeEvent(
      'transfer.created',
      transfer({ id: tr, livemode: true, transfer_group: 'g1' }),
      {
        created: t0,
        account,
      },
    );
    await deliver(created);
    const o = created.data.object;
    expect(await row('transfers', tr)).toMatchObject({
      id: tr,
      account,
      livemode: true,
      amount: o.amount,
      amount_reversed: 0,
      currency: 'usd',
      destination: o.destination,
      destination_payment: o.destination_payment,
      source_transaction: null,
      source_type: 'card',
      transfer_group: 'g1',
      balance_transaction: o.balance_transaction,
      description: null,
      reversed: false,
      metadata: {},
      created: o.created,
      ...snapshot(created),
    });

    const r1 = transferReversal({
      id: stripeId('trr'),
      transfer: tr,
      amount: 400,
      metadata: { ledger_entry_id: 'le_1' },
    });
    const r2 = transferReversal({
      id: stripeId('trr'),
      transfer: tr,
      amount: 700,
      source_refund: 're_1',
    });
    const reversed = makeEvent(
      'transfer.reversed',
      transfer({ id: tr, livemode: true, transfer_group: 'g1', reversed: true }, [r2, r1]),
      { created: t0 + 10, account },
    );
    await deliver(reversed);
    expect(await row('transfers', tr)).toMatchObject({
      amount_reversed: 1100,
      reversed: true,
      ...snapshot(reversed),
    });
    for (const r of [r1, r2]) {
      expect(await row('transfer_reversals', r.id as string)).toMatchObject({
        id: r.id,
        transfer: tr,
        account,
        livemode: true, // the transfer's: reversals have none
        amount: r.amount,
        currency: 'usd',
        balance_transaction: null,
        destination_payment_refund: null,
        source_refund: r.source_refund,
        description: null,
        metadata: r.metadata,
        created: r.created,
        status: 'succeeded',
        snapshot_at: reversed.created * 1000,
        snapshot_id: reversed.id,
        raw: r,
      });
      expect(await history(r.id as string)).toEqual([
        {
          from_status: null,
          to_status: 'succeeded',
          to_status_raw: null,
          event_id: reversed.id,
          event_created: reversed.created,
        },
      ]);
    }

    // An older update delivered late: metadata stays newest, amount_reversed never shrinks.
    const staleUpdate = makeEvent(
      'transfer.updated',
      transfer({ id: tr, livemode: true, metadata: { old: '1' } }, [r1]),
      { created: t0 + 5, account },
    );
    await deliver(staleUpdate);
    expect(await row('transfers', tr)).toMatchObject({
      amount_reversed: 1100,
      reversed: true,
      metadata: {},
    });
    const update = makeEvent(
      'transfer.updated',
      transfer(
        { id: tr, livemode: true, transfer_group: 'g1', reversed: true, metadata: { k: 'v' } },
        [r2, r1],
      ),
      { created: t0 + 20, account },
    );
    await deliver(update);
    expect(await row('transfers', tr)).toMatchObject({
      metadata: { k: 'v' },
      amount_reversed: 1100,
      ...snapshot(update),
    });

    // The unit was marked in the reconcile outbox (one row however many events touched it), in
    // the projections' own transactions.
    const outbox = await db.pool.query(
      'SELECT unit_key FROM reconcile_outbox WHERE unit_key = $1',
      [tr],
    );
    expect(outbox.rows).toHaveLength(1);

    // The API serves the projection in Stripe's shape.
    const auth = { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` };
    const t = await app.inject({ method: 'GET', url: `/api/transfers/${tr}`, headers: auth });
    expect(t.statusCode, t.body).toBe(200);
    const tb = t.json();
    expect(tb).toMatchObject({
      id: tr,
      object: 'transfer',
      account,
      amount_reversed: 1100,
      reversed: true,
    });
    expect(tb.reversals.data.map((r: Row) => r.id).sort()).toEqual([r1.id, r2.id].sort());
    const rv = await app.inject({ method: 'GET', url: `/api/reversals/${r1.id}`, headers: auth });
    expect(rv.statusCode, rv.body).toBe(200);
    expect(rv.json()).toMatchObject({
      id: r1.id,
      object: 'transfer_reversal',
      amount: 400,
      transfer: tr,
      account,
      livemode: true,
      metadata: { ledger_entry_id: 'le_1' },
      normalized_status: 'succeeded',
      // First observed by the stale update (created earlier than transfer.reversed).
      status_history: [
        {
          from: null,
          to: 'succeeded',
          to_raw: null,
          event_id: staleUpdate.id,
          event_created: staleUpdate.created,
        },
      ],
    });
  });

  it('a transfer with more than 10 reversals (has_more) projects all of them, listed from the API', async () => {
    const stripe = sim.stripe();
    const t = await stripe.transfers.create({
      amount: 5_000,
      currency: 'usd',
      destination: 'acct_1HasMore',
    });
    for (let i = 0; i < 12; i++) {
      await stripe.transfers.createReversal(t.id, { amount: 100 + i, metadata: { n: String(i) } });
    }
    const snap = await stripe.transfers.retrieve(t.id);
    expect(snap.reversals.data).toHaveLength(10);
    expect(snap.reversals.has_more).toBe(true);
    const ev = makeEvent('transfer.reversed', snap);
    await deliver(ev);
    const { rows } = await db.pool.query(
      'SELECT id, amount, livemode, snapshot_id FROM transfer_reversals WHERE transfer = $1 ORDER BY amount',
      [t.id],
    );
    expect(rows.map((r) => r.amount)).toEqual(Array.from({ length: 12 }, (_, i) => 100 + i));
    expect(await row('transfers', t.id)).toMatchObject({ amount_reversed: snap.amount_reversed });
    // The two only the listing saw carry the listing's snapshot id.
    expect(
      rows.filter((r) => String(r.snapshot_id).startsWith('sweep:')).length,
    ).toBeGreaterThanOrEqual(2);
  });
});

describe('treasury events', () => {
  it('treasury.credit_reversal.created and .posted', async () => {
    const id = stripeId('credrev');
    const rc = stripeId('rc');
    const t0 = Math.floor(Date.now() / 1000) - 50;
    const created = makeEvent(
      'treasury.credit_reversal.created',
      creditReversal({ id, received_credit: rc }),
      { created: t0 },
    );
    const posted = makeEvent(
      'treasury.credit_reversal.posted',
      creditReversal({
        id,
        received_credit: rc,
        status: 'posted',
        status_transitions: { posted_at: t0 + 30 },
        metadata: { ledger_entry_id: 'le_c' },
      }),
      { created: t0 + 30 },
    );
    // Out of order on purpose: posted first, then the late created.
    await deliver(posted);
    await deliver(created);
    const o = posted.data.object;
    expect(await row('credit_reversals', id)).toMatchObject({
      id,
      account: null,
      livemode: false,
      amount: o.amount,
      currency: 'usd',
      financial_account: o.financial_account,
      received_credit: rc,
      network: 'ach',
      status_raw: 'posted',
      status: 'posted',
      status_rank: 3,
      posted_at: t0 + 30,
      transaction: o.transaction,
      hosted_regulatory_receipt_url: o.hosted_regulatory_receipt_url,
      metadata: { ledger_entry_id: 'le_c' },
      created: o.created,
      ...snapshot(posted),
    });
    expect(await history(id)).toEqual([
      {
        from_status: null,
        to_status: 'processing',
        to_status_raw: 'processing',
        event_id: created.id,
        event_created: t0,
      },
      {
        from_status: 'processing',
        to_status: 'posted',
        to_status_raw: 'posted',
        event_id: posted.id,
        event_created: t0 + 30,
      },
    ]);
    const res = await app.inject({
      method: 'GET',
      url: `/api/reversals/${id}`,
      headers: { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` },
    });
    expect(res.json()).toMatchObject({
      id,
      object: 'treasury.credit_reversal',
      status: 'posted',
      received_credit: rc,
      normalized_status: 'posted',
      account: null,
      status_history: [
        { from: null, to: 'processing', event_id: created.id },
        { from: 'processing', to: 'posted', to_raw: 'posted', event_id: posted.id },
      ],
    });
  });

  it('treasury.debit_reversal.created, .initial_credit_granted and .completed', async () => {
    const id = stripeId('debrev');
    const rd = stripeId('rd');
    const account = stripeId('acct');
    const t0 = Math.floor(Date.now() / 1000) - 50;
    const created = makeEvent(
      'treasury.debit_reversal.created',
      debitReversal({ id, received_debit: rd }),
      {
        created: t0,
        account,
      },
    );
    const granted = makeEvent(
      'treasury.debit_reversal.initial_credit_granted',
      debitReversal({ id, received_debit: rd, linked_flows: { issuing_dispute: 'idp_1' } }),
      { created: t0 + 5, account },
    );
    const completed = makeEvent(
      'treasury.debit_reversal.completed',
      debitReversal({
        id,
        received_debit: rd,
        status: 'failed',
        linked_flows: { issuing_dispute: 'idp_1' },
        status_transitions: { completed_at: t0 + 60 },
      }),
      { created: t0 + 60, account },
    );
    await deliver(completed);
    await deliver(granted);
    await deliver(created);
    const o = completed.data.object;
    expect(await row('debit_reversals', id)).toMatchObject({
      id,
      account,
      livemode: false,
      amount: o.amount,
      currency: 'usd',
      financial_account: o.financial_account,
      received_debit: rd,
      network: 'ach',
      status_raw: 'failed',
      resolution_raw: null,
      status: 'lost',
      status_rank: 3,
      completed_at: t0 + 60,
      transaction: null,
      issuing_dispute: 'idp_1',
      initial_credit_granted: true,
      hosted_regulatory_receipt_url: null,
      metadata: {},
      created: o.created,
      ...snapshot(completed),
    });
    expect((await history(id)).map((h) => [h.from_status, h.to_status, h.to_status_raw])).toEqual([
      [null, 'processing', 'processing'],
      ['processing', 'lost', 'failed'],
    ]);
  });

  it('treasury.received_credit.created, .succeeded and .failed; treasury.received_debit.created', async () => {
    const rc = stripeId('rc');
    const t0 = Math.floor(Date.now() / 1000) - 50;
    const created = makeEvent('treasury.received_credit.created', receivedCredit({ id: rc }), {
      created: t0,
    });
    await deliver(created);
    const succeeded = makeEvent(
      'treasury.received_credit.succeeded',
      receivedCredit({ id: rc, linked_flows: { credit_reversal: 'credrev_X' } }),
      { created: t0 + 1 },
    );
    await deliver(succeeded);
    const o = succeeded.data.object;
    expect(await row('received_credits', rc)).toMatchObject({
      id: rc,
      account: null,
      livemode: false,
      amount: o.amount,
      currency: 'usd',
      financial_account: o.financial_account,
      network: 'ach',
      status: 'succeeded',
      failure_code: null,
      description: 'Stripe Test',
      transaction: o.transaction,
      credit_reversal: 'credrev_X',
      reversal_deadline: 1_722_297_600,
      restricted_reason: null,
      created: o.created,
      ...snapshot(succeeded),
    });

    const rc2 = stripeId('rc');
    const failed = makeEvent(
      'treasury.received_credit.failed',
      receivedCredit({
        id: rc2,
        status: 'failed',
        failure_code: 'account_closed',
        transaction: null,
      }),
    );
    await deliver(failed);
    expect(await row('received_credits', rc2)).toMatchObject({
      status: 'failed',
      failure_code: 'account_closed',
      transaction: null,
    });

    const rd = stripeId('rd');
    const rdEv = makeEvent(
      'treasury.received_debit.created',
      receivedDebit({
        id: rd,
        reversal_details: { deadline: null, restricted_reason: 'network_restricted' },
      }),
      { account: 'acct_1Treasury' },
    );
    await deliver(rdEv);
    const d = rdEv.data.object;
    expect(await row('received_debits', rd)).toMatchObject({
      id: rd,
      account: 'acct_1Treasury',
      livemode: false,
      amount: d.amount,
      currency: 'usd',
      financial_account: d.financial_account,
      network: 'ach',
      status: 'succeeded',
      failure_code: null,
      description: 'Stripe Test',
      transaction: d.transaction,
      debit_reversal: null,
      reversal_deadline: null,
      restricted_reason: 'network_restricted',
      created: d.created,
      ...snapshot(rdEv),
    });
  });
});

describe('sweep snapshots', () => {
  it('applySnapshots uses the same rules: a newer listing wins, an older one cannot undo', async () => {
    const id = stripeId('credrev');
    const rc = stripeId('rc');
    const t0 = Math.floor(Date.now() / 1000) - 100;
    await deliver(
      makeEvent('treasury.credit_reversal.created', creditReversal({ id, received_credit: rc }), {
        created: t0,
      }),
    );
    // No event exists for a canceled CreditReversal: only the sweep can see it.
    const canceled = await applySnapshots(
      db.pool,
      [{ object: creditReversal({ id, received_credit: rc, status: 'canceled' }), account: null }],
      { source: 'sweep', runId: 'run1', fetchedAtMs: (t0 + 50) * 1000 },
    );
    expect(canceled.touchedUnits).toEqual([{ kind: 'credit_reversal', key: rc }]);
    expect(await row('credit_reversals', id)).toMatchObject({
      status: 'canceled',
      status_raw: 'canceled',
      snapshot_id: 'sweep:run1',
      snapshot_at: (t0 + 50) * 1000,
    });
    // A stale listing (fetched before the cancel) changes nothing.
    await applySnapshots(
      db.pool,
      [
        {
          object: creditReversal({ id, received_credit: rc, status: 'processing' }),
          account: null,
        },
      ],
      { source: 'sweep', runId: 'run0', fetchedAtMs: (t0 + 10) * 1000 },
    );
    expect(await row('credit_reversals', id)).toMatchObject({
      status: 'canceled',
      snapshot_id: 'sweep:run1',
    });
    expect((await history(id)).map((h) => [h.from_status, h.to_status, h.event_id])).toEqual([
      [null, 'processing', expect.stringMatching(/^evt_/)],
      ['processing', 'canceled', 'sweep:run1'],
    ]);
  });
});

describe('failures and the API edges', () => {
  it('a malformed object is poison: failed set at once, inbox row failed, replayable', async () => {
    const bad = makeEvent('treasury.credit_reversal.created', {
      ...creditReversal({ id: stripeId('credrev') }),
      amount: 'lots',
    });
    const res = await injectEvent(app, bad);
    expect(res.statusCode).toBe(200);
    await waitFor(async () => (await inboxRow(bad.id))?.status === 'failed', {
      what: 'poison marked failed',
    });
    expect(String((await inboxRow(bad.id))!.last_error)).toMatch(/amount must be an integer/);
    const dead = await waitFor(async () => {
      const all = await listDeadLetters(rt);
      return all.find((d) => d.ref === bad.id);
    });
    expect(dead).toMatchObject({ queue: 'stripe-events', attemptsMade: 1 });
    const replay = await replayDeadLetters(rt);
    expect(replay.replayed).toBeGreaterThanOrEqual(1);
  });

  it('a job whose inbox row is gone is dead-lettered with the reason', async () => {
    const ghost = makeEvent(
      'treasury.credit_reversal.created',
      creditReversal({ id: stripeId('credrev') }),
    );
    // Jobs name their inbox row; the body is read from there.
    await rt.queues.events.add(
      ghost.type,
      { id: ghost.id, type: ghost.type, account: null },
      { jobId: ghost.id },
    );
    const dead = await waitFor(async () =>
      (await listDeadLetters(rt)).find((d) => d.ref === ghost.id),
    );
    expect(dead.failedReason).toMatch(/no inbox row/);
    expect(dead.attemptsMade).toBe(1);
  });

  it('400 for a malformed id, 404 for an unknown one', async () => {
    const headers = { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` };
    const bad = await app.inject({ method: 'GET', url: '/api/reversals/ch_123', headers });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.type).toBe('invalid_request_error');
    const missing = await app.inject({ method: 'GET', url: '/api/reversals/debrev_nope', headers });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatchObject({
      type: 'invalid_request_error',
      code: 'resource_missing',
    });
    expect(
      (await app.inject({ method: 'GET', url: '/api/transfers/tr_nope', headers })).statusCode,
    ).toBe(404);
    expect(
      (await app.inject({ method: 'GET', url: '/api/transfers/trr_1', headers })).statusCode,
    ).toBe(400);
  });
});
