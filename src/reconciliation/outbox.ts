import { errorText } from '../errors.js';
import { DERIVED_WRITES } from '../db/pool.js';
import {
  Prisma,
  rawExecute,
  rawRows,
  transactionOn,
  type AnyDb,
  type PrismaClient,
} from '../db/prisma.js';
import type { Pool } from '../db/pool.js';

/**
 * The reconcile outbox (`reconcile_outbox`): which units must be reconciled, kept in Postgres.
 *
 * Writers call `touchUnits` inside the transaction that changes a unit's projections or ledger
 * entries, so the intent commits with the change or not at all. The reconcile worker claims due
 * units in batches (`claimDueUnits`, a short lease taken with SKIP LOCKED so any number of
 * workers share the table), reconciles them, and in the reconcile's own transaction deletes the
 * rows it claimed (`settleUnits`) unless a writer touched them again meanwhile. Redis carries
 * only the wake-up; losing it delays a unit until the next tick, never drops it.
 */

/** How long a burst to one unit is coalesced before it is reconciled. */
export const RECONCILE_DEBOUNCE_MS = 200;

/**
 * A drain's lease on the units it claimed; a crashed drain's units are claimable after it. The
 * worker passes JOB_LOCK_DURATION, so a killed worker's units and its jobs are taken over alike.
 * A lease that runs out under a slow drain costs only a repeated reconcile: the per-unit advisory
 * lock (reconcile-units.ts), not the lease, keeps two reconciles of one unit apart.
 */
const DEFAULT_LEASE_MS = 30_000;

// Keys are sorted so that two transactions touching the same units lock them in one order and
// never deadlock. A touch of a pending row keeps its earlier due_at (LEAST): a steady trickle of
// events cannot postpone a unit forever, and the reconcile that runs reads everything committed
// before it.
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
INSERT INTO reconcile_outbox (unit_key, due_at, version)
SELECT k, now() + make_interval(secs => ${debounceMs}::float8 / 1000), txid_current()
  FROM unnest(${unique}::text[]) AS k
ON CONFLICT (unit_key) DO UPDATE
   SET due_at = LEAST(reconcile_outbox.due_at, EXCLUDED.due_at),
       version = EXCLUDED.version`,
  );
  return unique.length;
}

export interface ClaimedUnit {
  key: string;
  /** The row's version when claimed: settle deletes it only if still the same. */
  version: string;
}

/**
 * Leases up to `limit` due units (a short transaction of its own). A lease is not worth a WAL
 * flush: one lost in a crash leaves the unit claimable, which is what a lease running out does.
 */
export async function claimDueUnits(
  db: PrismaClient | Pool,
  limit: number,
  leaseMs = DEFAULT_LEASE_MS,
): Promise<ClaimedUnit[]> {
  return transactionOn(
    db,
    (tx) =>
      rawRows<ClaimedUnit>(
        tx,
        Prisma.sql`
UPDATE reconcile_outbox o
   SET claimed_until = now() + make_interval(secs => ${leaseMs}::float8 / 1000)
  FROM (SELECT unit_key FROM reconcile_outbox
         WHERE due_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
         ORDER BY due_at
         LIMIT ${limit}
           FOR UPDATE SKIP LOCKED) AS c
 WHERE o.unit_key = c.unit_key
RETURNING o.unit_key AS key, o.version::text AS version`,
      ),
    { settings: DERIVED_WRITES },
  );
}

/**
 * In the reconcile's transaction: removes the claimed rows nobody touched since the claim; the
 * others lose their lease and are reconciled again (they changed while we were reading).
 */
export async function settleUnits(db: AnyDb, claimed: readonly ClaimedUnit[]): Promise<void> {
  if (claimed.length === 0) return;
  const keys = claimed.map((c) => c.key);
  await rawExecute(
    db,
    Prisma.sql`WITH done AS (
             DELETE FROM reconcile_outbox o
              USING unnest(${keys}::text[], ${claimed.map((c) => c.version)}::int8[]) AS c(k, v)
              WHERE o.unit_key = c.k AND o.version = c.v
             RETURNING o.unit_key)
           UPDATE reconcile_outbox SET claimed_until = NULL
            WHERE unit_key = ANY(${keys}::text[]) AND unit_key NOT IN (SELECT unit_key FROM done)`,
  );
}

/**
 * Units whose reconcile failed: the lease is dropped and the unit is due again after a backoff
 * that grows with its attempts. It stays in the outbox until a reconcile succeeds.
 */
export async function deferUnits(
  db: AnyDb,
  failed: ReadonlyArray<{ key: string; error: unknown }>,
): Promise<void> {
  if (failed.length === 0) return;
  await rawExecute(
    db,
    Prisma.sql`UPDATE reconcile_outbox o
        SET claimed_until = NULL,
            attempts = o.attempts + 1,
            last_error = f.e,
            due_at = now() + make_interval(secs => LEAST(600, power(2, LEAST(o.attempts, 20)))::float8)
       FROM unnest(${failed.map((f) => f.key)}::text[], ${failed.map((f) => errorText(f.error))}::text[]) AS f(k, e)
      WHERE o.unit_key = f.k`,
  );
}

/** Drops the lease on units a failed drain could not finish, so another drain takes them now. */
export async function releaseUnits(db: AnyDb, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await rawExecute(
    db,
    Prisma.sql`UPDATE reconcile_outbox SET claimed_until = NULL WHERE unit_key = ANY(${keys}::text[])`,
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
    Prisma.sql`SELECT (extract(epoch FROM GREATEST(due_at, COALESCE(claimed_until, due_at)) - now()) * 1000)::float8 AS next_ms
             FROM reconcile_outbox ORDER BY due_at LIMIT 1`,
  );
  const r = rows[0];
  return { nextDueInMs: r ? Math.max(0, Math.ceil(r.next_ms)) : null };
}
