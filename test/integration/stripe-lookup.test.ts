import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateLedgerEntry, type LedgerEntryInput } from '../../src/ledger/schema.js';
import { upsertLedgerEntries } from '../../src/ledger/store.js';
import {
  runLookupBatch,
  startStripeLookupWorker,
  type LookupBatchResult,
} from '../../src/reconciliation/stripe-lookup.js';
import { startReconcileWorker, type ReconcileWorker } from '../../src/reconciliation/worker.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { TokenBucket } from '../../src/stripe/rate-limit.js';
import { runSweep } from '../../src/sweep/start.js';
import { createSweepStripeClient } from '../../src/stripe/client.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { reconcileIdle as outboxIdle } from '../support/db.js';
import { testConfig } from '../support/events.js';

/**
 * Confirm before raising, end to end: ledger entries through the same write path as the API,
 * the real reconcile worker, and lookups through the real `stripe` SDK against the simulator.
 * No webhook endpoint is registered: every Stripe object here is one whose webhook was lost.
 */

const DAY = 86_400_000;
const ACCOUNT = 'acct_1LookupSeller0001';
let sim: Simulator;
let db: TestDatabase;
let rt: Runtime;
let recon: ReconcileWorker;
let stripe: Stripe;
let requests: Array<{ at: number; path: string }> = [];

/** Treasury objects on the seller's account, and a transfer on the platform. */
let rc: Stripe.Treasury.ReceivedCredit;
let cr: Stripe.Treasury.CreditReversal;
let tr: Stripe.Transfer;
let trr: Stripe.TransferReversal;
let rc2: Stripe.Treasury.ReceivedCredit;
let cr2: Stripe.Treasury.CreditReversal;
let tr2: Stripe.Transfer;
let trr2: Stripe.TransferReversal;
let tr3: Stripe.Transfer;
let trr3: Stripe.TransferReversal;

beforeAll(async () => {
  sim = await createSimulator({ seed: 1212, startTime: Date.now() - 3 * DAY });
  db = await createTestDatabase();
  rt = createRuntime(
    testConfig({
      DATABASE_URL: db.url,
      STRIPE_API_KEY: sim.apiKey,
      STRIPE_API_BASE: sim.url,
      RECON_LOOKUP_RATE_LIMIT: '500',
    }),
  );
  recon = startReconcileWorker(rt, { concurrency: 8 });
  stripe = createSweepStripeClient(rt.config, {
    bucket: new TokenBucket(500),
    onRequest: (_method, path) => requests.push({ at: performance.now(), path }),
  });

  const seller = sim.stripe({ stripeAccount: ACCOUNT });
  const fa = await seller.treasury.financialAccounts.create({
    supported_currencies: ['usd'],
    features: {},
  });
  const credit = () =>
    seller.testHelpers.treasury.receivedCredits.create({
      financial_account: fa.id,
      amount: 4_200,
      currency: 'usd',
      network: 'ach',
    });
  rc = await credit();
  cr = await seller.treasury.creditReversals.create({ received_credit: rc.id });
  rc2 = await credit();
  cr2 = await seller.treasury.creditReversals.create({ received_credit: rc2.id });
  const platform = sim.stripe();
  tr = await platform.transfers.create({ amount: 9_000, currency: 'usd', destination: ACCOUNT });
  trr = await platform.transfers.createReversal(tr.id, { amount: 1_500 });
  tr2 = await platform.transfers.create({ amount: 5_000, currency: 'usd', destination: ACCOUNT });
  trr2 = await platform.transfers.createReversal(tr2.id, { amount: 700 });
  tr3 = await platform.transfers.create({ amount: 3_000, currency: 'usd', destination: ACCOUNT });
  trr3 = await platform.transfers.createReversal(tr3.id, { amount: 300 });
});

afterAll(async () => {
  await recon?.close();
  await rt?.queues.reconcile.obliterate({ force: true }).catch(() => {});
  await rt?.close();
  await sim?.close();
  await db?.close();
});

function entry(raw: Record<string, unknown>): LedgerEntryInput {
  const v = validateLedgerEntry({ currency: 'usd', ...raw });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.entry;
}

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

const reconcileIdle = () => outboxIdle(rt);

async function openFor(entryIds: string[]) {
  const { rows } = await rt.pool.query<{ fingerprint: string; message: string; kind: string }>(
    `SELECT fingerprint, message, kind FROM mismatches
      WHERE status = 'open'
        AND (ledger_entry_id = ANY($1::text[]) OR (actual -> 'ledger_entry_ids') ?| $1::text[])
      ORDER BY fingerprint`,
    [entryIds],
  );
  return rows;
}

/** Posts entries (as the API does), lets the reconciler run, then answers every due lookup. */
async function postThenLookUp(entries: LedgerEntryInput[]) {
  await upsertLedgerEntries(rt, entries, 'api');
  await waitFor(reconcileIdle, { what: 'reconciled after the post' });
  const before = await openFor(entries.map((e) => e.id));
  const batches: LookupBatchResult[] = [];
  for (;;) {
    const r = await runLookupBatch(rt, stripe, { batchSize: 50 });
    if (r.claimed === 0) break;
    batches.push(r);
  }
  await waitFor(reconcileIdle, { what: 'reconciled after the lookups' });
  return { before, batches, after: await openFor(entries.map((e) => e.id)) };
}

describe('confirm before raising', () => {
  it.each([
    {
      name: 'entry older than grace for an unknown id: raised after the 404, not before',
      entries: () => [
        entry({
          id: 'le_unknown',
          kind: 'credit_reversal',
          stripe_id: 'credrev_1NeverExisted0001',
          parent_id: rc.id,
          amount: 4_200,
          account: ACCOUNT,
          occurred_at: ago(2 * DAY),
        }),
      ],
      asked: 1,
      want: () => ['missing_in_stripe:credrev_1NeverExisted0001:le_unknown'],
      confirmed: true,
    },
    {
      name: 'entry inside grace: not looked up, not raised',
      entries: () => [
        entry({
          id: 'le_fresh',
          kind: 'credit_reversal',
          stripe_id: 'credrev_1NeverExisted0002',
          parent_id: rc.id,
          amount: 4_200,
          account: ACCOUNT,
          occurred_at: ago(60_000),
        }),
      ],
      asked: 0,
      want: () => [],
    },
    {
      name: 'object found on lookup (lost webhook): projected, matched, no mismatch',
      entries: () => [
        entry({
          id: 'le_found',
          kind: 'credit_reversal',
          stripe_id: cr.id,
          parent_id: rc.id,
          amount: cr.amount,
          expected_status: 'processing',
          account: ACCOUNT,
          occurred_at: ago(2 * DAY),
        }),
      ],
      asked: 1,
      want: () => [],
      projected: () => cr.id,
    },
    {
      name: 'platform transfer reversal booked with its destination account: found on the platform',
      entries: () => [
        entry({
          id: 'le_dest',
          kind: 'transfer_reversal',
          stripe_id: trr3.id,
          parent_id: tr3.id,
          amount: trr3.amount,
          account: ACCOUNT,
          occurred_at: ago(2 * DAY),
        }),
      ],
      asked: 1,
      want: () => [],
      projected: () => trr3.id,
    },
    {
      name: 'entry naming only a parent (with its destination account): its reversals are looked up and matched',
      entries: () => [
        entry({
          id: 'le_parent',
          kind: 'transfer_reversal',
          parent_id: tr.id,
          amount: trr.amount,
          account: ACCOUNT,
          occurred_at: new Date(trr.created * 1000).toISOString(),
        }),
      ],
      asked: 1,
      want: () => [],
      projected: () => trr.id,
    },
    {
      name: 'entry naming only a parent that has no such reversal: raised after the lookup',
      entries: () => [
        entry({
          id: 'le_orphan',
          kind: 'credit_reversal',
          parent_id: rc2.id,
          amount: 99,
          account: ACCOUNT,
          occurred_at: ago(2 * DAY),
        }),
      ],
      asked: 1,
      want: () => ['missing_in_stripe:-:le_orphan'],
      confirmed: true,
      projected: () => cr2.id,
    },
    {
      name: 'two old entries on one reversal: one duplicate_match at once',
      entries: () =>
        ['le_dup1', 'le_dup2'].map((id) =>
          entry({
            id,
            kind: 'transfer_reversal',
            stripe_id: trr2.id,
            parent_id: tr2.id,
            amount: trr2.amount,
            occurred_at: ago(20 * DAY),
          }),
        ),
      asked: 1,
      want: () => [`duplicate_match:${trr2.id}:-`],
    },
  ])('$name', async ({ entries, asked, want, confirmed, projected }) => {
    requests = [];
    const r = await postThenLookUp(entries());
    expect(r.before).toEqual([]);
    expect(r.batches.reduce((n, b) => n + b.claimed, 0)).toBe(asked);
    expect(r.after.map((m) => m.fingerprint)).toEqual(want());
    if (confirmed) expect(r.after[0]!.message).toMatch(/confirmed absent in Stripe at \d{4}-/);
    if (projected) {
      const id = projected();
      const { rowCount } = await rt.pool.query(
        `SELECT 1 FROM transfer_reversals WHERE id = $1 UNION ALL SELECT 1 FROM credit_reversals WHERE id = $1`,
        [id],
      );
      expect(rowCount).toBe(1);
    }
  });

  it('Stripe unreachable: nothing raised, the lookup is retried later and then answered', async () => {
    const down = createStripeClient(
      { STRIPE_API_KEY: sim.apiKey, STRIPE_API_BASE: 'http://127.0.0.1:9' },
      { maxNetworkRetries: 0, timeoutMs: 2_000 },
    );
    const entries = [
      entry({
        id: 'le_down_missing',
        kind: 'debit_reversal',
        stripe_id: 'debrev_1NeverExisted0003',
        parent_id: 'rd_1NeverExisted0003',
        amount: 300,
        occurred_at: ago(DAY),
      }),
    ];
    await upsertLedgerEntries(rt, entries, 'api');
    await waitFor(reconcileIdle, { what: 'reconciled after the post' });
    const failed = await runLookupBatch(rt, down);
    expect(failed).toMatchObject({ claimed: 1, retried: 1, absent: 0, found: 0 });
    await waitFor(reconcileIdle, { what: 'reconciled' });
    expect(await openFor(['le_down_missing'])).toEqual([]);
    const row = (
      await rt.pool.query<{ status: string; attempts: number; last_error: string; due_at: Date }>(
        `SELECT status, attempts, last_error, due_at FROM stripe_lookups WHERE target = 'debrev_1NeverExisted0003'`,
      )
    ).rows[0]!;
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    expect(row.last_error).toBeTruthy();
    expect(row.due_at.getTime()).toBeGreaterThan(Date.now());
    // Not due yet: the backoff holds it back.
    expect((await runLookupBatch(rt, stripe)).claimed).toBe(0);
    // Once due, Stripe is asked again and its 404 raises the mismatch.
    const later = { ...rt, clock: () => Date.now() + 60_000 };
    expect(await runLookupBatch(later, stripe)).toMatchObject({ claimed: 1, absent: 1 });
    await waitFor(async () => (await openFor(['le_down_missing'])).length === 1, {
      what: 'missing_in_stripe after the retry',
    });
  });

  it('after a completed sweep, an entry whose Stripe id the listing lacked is missing without a lookup', async () => {
    const e = entry({
      id: 'le_swept',
      kind: 'transfer_reversal',
      stripe_id: 'trr_1NeverExisted0004',
      parent_id: tr.id,
      amount: 1_000,
      occurred_at: ago(DAY),
    });
    await upsertLedgerEntries(rt, [e], 'api');
    await waitFor(reconcileIdle, { what: 'reconciled after the post' });
    expect(await openFor(['le_swept'])).toEqual([]);
    requests = [];
    const run = await runSweep(rt, { trigger: 'cli', stripe });
    expect(run.status).toBe('completed');
    // The sweep listed everything (here: the platform, whose entry this is); nobody asked for the
    // id itself. An entry on an account the sweep did not list would wait for its lookup.
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.some((r) => r.path.includes('trr_1NeverExisted0004'))).toBe(false);
    const open = await openFor(['le_swept']);
    expect(open.map((m) => m.fingerprint)).toEqual([
      'missing_in_stripe:trr_1NeverExisted0004:le_swept',
    ]);
    expect(open[0]!.message).toContain('confirmed absent in Stripe at');
  });

  it('bulk import of 5,000 entries: the import only schedules; lookups run in rate-limited batches', async () => {
    const N = 5_000;
    const RATE = 500;
    const entries = Array.from({ length: N }, (_, i) =>
      entry({
        id: `le_bulk_${String(i).padStart(5, '0')}`,
        kind: 'credit_reversal',
        stripe_id: `credrev_1Bulk${String(i).padStart(11, '0')}`,
        parent_id: 'rc_1BulkParent0000001',
        amount: 100 + i,
        occurred_at: ago(2 * DAY),
      }),
    );
    requests = [];
    const batches: LookupBatchResult[] = [];
    const bulkStripe = createSweepStripeClient(rt.config, {
      bucket: new TokenBucket(RATE),
      onRequest: (_m, path) => requests.push({ at: performance.now(), path }),
    });
    const worker = startStripeLookupWorker(rt, {
      stripe: bulkStripe,
      pollMs: 50,
      batchSize: 100,
      onBatch: (r) => batches.push(r),
    });
    try {
      // The import is a database write and reconcile jobs: no Stripe call is on its path.
      const out = await upsertLedgerEntries(rt, entries, 'api');
      expect(out.results.every((r) => r.result === 'created')).toBe(true);
      expect(requests.length).toBe(0);
      await waitFor(
        async () =>
          (
            await rt.pool.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM mismatches WHERE status = 'open' AND ledger_entry_id LIKE 'le_bulk_%'`,
            )
          ).rows[0]!.n === N,
        { what: 'every bulk entry confirmed missing', timeoutMs: 120_000, intervalMs: 250 },
      );
    } finally {
      await worker.close();
    }
    // One GET per distinct id, in batches of at most 100, never faster than the bucket allows.
    // (the SDK may retry a request the busy simulator dropped: count distinct ids.)
    const asked = requests.filter((r) => r.path.includes('credrev_1Bulk')).map((r) => r.path);
    expect(new Set(asked).size).toBe(N);
    expect(batches.every((b) => b.claimed <= 100)).toBe(true);
    expect(batches.reduce((n, b) => n + b.absent, 0)).toBe(N);
    const span = (requests.at(-1)!.at - requests[0]!.at) / 1000;
    expect(span).toBeGreaterThanOrEqual((N - RATE) / RATE - 0.5);
  });
});
