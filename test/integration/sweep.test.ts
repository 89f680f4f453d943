import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventWorker, type EventWorker } from '../../src/projections/worker.js';
import { HANDLED_EVENT_TYPES } from '../../src/domain/event-types.js';
import { startReconcileWorker, type ReconcileWorker } from '../../src/reconciliation/worker.js';
import { ReportBody } from '../../src/reports/schema.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { recoverEvents } from '../../src/sweep/recover.js';
import { startSweepWorker, type SweepWorker } from '../../src/sweep/worker.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { TEST_WEBHOOK_SECRET, buildTestApp, makeEvent, testConfig } from '../support/events.js';

/**
 * The whole pipeline with a lossy webhook channel: the simulator drops 20% of deliveries; a sweep
 * (started through the API, run by the sweep worker) lists everything, recovers the missing events
 * from GET /v1/events, and reports how many it recovered. A second sweep changes nothing.
 */

const CONNECTED = 'acct_1SweepConnected';
const AUTH = { authorization: 'Bearer op_test_token_0123456789abcdef' };
const DAY = 86_400_000;

let sim: Simulator;
let db: TestDatabase;
let rt: Runtime;
let app: FastifyInstance;
let events: EventWorker;
let reconcile: ReconcileWorker;
let sweeper: SweepWorker;

async function seed(s: Simulator): Promise<void> {
  const platform = s.stripe();
  for (let i = 0; i < 15; i++) {
    const tr = await platform.transfers.create({
      amount: 20_000 + i,
      currency: 'usd',
      destination: CONNECTED,
    });
    const n = i === 0 ? 13 : i % 3;
    for (let j = 0; j < n; j++) await platform.transfers.createReversal(tr.id, { amount: 50 + j });
  }
  const conn = s.stripe({ stripeAccount: CONNECTED });
  const fa = await conn.treasury.financialAccounts.create({
    supported_currencies: ['usd'],
    features: {},
  });
  for (let i = 0; i < 10; i++) {
    const rc = await conn.testHelpers.treasury.receivedCredits.create({
      amount: 1_000 + i,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    if (i % 2 === 0) await conn.treasury.creditReversals.create({ received_credit: rc.id });
    const rd = await conn.testHelpers.treasury.receivedDebits.create({
      amount: 700 + i,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    if (i % 3 === 0)
      await conn.treasury.debitReversals.create({
        received_debit: rd.id,
        metadata: i === 3 ? { sim_outcome: 'lost' } : {},
      });
  }
  await s.advanceDays(4);
}

async function allSimIds(): Promise<Record<string, string[]>> {
  const p = sim.stripe();
  const c = sim.stripe({ stripeAccount: CONNECTED });
  const ids = async (it: AsyncIterable<{ id: string }>) => {
    const out: string[] = [];
    for await (const x of it) out.push(x.id);
    return out.sort();
  };
  const transfers = await ids(p.transfers.list({ limit: 100 }));
  const reversals: string[] = [];
  for (const t of transfers)
    reversals.push(...(await ids(p.transfers.listReversals(t, { limit: 100 }))));
  const [fa] = (await c.treasury.financialAccounts.list()).data;
  const f = { financial_account: fa!.id, limit: 100 };
  return {
    transfers,
    transfer_reversals: reversals.sort(),
    received_credits: await ids(c.treasury.receivedCredits.list(f)),
    received_debits: await ids(c.treasury.receivedDebits.list(f)),
    credit_reversals: await ids(c.treasury.creditReversals.list(f)),
    debit_reversals: await ids(c.treasury.debitReversals.list(f)),
  };
}

async function projectedIds(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of [
    'transfers',
    'transfer_reversals',
    'received_credits',
    'received_debits',
    'credit_reversals',
    'debit_reversals',
  ]) {
    out[t] = (await rt.pool.query<{ id: string }>(`SELECT id FROM ${t} ORDER BY id`)).rows.map(
      (r) => r.id,
    );
  }
  return out;
}

async function projections(): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of [
    'transfers',
    'transfer_reversals',
    'received_credits',
    'received_debits',
    'credit_reversals',
    'debit_reversals',
    'status_history',
  ]) {
    const { rows } = await rt.pool.query(
      `SELECT * FROM ${t} ORDER BY ${t === 'status_history' ? 'object_id, to_status' : 'id'}`,
    );
    out[t] = rows.map((r: Record<string, unknown>) => {
      const {
        snapshot_at: _a,
        snapshot_id: _b,
        updated_at: _c,
        status_snapshot_at: _d,
        status_snapshot_id: _e,
        raw: _f,
        recorded_at: _g,
        id: _h,
        ...rest
      } = r;
      return t === 'status_history' ? rest : { id: r.id, ...rest };
    });
  }
  return out;
}

async function simEventIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const s of [sim.stripe(), sim.stripe({ stripeAccount: CONNECTED })]) {
    for await (const e of s.events.list({ limit: 100, types: [...HANDLED_EVENT_TYPES] }))
      ids.push(e.id);
  }
  return ids.sort();
}

async function sweepViaApi(): Promise<{ id: string; events_recovered: number; report_id: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/reconcile',
    headers: AUTH,
    payload: {},
  });
  expect(res.statusCode).toBe(202);
  const run = res.json<{ id: string; status: string }>();
  // One at a time: asking again while it is active answers with the same run.
  const again = await app.inject({
    method: 'POST',
    url: '/api/reconcile',
    headers: AUTH,
    payload: {},
  });
  if (again.json<{ status: string }>().status !== 'completed')
    expect(again.json<{ id: string }>().id).toBe(run.id);
  return waitFor(
    async () => {
      const r = await app.inject({
        method: 'GET',
        url: `/api/reconcile/runs/${run.id}`,
        headers: AUTH,
      });
      const body = r.json<{
        id: string;
        status: string;
        progress: { events_recovered: number };
        report_id: string;
        error: string | null;
      }>();
      if (body.status === 'failed') throw new Error(`sweep failed: ${body.error}`);
      return body.status === 'completed'
        ? {
            id: body.id,
            events_recovered: body.progress.events_recovered,
            report_id: body.report_id,
          }
        : null;
    },
    { timeoutMs: 60_000, what: 'the sweep to complete' },
  );
}

async function latestReport(): Promise<ReportBody> {
  const res = await app.inject({
    method: 'GET',
    url: '/api/reports/latest?format=json',
    headers: AUTH,
  });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return ReportBody.parse(res.json());
}

beforeAll(async () => {
  sim = await createSimulator({
    seed: 2026,
    startTime: Date.now() - 10 * DAY,
    webhook: { maxAttempts: 1 },
  });
  db = await createTestDatabase();
  rt = createRuntime(
    testConfig({
      DATABASE_URL: db.url,
      STRIPE_API_KEY: sim.apiKey,
      STRIPE_API_BASE: sim.url,
      RECON_GRACE_PERIOD: '0s',
      RECON_SWEEP_RATE_LIMIT: '1000',
      ALERT_LOG: 'false',
    }),
  );
  app = await buildTestApp(rt);
  await app.listen({ port: 0, host: '127.0.0.1' });
  events = startEventWorker(rt, { concurrency: 8 });
  reconcile = startReconcileWorker(rt, { concurrency: 8 });
  sweeper = await startSweepWorker(rt, { cron: null });
  sim.addWebhookEndpoint({
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/webhooks/stripe`,
    secret: TEST_WEBHOOK_SECRET,
  });
  sim.setChaos({ dropRate: 0.2 });
  await seed(sim);
  await sim.idle();
  await waitFor(
    async () =>
      (await rt.pool.query(`SELECT 1 FROM stripe_events WHERE status = 'pending'`)).rowCount === 0,
    { what: 'delivered events to be projected' },
  );
});

afterAll(async () => {
  await sweeper?.close();
  await events?.close();
  await reconcile?.close();
  await app?.close();
  await rt?.queues.events.obliterate({ force: true }).catch(() => {});
  await rt?.close();
  await db?.close();
  await sim?.close();
});

describe('sweep over a lossy webhook channel', () => {
  let missing: string[];
  let firstReport: ReportBody;

  it('recovers the dropped events and projects every object', async () => {
    expect(sim.stats().dropped).toBeGreaterThan(0);
    const inbox = new Set(
      (await rt.pool.query<{ id: string }>('SELECT id FROM stripe_events')).rows.map((r) => r.id),
    );
    missing = (await simEventIds()).filter((id) => !inbox.has(id));
    expect(missing.length).toBeGreaterThan(0);

    const run = await sweepViaApi();
    expect(await projectedIds()).toEqual(await allSimIds());
    expect(run.events_recovered).toBe(missing.length);

    const swept = await rt.pool.query<{ id: string; status: string }>(
      `SELECT id, status FROM stripe_events WHERE source = 'sweep' ORDER BY id`,
    );
    expect(swept.rows.map((r) => r.id)).toEqual([...missing].sort());
    expect(new Set(swept.rows.map((r) => r.status))).toEqual(new Set(['processed']));

    firstReport = await latestReport();
    expect(firstReport).toMatchObject({
      id: run.report_id,
      sweep_run_id: run.id,
      previous_report: null,
    });
    expect(firstReport.totals.events_recovered).toBe(missing.length);
    expect(firstReport.totals.objects_fetched).toBeGreaterThanOrEqual(
      Object.values(await allSimIds()).flat().length,
    );
    expect(firstReport.totals.open).toBeGreaterThan(0); // nothing is in the ledger: every reversal is missing_in_ledger
    expect(firstReport.totals.new).toBe(firstReport.totals.open);
    expect(firstReport.open_by_kind.reversal_lost).toBe(1);
  });

  it('a second sweep changes nothing', async () => {
    const before = await projections();
    const mm = async () =>
      (
        await rt.pool.query(
          'SELECT id, fingerprint, status, severity, first_seen_at, message FROM mismatches ORDER BY id',
        )
      ).rows;
    const mismatchesBefore = await mm();

    const run = await sweepViaApi();
    expect(run.events_recovered).toBe(0);
    expect(await projections()).toEqual(before);
    expect(await mm()).toEqual(mismatchesBefore);

    const report = await latestReport();
    expect(report.previous_report?.id).toBe(firstReport.id);
    expect(report.totals).toMatchObject({
      new: 0,
      resolved: 0,
      events_recovered: 0,
      open: firstReport.totals.open,
    });
    expect(report.history.map((h) => h.open)).toEqual([
      firstReport.totals.open,
      firstReport.totals.open,
    ]);
  });

  it('stores fetched events only if the inbox would admit them from a webhook', async () => {
    const good = makeEvent('charge.refunded', { id: 'ch_sweep_1' });
    const badId = makeEvent('charge.refunded', { id: 'ch_sweep_2' }, { id: 'evt_bad:colon' });
    const badAccount = { ...makeEvent('charge.refunded', { id: 'ch_sweep_3' }), account: 'x' };
    const fetched = [good, badId, badAccount] as unknown as Stripe.Event[];
    const r = await recoverEvents(rt, sim.stripe(), fetched, null, 'sweep');
    expect(r.recovered).toBe(1);
    expect(r.refused.map((x) => x.id).sort()).toEqual([badAccount.id, badId.id].sort());
    const rows = await rt.pool.query<{ id: string; status: string }>(
      'SELECT id, status FROM stripe_events WHERE id = ANY($1) ORDER BY id',
      [[good.id, badId.id, badAccount.id]],
    );
    expect(rows.rows).toEqual([{ id: good.id, status: 'ignored' }]);
  });
});
