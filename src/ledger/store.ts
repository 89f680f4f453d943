import { Prisma, rawRows, transaction, type AnyDb } from '../db/prisma.js';
import type { ReversalKind } from '../domain/types.js';
import type { Unit } from '../domain/units.js';
import { wakeReconcile } from '../reconciliation/enqueue.js';
import { touchUnits } from '../reconciliation/outbox.js';
import type { Runtime } from '../runtime.js';
import type { LedgerEntryInput } from './schema.js';
import { projectedParents } from './units.js';

export const LEDGER_SOURCES = ['api', 'csv', 'sql'] as const;
export type LedgerSourceName = (typeof LEDGER_SOURCES)[number];

export type UpsertResult = 'created' | 'updated' | 'unchanged';

export interface UpsertOutcome {
  results: Array<{ id: string; result: UpsertResult }>;
  /** Units marked for reconcile in the outbox (new and, for moved entries, previous units). */
  units: Unit[];
}

/**
 * Writes validated entries in ONE transaction that also marks every unit they touch in the
 * reconcile outbox (so the intent commits with the entries), then wakes a reconcile worker. Idempotent on the platform's entry id: a row is only rewritten (and `updated_at` only
 * bumped — grace runs from `occurred_at`, so this never restarts it) when one of its fields
 * differs; `source` alone never counts as a change. Ids must be unique within one call (the API and the CSV import enforce it).
 */
export async function upsertLedgerEntries(
  rt: Pick<Runtime, 'prisma' | 'queues' | 'log'> & Partial<Pick<Runtime, 'redis'>>,
  entries: readonly LedgerEntryInput[],
  source: LedgerSourceName,
): Promise<UpsertOutcome> {
  if (entries.length === 0) return { results: [], units: [] };
  // Sorted by id so concurrent overlapping batches lock rows in one order (no deadlocks).
  const sorted = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const { written, refs } = await transaction(rt.prisma, (tx) =>
    writeLedgerEntries(tx, sorted, source),
  );

  const results = entries.map((e) => {
    const w = written.get(e.id);
    return {
      id: e.id,
      result: (w === undefined ? 'unchanged' : w ? 'created' : 'updated') as UpsertResult,
    };
  });
  if (refs.length > 0) wakeReconcile(rt);
  return { results, units: refs };
}

/**
 * The write itself, in the caller's transaction (the CSV import writes every chunk of a file in
 * one): upserts the entries and marks their units in the reconcile outbox. `entries` must be
 * sorted by id. `db` is a Prisma transaction, or a pg client inside `inTransaction` (the CSV import).
 */
export async function writeLedgerEntries(
  db: AnyDb,
  sorted: readonly LedgerEntryInput[],
  source: LedgerSourceName,
): Promise<{ written: Map<string, boolean>; refs: Unit[] }> {
  const ids = sorted.map((e) => e.id);
  const prev = await rawRows<{
    id: string;
    kind: ReversalKind;
    stripe_id: string | null;
    parent_id: string | null;
  }>(
    db,
    Prisma.sql`SELECT id, kind, stripe_id, parent_id FROM ledger_entries
                WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`,
  );
  const written = await writeRows(db, sorted, source);
  const stripeIds = [...sorted.map((e) => e.stripe_id), ...prev.map((r) => r.stripe_id)].filter(
    (s): s is string => !!s,
  );
  const parents = await projectedParents(db, stripeIds);
  const previous = new Map(prev.map((r) => [r.id, r]));

  const units = new Map<string, Unit>();
  const add = (kind: ReversalKind, key: string | null | undefined) => {
    if (key && !units.has(key)) units.set(key, { kind, key });
  };
  const addEntryUnits = (e: {
    kind: ReversalKind;
    stripe_id: string | null;
    parent_id: string | null;
  }) => {
    const projected = e.stripe_id ? parents.get(e.stripe_id) : undefined;
    add(projected?.kind ?? e.kind, projected?.parentId);
    add(e.kind, e.parent_id);
    if (!projected && !e.parent_id) add(e.kind, e.stripe_id);
  };
  for (const e of sorted) {
    if (!written.has(e.id)) continue;
    addEntryUnits(e);
    const old = previous.get(e.id);
    if (old) addEntryUnits(old); // the entry may have moved: its old unit must drop it
  }
  const refs = [...units.values()];
  await touchUnits(
    db,
    refs.map((u) => u.key),
  );
  return { written, refs };
}

/**
 * One multi-row upsert (rows passed as parallel arrays through unnest, so the statement and its
 * parameter count do not grow with the batch). `WHERE … IS DISTINCT FROM` skips identical rows,
 * so they come back in neither RETURNING nor the write set: those are "unchanged".
 * `xmax = 0` is true only for a freshly inserted tuple.
 */
async function writeRows(
  db: AnyDb,
  entries: readonly LedgerEntryInput[],
  source: LedgerSourceName,
): Promise<Map<string, boolean>> {
  const col = <T>(f: (e: LedgerEntryInput) => T) => entries.map(f);
  const rows = await rawRows<{ id: string; inserted: boolean }>(
    db,
    Prisma.sql`INSERT INTO ledger_entries AS t
       (id, kind, stripe_id, parent_id, amount, currency, expected_status, expected_status_raw,
        account, occurred_at, metadata, source, created_at, updated_at)
     SELECT u.id, u.kind, u.stripe_id, u.parent_id, u.amount, u.currency, u.expected_status,
            u.expected_status_raw, u.account,
            (to_timestamp(u.occurred_ms / 1000.0))::timestamptz(3), u.metadata::jsonb, ${source}::text,
            now(), now()
     FROM unnest(${col((e) => e.id)}::text[], ${col((e) => e.kind)}::text[],
                 ${col((e) => e.stripe_id)}::text[], ${col((e) => e.parent_id)}::text[],
                 ${col((e) => e.amount)}::bigint[], ${col((e) => e.currency)}::text[],
                 ${col((e) => e.expected_status)}::text[], ${col((e) => e.expected_status_raw)}::text[],
                 ${col((e) => e.account)}::text[], ${col((e) => e.occurred_at)}::float8[],
                 ${col((e) => JSON.stringify(e.metadata))}::text[])
          AS u(id, kind, stripe_id, parent_id, amount, currency, expected_status,
               expected_status_raw, account, occurred_ms, metadata)
     ON CONFLICT (id) DO UPDATE SET
       kind = EXCLUDED.kind, stripe_id = EXCLUDED.stripe_id, parent_id = EXCLUDED.parent_id,
       amount = EXCLUDED.amount, currency = EXCLUDED.currency,
       expected_status = EXCLUDED.expected_status, expected_status_raw = EXCLUDED.expected_status_raw,
       account = EXCLUDED.account, occurred_at = EXCLUDED.occurred_at, metadata = EXCLUDED.metadata,
       source = EXCLUDED.source, updated_at = now()
     WHERE (t.kind, t.stripe_id, t.parent_id, t.amount, t.currency, t.expected_status,
            t.expected_status_raw, t.account, t.occurred_at, t.metadata)
       IS DISTINCT FROM
           (EXCLUDED.kind, EXCLUDED.stripe_id, EXCLUDED.parent_id, EXCLUDED.amount,
            EXCLUDED.currency, EXCLUDED.expected_status, EXCLUDED.expected_status_raw,
            EXCLUDED.account, EXCLUDED.occurred_at, EXCLUDED.metadata)
     RETURNING t.id, (t.xmax = 0) AS inserted`,
  );
  return new Map(rows.map((r) => [r.id, r.inserted]));
}
