import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateLedgerEntry, type LedgerEntryInput } from '../../src/ledger/schema.js';
import { upsertLedgerEntries } from '../../src/ledger/store.js';
import { loadUnits } from '../../src/reconciliation/load.js';
import { recordLookups } from '../../src/reconciliation/lookup-store.js';
import type { MismatchChanges } from '../../src/reconciliation/persist.js';
import { persistMismatches } from '../../src/reconciliation/persist.js';
import { allUnitKeys, reconcileAll } from '../../src/reconciliation/reconcile-all.js';
import { reconcileUnits } from '../../src/reconciliation/reconcile-units.js';
import { startReconcileWorker, type ReconcileWorker } from '../../src/reconciliation/worker.js';
import { waitFor } from '../support/db.js';
import {
  createTestRuntime,
  insertCreditReversal,
  insertTransfer,
  insertTransferReversal,
} from '../unit/ledger/support.js';

let t: Awaited<ReturnType<typeof createTestRuntime>>;
let worker: ReconcileWorker;
const changes: MismatchChanges[] = [];
const NOW = Date.now();
const HOUR = 3_600_000;

beforeAll(async () => {
  t = await createTestRuntime();
  worker = startReconcileWorker(t.rt, { concurrency: 4, onChanges: (c) => void changes.push(c) });
});
afterAll(async () => {
  await worker?.close();
  await t?.close();
});

function entry(raw: Record<string, unknown>): LedgerEntryInput {
  const v = validateLedgerEntry({ currency: 'usd', ...raw });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.entry;
}

interface Row {
  id: string;
  fingerprint: string;
  status: string;
  severity: string;
  reopened_count: number;
  resolved_at: Date | null;
  resolution_reason: string | null;
  first_seen_at: Date;
  last_seen_at: Date;
}
const rowsOf = async (unit: string) =>
  (
    await t.rt.pool.query<Row>(
      'SELECT * FROM mismatches WHERE unit_key = $1 ORDER BY fingerprint',
      [unit],
    )
  ).rows;

describe('loadUnits', () => {
  it('builds units from projections and the ledger, an entry joining its projected reversal’s unit', async () => {
    await insertTransfer(t.rt.pool, {
      id: 'tr_L1',
      amount: 5_000,
      amountReversed: 1_500,
      createdMs: NOW - HOUR,
    });
    await insertTransferReversal(t.rt.pool, {
      id: 'trr_L1',
      transfer: 'tr_L1',
      amount: 1_000,
      createdMs: NOW - HOUR,
    });
    await insertTransferReversal(t.rt.pool, {
      id: 'trr_L2',
      transfer: 'tr_L1',
      amount: 500,
      createdMs: NOW - HOUR,
      metadata: { ledger_entry_id: 'le_L2' },
    });
    await upsertLedgerEntries(
      t.rt,
      [
        entry({
          id: 'le_L1',
          kind: 'transfer_reversal',
          stripe_id: 'trr_L1',
          parent_id: 'tr_WRONG',
          amount: 1_000,
        }),
        entry({ id: 'le_L2', kind: 'transfer_reversal', parent_id: 'tr_L1', amount: 500 }),
        entry({ id: 'le_L3', kind: 'transfer_reversal', stripe_id: 'trr_L9', amount: 70 }),
      ],
      'api',
    );
    const units = await loadUnits(t.rt, ['tr_L1', 'tr_WRONG', 'trr_L9', 'trr_L1']);
    const byKey = new Map(units.map((u) => [u.key, u]));
    expect(byKey.get('tr_L1')).toMatchObject({
      kind: 'transfer_reversal',
      transfer: { id: 'tr_L1', amount: 5_000, amountReversed: 1_500 },
    });
    expect(
      byKey
        .get('tr_L1')!
        .reversals.map((r) => r.id)
        .sort(),
    ).toEqual(['trr_L1', 'trr_L2']);
    expect(
      byKey
        .get('tr_L1')!
        .ledger.map((e) => e.id)
        .sort(),
    ).toEqual(['le_L1', 'le_L2']);
    expect(byKey.get('tr_WRONG')!.ledger).toEqual([]);
    expect(byKey.get('trr_L9')!.ledger.map((e) => e.id)).toEqual(['le_L3']);
    // A reversal id that is projected is not a unit of its own any more.
    expect(byKey.get('trr_L1')).toMatchObject({ reversals: [], ledger: [] });

    expect(await allUnitKeys(t.rt)).toEqual(expect.arrayContaining(['tr_L1', 'trr_L9']));
    expect(await allUnitKeys(t.rt)).not.toContain('tr_WRONG');
  });
});

describe('LEDGER_SQL_VIEW source', () => {
  it('reads the platform’s own table through a view, columns mapped by name', async () => {
    await t.rt.pool.query(`CREATE SCHEMA platform;
      CREATE TABLE platform.refunds (ref text, type text, stripe_ref text, parent text, cents bigint,
        ccy text, state text, booked timestamptz, changed timestamptz);
      INSERT INTO platform.refunds VALUES
        ('pl_1', 'credit_reversal', 'credrev_V1', 'rc_V1', 400, 'USD', 'succeeded_not_a_word', now(), now()),
        ('pl_2', 'credit_reversal', NULL, 'rc_V1', 600, 'usd', 'posted', '2026-11-20T10:00:00Z', NULL);
      CREATE VIEW platform.ledger AS SELECT ref AS id, type AS kind, stripe_ref AS stripe_id,
        parent AS parent_id, cents AS amount, ccy AS currency, state AS expected_status,
        booked AS occurred_at, changed AS updated_at FROM platform.refunds;`);
    const viewRt = { ...t.rt, config: { ...t.rt.config, LEDGER_SQL_VIEW: 'platform.ledger' } };
    const [unit] = await loadUnits(viewRt, ['rc_V1']);
    // pl_1 has an unknown status word: skipped (with a warning), never guessed at.
    expect(unit!.ledger).toEqual([
      {
        id: 'pl_2',
        kind: 'credit_reversal',
        stripeId: null,
        parentId: 'rc_V1',
        amount: 600,
        currency: 'usd',
        expectedStatus: 'posted',
        account: null,
        occurredAtMs: Date.parse('2026-11-20T10:00:00Z'),
        metadata: {},
        updatedAtMs: Date.parse('2026-11-20T10:00:00Z'),
        // Parent-only and never looked up in Stripe.
        absentConfirmedAtMs: null,
      },
    ]);
    expect(await allUnitKeys(viewRt)).toContain('rc_V1');
  });
});

describe('persistMismatches', () => {
  const m = (over: Record<string, unknown> = {}) => ({
    fingerprint: 'amount_mismatch:credrev_P:le_P',
    kind: 'amount_mismatch' as const,
    severity: 'medium' as const,
    objectType: 'credit_reversal' as const,
    objectId: 'credrev_P',
    ledgerEntryId: 'le_P',
    account: null,
    currency: 'usd',
    amountAtRisk: 100,
    expected: { amount: 1 },
    actual: { amount: 2 },
    message: 'x',
    ...over,
  });

  it('opens, updates, escalates, resolves and reopens by fingerprint', async () => {
    const a = await persistMismatches(t.rt, ['rc_P'], [m()], NOW);
    expect(a.opened.map((o) => [o.row.fingerprint, o.reopened])).toEqual([
      ['amount_mismatch:credrev_P:le_P', false],
    ]);
    expect(a.opened[0]!.row.id).toMatch(/^mm_[0-9a-f]{24}$/);

    const b = await persistMismatches(t.rt, ['rc_P'], [m({ message: 'y' })], NOW + 1_000);
    expect(b).toEqual({ opened: [], escalated: [], resolved: [] });
    const c = await persistMismatches(t.rt, ['rc_P'], [m({ severity: 'high' })], NOW + 2_000);
    expect(c.escalated.map((e) => [e.row.severity, e.previousSeverity])).toEqual([
      ['high', 'medium'],
    ]);

    const [row] = await rowsOf('rc_P');
    expect(row).toMatchObject({ status: 'open', severity: 'high', reopened_count: 0 });
    expect(row!.first_seen_at.getTime()).toBe(NOW);
    expect(row!.last_seen_at.getTime()).toBe(NOW + 2_000);

    const d = await persistMismatches(t.rt, ['rc_P'], [], NOW + 3_000);
    expect(d.resolved.map((r) => r.fingerprint)).toEqual(['amount_mismatch:credrev_P:le_P']);
    expect((await rowsOf('rc_P'))[0]).toMatchObject({
      status: 'resolved',
      resolved_at: new Date(NOW + 3_000),
      resolution_reason: 'no longer detected: ledger and Stripe agree',
    });

    const e = await persistMismatches(t.rt, ['rc_P'], [m()], NOW + 4_000);
    expect(e.opened.map((o) => o.reopened)).toEqual([true]);
    expect((await rowsOf('rc_P'))[0]).toMatchObject({
      id: row!.id,
      status: 'open',
      reopened_count: 1,
      resolved_at: null,
    });
  });

  it('needs a unit per mismatch when several units are persisted', async () => {
    await expect(persistMismatches(t.rt, ['rc_A', 'rc_B'], [m()], NOW)).rejects.toThrow(
      /no unitKey/,
    );
  });
});

describe('reconcile worker', () => {
  it('flags, updates, resolves on a corrected ledger entry, and reopens', async () => {
    await insertCreditReversal(t.rt.pool, {
      id: 'credrev_W1',
      receivedCredit: 'rc_W1',
      amount: 2_500,
      status: 'posted',
      createdMs: NOW - HOUR,
    });
    await t.rt.queues.reconcile.add('reconcile', { kind: 'credit_reversal', key: 'rc_W1' });
    await waitFor(async () => (await rowsOf('rc_W1')).length === 1, { what: 'missing_in_ledger' });
    expect((await rowsOf('rc_W1'))[0]).toMatchObject({
      fingerprint: 'missing_in_ledger:credrev_W1:-',
      status: 'open',
    });

    // A ledger entry with the wrong amount: missing_in_ledger resolves, amount_mismatch opens.
    await upsertLedgerEntries(
      t.rt,
      [
        entry({
          id: 'le_W1',
          kind: 'credit_reversal',
          stripe_id: 'credrev_W1',
          parent_id: 'rc_W1',
          amount: 2_000,
          expected_status: 'posted',
        }),
      ],
      'api',
    );
    await waitFor(
      async () => {
        const rows = await rowsOf('rc_W1');
        return (
          rows.find((r) => r.fingerprint === 'amount_mismatch:credrev_W1:le_W1')?.status ===
            'open' &&
          rows.find((r) => r.fingerprint === 'missing_in_ledger:credrev_W1:-')?.status ===
            'resolved'
        );
      },
      { what: 'amount_mismatch open' },
    );
    const resolvedMissing = (await rowsOf('rc_W1')).find((r) =>
      r.fingerprint.startsWith('missing_in_ledger'),
    )!;
    expect(resolvedMissing.resolution_reason).toMatch(/ledger now has a matching entry/);

    // Seen again (a reconcile of the same unit): one row, last_seen_at moves.
    const before = (await rowsOf('rc_W1')).find((r) =>
      r.fingerprint.startsWith('amount_mismatch'),
    )!;
    await t.rt.queues.reconcile.add('reconcile', { kind: 'credit_reversal', key: 'rc_W1' });
    await waitFor(
      async () => {
        const r = (await rowsOf('rc_W1')).find((x) => x.fingerprint.startsWith('amount_mismatch'))!;
        return r.last_seen_at > before.last_seen_at;
      },
      { what: 'seen again' },
    );
    expect(
      (await rowsOf('rc_W1')).filter((r) => r.fingerprint.startsWith('amount_mismatch')),
    ).toHaveLength(1);

    // Corrected: resolved.
    await upsertLedgerEntries(
      t.rt,
      [
        entry({
          id: 'le_W1',
          kind: 'credit_reversal',
          stripe_id: 'credrev_W1',
          parent_id: 'rc_W1',
          amount: 2_500,
          expected_status: 'posted',
        }),
      ],
      'api',
    );
    await waitFor(async () => (await rowsOf('rc_W1')).every((r) => r.status === 'resolved'), {
      what: 'all resolved',
    });

    // Wrong again: the same row reopens.
    await upsertLedgerEntries(
      t.rt,
      [
        entry({
          id: 'le_W1',
          kind: 'credit_reversal',
          stripe_id: 'credrev_W1',
          parent_id: 'rc_W1',
          amount: 2_400,
          expected_status: 'posted',
        }),
      ],
      'api',
    );
    await waitFor(
      async () => {
        const r = (await rowsOf('rc_W1')).find((x) => x.fingerprint.startsWith('amount_mismatch'))!;
        return r.status === 'open' && r.reopened_count === 1 && r.id === before.id;
      },
      { what: 'reopened' },
    );
    const all = changes.flatMap((c) =>
      c.opened.map((o) => `${o.row.fingerprint}${o.reopened ? ' (reopened)' : ''}`),
    );
    expect(all).toEqual(expect.arrayContaining(['amount_mismatch:credrev_W1:le_W1 (reopened)']));
  });

  it('resolves a ledger-first unit keyed by a Stripe id once the reversal is projected under its parent', async () => {
    await upsertLedgerEntries(
      t.rt,
      [entry({ id: 'le_S1', kind: 'credit_reversal', stripe_id: 'credrev_S1', amount: 900 })],
      'api',
    );
    // Confirm before raising: the reconciler schedules a lookup and raises nothing yet; the
    // lookup worker's 404 (recorded here as the worker would) lets it raise.
    await waitFor(
      async () =>
        (await t.rt.pool.query(`SELECT 1 FROM stripe_lookups WHERE target = 'credrev_S1'`))
          .rowCount === 1,
      { what: 'lookup scheduled' },
    );
    expect(await rowsOf('credrev_S1')).toEqual([]);
    await recordLookups(
      t.rt.pool,
      [{ target: 'credrev_S1', account: '', status: 'absent' }],
      Date.now(),
    );
    await reconcileUnits(t.rt, ['credrev_S1']);
    await waitFor(async () => (await rowsOf('credrev_S1')).some((r) => r.status === 'open'), {
      what: 'missing_in_stripe',
    });
    await insertCreditReversal(t.rt.pool, {
      id: 'credrev_S1',
      receivedCredit: 'rc_S1',
      amount: 900,
      status: 'posted',
      createdMs: NOW - HOUR,
    });
    await reconcileUnits(t.rt, ['rc_S1']);
    expect((await rowsOf('credrev_S1')).map((r) => r.status)).toEqual(['resolved']);
    expect(await rowsOf('rc_S1')).toEqual([]);
  });

  it('reconcileAll walks every unit with progress', async () => {
    const progress: Array<{ done: number; total: number }> = [];
    const r = await reconcileAll(t.rt, { batchSize: 2, onProgress: (p) => progress.push(p) });
    expect(r.units).toBeGreaterThanOrEqual(4);
    expect(progress.at(-1)).toEqual({ done: r.units, total: r.units });
    expect(r.failed).toEqual([]);
  });
});
