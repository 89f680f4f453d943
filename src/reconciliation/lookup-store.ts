import { stripeLookupFor, type PendingLookup } from '../domain/lookup.js';
import type { ReconUnit, ReversalKind } from '../domain/types.js';
import { Prisma, rawExecute, rawRows, type AnyDb } from '../db/prisma.js';

/**
 * The durable table behind "confirm before raising" (`stripe_lookups`, one row per reversal id or
 * parent to ask Stripe about, per account). SQL only; the Stripe calls are in stripe-lookup.ts.
 *
 * Row life: `pending` (due when the oldest entry's grace ends; claimed with a lease; on failure
 * due again after a backoff) → `absent` (404, or a completed sweep's listing lacked it), `found`
 * (projected) or `settled` (no longer needed when its turn came: not asked). A newer entry naming the same target re-arms a row whose answer predates it.
 */

/** `settled`: no longer needed when its turn came (a late webhook matched the entry); not asked. */
export type LookupStatus = 'pending' | 'absent' | 'found' | 'settled';

export interface LookupRow {
  target: string;
  /** '' for the platform. */
  account: string;
  type: 'reversal' | 'parent';
  kind: ReversalKind;
  parent_id: string | null;
  attempts: number;
}

const ms = (x: number) => x / 1000; // to_timestamp takes seconds

// Every function takes Prisma, or a pg pool/client from the hot paths still on pg (reconcile-units.ts
// and load.ts run these inside their pg transaction): one tagged statement runs on either.

/**
 * Schedules the lookups the reconciler asked for (one INSERT, in key order so concurrent
 * batches lock rows in one order). Rows are only written when something changes: a pending row
 * never tried may become due earlier; a pending row in backoff keeps its backoff; an answered row
 * is asked again only if its answer is older than the entry that needs it.
 */
export async function scheduleLookups(db: AnyDb, lookups: readonly PendingLookup[]): Promise<void> {
  if (lookups.length === 0) return;
  const byKey = new Map<string, PendingLookup>();
  for (const l of lookups) {
    const key = `${l.target.id}\u0000${l.target.account ?? ''}`;
    const prev = byKey.get(key);
    byKey.set(
      key,
      prev
        ? {
            ...prev,
            dueAtMs: Math.min(prev.dueAtMs, l.dueAtMs),
            neededSinceMs: Math.max(prev.neededSinceMs, l.neededSinceMs),
          }
        : l,
    );
  }
  const rows = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const col = <T>(f: (l: PendingLookup) => T) => rows.map(([, l]) => f(l));
  await rawExecute(
    db,
    Prisma.sql`INSERT INTO stripe_lookups AS t (target, account, type, kind, parent_id, due_at, needed_since)
     SELECT u.target, u.account, u.type, u.kind, u.parent_id,
            to_timestamp(u.due)::timestamptz(3), to_timestamp(u.since)::timestamptz(3)
       FROM unnest(${col((l) => l.target.id)}::text[], ${col((l) => l.target.account ?? '')}::text[],
                   ${col((l) => l.target.type)}::text[], ${col((l) => l.target.kind)}::text[],
                   ${col((l) => (l.target.type === 'reversal' ? l.target.parentId : null))}::text[],
                   ${col((l) => ms(l.dueAtMs))}::float8[], ${col((l) => ms(l.neededSinceMs))}::float8[])
            AS u(target, account, type, kind, parent_id, due, since)
     ON CONFLICT (target, account) DO UPDATE SET
       status = 'pending',
       due_at = CASE WHEN t.status <> 'pending' THEN EXCLUDED.due_at
                     WHEN t.attempts = 0 THEN LEAST(t.due_at, EXCLUDED.due_at)
                     ELSE t.due_at END,
       needed_since = GREATEST(t.needed_since, EXCLUDED.needed_since),
       attempts = CASE WHEN t.status = 'pending' THEN t.attempts ELSE 0 END,
       parent_id = COALESCE(t.parent_id, EXCLUDED.parent_id),
       updated_at = now()
     WHERE (t.status = 'pending'
            AND ((t.attempts = 0 AND EXCLUDED.due_at < t.due_at) OR EXCLUDED.needed_since > t.needed_since
                 OR (t.parent_id IS NULL AND EXCLUDED.parent_id IS NOT NULL)))
        OR (t.status <> 'pending' AND (t.checked_at IS NULL OR t.checked_at < EXCLUDED.needed_since))`,
  );
}

/**
 * Claims up to `limit` due lookups: their `due_at` moves to `leaseUntilMs`, so a worker that dies
 * mid-lookup only delays them; SKIP LOCKED lets several workers claim side by side.
 */
export async function claimDueLookups(
  db: AnyDb,
  nowMs: number,
  leaseUntilMs: number,
  limit: number,
): Promise<LookupRow[]> {
  return rawRows<LookupRow>(
    db,
    Prisma.sql`UPDATE stripe_lookups AS t
        SET due_at = to_timestamp(${ms(leaseUntilMs)}::float8)::timestamptz(3), attempts = t.attempts + 1,
            updated_at = now()
       FROM (SELECT target, account FROM stripe_lookups
              WHERE status = 'pending' AND due_at <= to_timestamp(${ms(nowMs)}::float8)
              ORDER BY due_at LIMIT ${limit} FOR UPDATE SKIP LOCKED) AS c
      WHERE t.target = c.target AND t.account = c.account
      RETURNING t.target, t.account, t.type, t.kind, t.parent_id, t.attempts`,
  );
}

export interface LookupOutcome {
  target: string;
  account: string;
  status: LookupStatus;
  /** For `pending` (Stripe unreachable): when to try again, and why. */
  retryAtMs?: number;
  error?: string;
}

/** Records a batch of answers in one statement. `absent_at` is set for every answer that says
 * "Stripe has nothing more than what is now projected": a 404, or a parent whose reversals were
 * all projected. A found reversal clears it. */
export async function recordLookups(
  db: AnyDb,
  outcomes: readonly LookupOutcome[],
  nowMs: number,
): Promise<void> {
  if (outcomes.length === 0) return;
  // Key order, like scheduleLookups, so that concurrent writers lock rows in one order.
  const sorted = [...outcomes].sort((a, b) =>
    a.target < b.target ? -1 : a.target > b.target ? 1 : a.account < b.account ? -1 : 1,
  );
  const col = <T>(f: (o: LookupOutcome) => T) => sorted.map(f);
  const now = ms(nowMs);
  await rawExecute(
    db,
    Prisma.sql`UPDATE stripe_lookups AS t SET
       status = u.status,
       checked_at = CASE WHEN u.status IN ('pending', 'settled') THEN t.checked_at
                         ELSE to_timestamp(${now}::float8)::timestamptz(3) END,
       absent_at = CASE WHEN u.status IN ('pending', 'settled') THEN t.absent_at
                        WHEN u.status = 'absent' OR t.type = 'parent' THEN to_timestamp(${now}::float8)::timestamptz(3)
                        ELSE NULL END,
       due_at = CASE WHEN u.status = 'pending' THEN to_timestamp(u.retry)::timestamptz(3) ELSE t.due_at END,
       attempts = CASE WHEN u.status = 'pending' THEN t.attempts ELSE 0 END,
       last_error = u.error,
       updated_at = now()
     FROM unnest(${col((o) => o.target)}::text[], ${col((o) => o.account)}::text[],
                 ${col((o) => o.status)}::text[],
                 ${col((o) => (o.retryAtMs === undefined ? null : ms(o.retryAtMs)))}::float8[],
                 ${col((o) => o.error ?? null)}::text[])
          AS u(target, account, status, retry, error)
     WHERE t.target = u.target AND t.account = u.account`,
  );
}

/**
 * Gives each ledger entry of the units its `absentConfirmedAtMs` (null when Stripe has not been
 * asked, or did not say "absent"), for the target the domain would ask about. One query.
 */
export async function attachConfirmations(db: AnyDb, units: readonly ReconUnit[]): Promise<void> {
  const wanted: Array<{ entry: ReconUnit['ledger'][number]; key: string }> = [];
  for (const u of units) {
    const projected = new Set(u.reversals.map((r) => r.id));
    for (const e of u.ledger) {
      e.absentConfirmedAtMs = null;
      const t = stripeLookupFor(e, projected);
      if (t) wanted.push({ entry: e, key: `${t.id}\u0000${t.account ?? ''}` });
    }
  }
  if (wanted.length === 0) return;
  const keys = [...new Set(wanted.map((w) => w.key))];
  const targets = keys.map((k) => k.split('\u0000')[0]);
  const accounts = keys.map((k) => k.split('\u0000')[1]);
  const rows = await rawRows<{ target: string; account: string; absent_at: Date }>(
    db,
    Prisma.sql`SELECT t.target, t.account, t.absent_at FROM stripe_lookups t
       JOIN unnest(${targets}::text[], ${accounts}::text[]) AS k(target, account)
         ON t.target = k.target AND t.account = k.account
      WHERE t.absent_at IS NOT NULL`,
  );
  const at = new Map(rows.map((r) => [`${r.target}\u0000${r.account}`, r.absent_at.getTime()]));
  for (const w of wanted) w.entry.absentConfirmedAtMs = at.get(w.key) ?? null;
}

/**
 * After a full sweep listed every object: anything a ledger entry names that is still not
 * projected is absent, as of when the listing started — no lookup needed. Covers reversal ids
 * never projected and parents of entries naming only a parent (the domain then decides, per
 * entry, whether one of the parent's reversals matches it). Only for entries that happened before
 * the listing began (a younger one may have been created after its page was read) and on an
 * account the sweep listed.
 */
export async function confirmAbsentAfterSweep(
  db: AnyDb,
  listedFromMs: number,
  /** The accounts the sweep listed (null: the platform). Entries on others are not confirmed. */
  accounts: ReadonlyArray<string | null>,
): Promise<number> {
  const listedFrom = ms(listedFromMs);
  return rawExecute(
    db,
    Prisma.sql`WITH named AS (
       SELECT DISTINCT ON (target, account) target, account, type, kind, parent_id, since
         FROM (
           SELECT e.stripe_id AS target, COALESCE(e.account, '') AS account, 'reversal' AS type,
                  e.kind, e.parent_id, COALESCE(e.occurred_at, e.created_at) AS since
             FROM ledger_entries e
            WHERE e.stripe_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM transfer_reversals r WHERE r.id = e.stripe_id)
              AND NOT EXISTS (SELECT 1 FROM credit_reversals r WHERE r.id = e.stripe_id)
              AND NOT EXISTS (SELECT 1 FROM debit_reversals r WHERE r.id = e.stripe_id)
           UNION ALL
           SELECT e.parent_id, COALESCE(e.account, ''), 'parent', e.kind, NULL,
                  COALESCE(e.occurred_at, e.created_at)
             FROM ledger_entries e
            WHERE e.stripe_id IS NULL AND e.parent_id IS NOT NULL
         ) AS x
        WHERE since <= to_timestamp(${listedFrom}::float8)
          AND account = ANY(${accounts.map((a) => a ?? '')}::text[])
        ORDER BY target, account, since DESC
     )
     INSERT INTO stripe_lookups AS t
       (target, account, type, kind, parent_id, status, due_at, needed_since, checked_at, absent_at)
     SELECT target, account, type, kind, parent_id, 'absent', to_timestamp(${listedFrom}::float8), since,
            to_timestamp(${listedFrom}::float8), to_timestamp(${listedFrom}::float8)
       FROM named ORDER BY target, account
     ON CONFLICT (target, account) DO UPDATE SET
       status = 'absent', checked_at = EXCLUDED.checked_at, absent_at = EXCLUDED.absent_at,
       attempts = 0, last_error = NULL, updated_at = now()
     WHERE t.absent_at IS NULL OR t.absent_at < EXCLUDED.absent_at`,
  );
}
