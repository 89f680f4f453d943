import { errorText } from '../errors.js';
import { Prisma, rawExecute, rawRows, type AnyDb } from '../db/prisma.js';

/**
 * The reconcile outbox (`reconcile_outbox`): which units must be reconciled, kept in Postgres.
 *
 * Writers call `touchUnits` inside the transaction that changes a unit's projections or ledger
 * entries, so the intent commits with the change or not at all. The reconcile worker takes due
 * units in batches inside the reconcile's own transaction (`takeDueUnits`: DELETE … RETURNING,
 * SKIP LOCKED, so any number of workers share the table), and the rows leave the outbox exactly
 * when the verdicts commit. Redis carries only the wake-up; losing it delays a unit until the
 * next tick, never drops it.
 */

/** How long a burst to one unit is coalesced before it is reconciled. */
export const RECONCILE_DEBOUNCE_MS = 200;

// Keys are sorted so that two transactions touching the same units lock them in one order and
// never deadlock. A touch of a pending row keeps its earlier due_at (LEAST): a steady trickle of
// events cannot postpone a unit forever, and the reconcile that runs reads everything committed
// before it. ON CONFLICT locks the row even when nothing changes, so a touch of a unit a drain
// has just taken waits for the drain to commit, then inserts it again (reconciled once more).
/**
 * Records that these units changed, in the caller's transaction. Call it in the same transaction
 * as the change: that is the whole guarantee.
 */
export async function touchUnits(
  db: AnyDb,
  keys: Iterable<string>,
  debounceMs = RECONCILE_DEBOUNCE_MS,
): Promise<number> {
  const unique = [...new Set(keys)].filter((k) => k !== '').sort();
  if (unique.length === 0) return 0;
  await rawExecute(
    db,
    Prisma.sql`
INSERT INTO reconcile_outbox (unit_key, due_at)
SELECT k, now() + make_interval(secs => ${debounceMs}::float8 / 1000)
  FROM unnest(${unique}::text[]) AS k
ON CONFLICT (unit_key) DO UPDATE
   SET due_at = LEAST(reconcile_outbox.due_at, EXCLUDED.due_at)
 WHERE EXCLUDED.due_at < reconcile_outbox.due_at`,
  );
  return unique.length;
}

export interface TakenUnit {
  key: string;
  /** Failed reconciles so far (for the back-off of a unit that fails again). */
  attempts: number;
}

/**
 * In the reconcile's transaction: takes (deletes) up to `limit` due units, oldest first, skipping
 * rows another transaction holds (a writer touching them, or another drain). Rolled back with the
 * reconcile if it fails, so a unit leaves the outbox only together with its verdicts.
 */
export async function takeDueUnits(db: AnyDb, limit: number): Promise<TakenUnit[]> {
  return rawRows<TakenUnit>(
    db,
    Prisma.sql`
DELETE FROM reconcile_outbox o
 USING (SELECT unit_key FROM reconcile_outbox
         WHERE due_at <= now()
         ORDER BY due_at
         LIMIT ${limit}
           FOR UPDATE SKIP LOCKED) AS d
 WHERE o.unit_key = d.unit_key
RETURNING o.unit_key AS key, o.attempts`,
  );
}

/**
 * In the same transaction: units whose reconcile threw go back in, due again after a back-off
 * that grows with their attempts. They stay in the outbox until a reconcile succeeds. (A writer
 * that touched one meanwhile waits for this commit and then keeps the earlier due time.)
 */
export async function backOffUnits(
  db: AnyDb,
  failed: ReadonlyArray<{ key: string; attempts: number; error: unknown }>,
): Promise<void> {
  if (failed.length === 0) return;
  await rawExecute(
    db,
    Prisma.sql`INSERT INTO reconcile_outbox AS o (unit_key, due_at, attempts, last_error)
     SELECT f.k, now() + make_interval(secs => LEAST(600, power(2, LEAST(f.a, 20)))::float8), f.a + 1, f.e
       FROM unnest(${failed.map((f) => f.key)}::text[], ${failed.map((f) => f.attempts)}::int[],
                   ${failed.map((f) => errorText(f.error))}::text[]) AS f(k, a, e)
     ON CONFLICT (unit_key) DO UPDATE
        SET attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error,
            due_at = LEAST(o.due_at, EXCLUDED.due_at)`,
  );
}

export interface OutboxState {
  /** Milliseconds until the next unit falls due (0: due now), or null when none waits. */
  nextDueInMs: number | null;
}

/**
 * When the next unit falls due: one probe of the `due_at` index, never a count (the table is a
 * queue: a scan would read every dead row since the last vacuum).
 */
export async function outboxState(db: AnyDb): Promise<OutboxState> {
  const rows = await rawRows<{ next_ms: number }>(
    db,
    Prisma.sql`SELECT (extract(epoch FROM due_at - now()) * 1000)::float8 AS next_ms
             FROM reconcile_outbox ORDER BY due_at LIMIT 1`,
  );
  const r = rows[0];
  return { nextDueInMs: r ? Math.max(0, Math.ceil(r.next_ms)) : null };
}
