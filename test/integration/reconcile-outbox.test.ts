import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { takeDueUnits, touchUnits } from '../../src/reconciliation/outbox.js';
import { reconcileDueUnits, rulesFromConfig } from '../../src/reconciliation/reconcile-units.js';
import type { ReconRules } from '../../src/domain/types.js';
import type { LedgerSource } from '../../src/ledger/source.js';
import { createTestRuntime, insertCreditReversal } from '../unit/ledger/support.js';

/**
 * The reconcile worker's batch against real Postgres: units are taken out of the outbox in the
 * reconcile's own transaction (DELETE … RETURNING, SKIP LOCKED), so they leave it exactly when the
 * verdicts commit; units whose reconcile throws come back backed off; a failed transaction gives
 * every unit back; a writer touching a taken unit gets it reconciled again.
 */
let t: Awaited<ReturnType<typeof createTestRuntime>>;
const HOUR = 3_600_000;

interface OutboxRow {
  unit_key: string;
  attempts: number;
  last_error: string | null;
  due_in_s: number;
}
const outbox = async () =>
  (
    await t.rt.pool.query<OutboxRow>(
      `SELECT unit_key, attempts, last_error, extract(epoch FROM due_at - now())::float8 AS due_in_s
         FROM reconcile_outbox ORDER BY unit_key`,
    )
  ).rows;

beforeAll(async () => {
  t = await createTestRuntime();
});
afterAll(async () => {
  await t?.close();
});
beforeEach(async () => {
  await t.rt.pool.query('DELETE FROM reconcile_outbox');
  await t.rt.pool.query('DELETE FROM mismatches');
  await t.rt.pool.query('DELETE FROM credit_reversals');
});

/** Two received credits, each with a credit reversal the ledger lacks (missing_in_ledger). */
async function twoUnits(): Promise<string[]> {
  const keys = ['rc_out_1', 'rc_out_2'];
  for (const [i, k] of keys.entries())
    await insertCreditReversal(t.rt.pool, {
      id: `credrev_out_${i}`,
      receivedCredit: k,
      amount: 500,
      status: 'posted',
      createdMs: Date.now() - 2 * HOUR,
    });
  await touchUnits(t.rt.pool, keys, 0);
  return keys;
}

describe('reconcileDueUnits', () => {
  it('takes due units, commits their verdicts and removes them, in one transaction', async () => {
    const keys = await twoUnits();
    await touchUnits(t.rt.pool, ['rc_not_due_yet'], 60_000);
    const r = await reconcileDueUnits(t.rt, 10, { db: t.rt.pool });
    expect(r.taken).toBe(2);
    expect(r.failed).toEqual([]);
    expect(r.changes.opened.map((o) => o.row.unit_key).sort()).toEqual(keys);
    // Only the unit still waiting out its debounce is left.
    expect((await outbox()).map((o) => o.unit_key)).toEqual(['rc_not_due_yet']);
    // Nothing due: an empty batch, nothing taken.
    expect((await reconcileDueUnits(t.rt, 10, { db: t.rt.pool })).taken).toBe(0);
  });

  it('puts units whose reconcile throws back in, backed off, attempts counted', async () => {
    const keys = await twoUnits();
    // A rule set whose severity table throws: reconcile() fails for every unit (a domain bug).
    const broken = {
      ...rulesFromConfig(t.rt.config),
      get severity(): never {
        throw new Error('boom in the rules');
      },
    } as ReconRules;
    const r = await reconcileDueUnits(t.rt, 10, { db: t.rt.pool, rules: broken });
    expect(r.taken).toBe(2);
    expect(r.failed.map((f) => f.key).sort()).toEqual(keys);
    let rows = await outbox();
    expect(rows.map((o) => [o.unit_key, o.attempts])).toEqual(keys.map((k) => [k, 1]));
    expect(rows.every((o) => o.last_error?.includes('boom in the rules'))).toBe(true);
    expect(rows.every((o) => o.due_in_s > 0 && o.due_in_s <= 1.1)).toBe(true); // 2^0 s
    // Not due yet: the next batch leaves them alone.
    expect((await reconcileDueUnits(t.rt, 10, { db: t.rt.pool, rules: broken })).taken).toBe(0);
    await t.rt.pool.query(`UPDATE reconcile_outbox SET due_at = now()`);
    await reconcileDueUnits(t.rt, 10, { db: t.rt.pool, rules: broken });
    rows = await outbox();
    expect(rows.map((o) => o.attempts)).toEqual([2, 2]);
    expect(rows.every((o) => o.due_in_s > 1 && o.due_in_s <= 2.1)).toBe(true); // 2^1 s
    // Fixed rules: reconciled and gone.
    await t.rt.pool.query(`UPDATE reconcile_outbox SET due_at = now()`);
    const ok = await reconcileDueUnits(t.rt, 10, { db: t.rt.pool });
    expect(ok.failed).toEqual([]);
    expect(await outbox()).toEqual([]);
  });

  it('a transaction that fails gives every taken unit back, due at once', async () => {
    const keys = await twoUnits();
    const failing: LedgerSource = {
      kind: 'table',
      entriesForUnits: () => Promise.reject(new Error('ledger view is broken')),
      unitCandidates: () => Promise.resolve([]),
    } as unknown as LedgerSource;
    await expect(reconcileDueUnits(t.rt, 10, { db: t.rt.pool, source: failing })).rejects.toThrow(
      'ledger view is broken',
    );
    const rows = await outbox();
    expect(rows.map((o) => [o.unit_key, o.attempts])).toEqual(keys.map((k) => [k, 0]));
    expect(rows.every((o) => o.due_in_s <= 0)).toBe(true);
    expect((await t.rt.pool.query('SELECT count(*)::int AS n FROM mismatches')).rows[0].n).toBe(0);
  });

  it('a writer touching a unit while it is being reconciled gets it reconciled again', async () => {
    const [key] = await twoUnits();
    const drain = await t.rt.pool.connect();
    try {
      await drain.query('BEGIN');
      const taken = await takeDueUnits(drain, 10);
      expect(taken.map((u) => u.key).sort()).toEqual(['rc_out_1', 'rc_out_2']);
      // A second drain meanwhile skips the locked rows rather than take them too.
      const other = await t.rt.pool.connect();
      try {
        await other.query('BEGIN');
        expect(await takeDueUnits(other, 10)).toEqual([]);
        await other.query('ROLLBACK');
      } finally {
        other.release();
      }
      // A projection touches the unit: it waits on the taken row until the drain commits.
      let touched = false;
      const writer = touchUnits(t.rt.pool, [key!], 0).then(() => (touched = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(touched).toBe(false);
      await drain.query('COMMIT');
      await writer;
    } finally {
      drain.release();
    }
    // …then inserts it afresh: the unit will be reconciled once more, with what it committed.
    expect((await outbox()).map((o) => o.unit_key)).toEqual([key]);
  });
});
