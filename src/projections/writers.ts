import { Prisma, rawExecute, type AnyDb } from '../db/prisma.js';
import { NORMALIZED_STATUSES, REVERSAL_KINDS } from '../domain/types.js';
import { statusRank } from '../domain/status.js';
import type {
  CreditReversalRow,
  DebitReversalRow,
  HistoryRow,
  ReceivedCreditRow,
  ReceivedDebitRow,
  TransferReversalRow,
  TransferRow,
} from './rows.js';

/**
 * Guarded multi-row upserts: ONE `INSERT … SELECT FROM jsonb_to_recordset(…) ON CONFLICT (id)
 * DO UPDATE … WHERE` per table per batch. The guard is the ordering rule, so out-of-order and
 * concurrent writers converge without reading first:
 *
 *   snapshot  column comes from the newest snapshot by (snapshot_at, snapshot_id COLLATE "C")
 *   max       GREATEST(old, new)                        (transfers.amount_reversed)
 *   or        old OR new                                 (reversed, initial_credit_granted)
 *   status    the status group moves only to a higher (status_rank, status_snapshot_*) key
 *
 * `ON CONFLICT DO UPDATE` locks the conflicting row even when its WHERE is false, so two
 * transactions touching one object serialise on it; rows go in by id so lock order is stable.
 * Snapshot ids compare with COLLATE "C" to match JavaScript's code-unit order in merge.ts.
 */

type Rule = 'key' | 'snapshot' | 'max' | 'or' | 'status';
type SqlType = 'text' | 'bigint' | 'integer' | 'boolean' | 'jsonb';
type Column = readonly [name: string, type: SqlType, rule: Rule];

const NEWER = (t: string) =>
  `(EXCLUDED.snapshot_at > ${t}.snapshot_at OR (EXCLUDED.snapshot_at = ${t}.snapshot_at AND EXCLUDED.snapshot_id COLLATE "C" > ${t}.snapshot_id COLLATE "C"))`;

const STATUS_WINS = (t: string) =>
  `(EXCLUDED.status_rank > ${t}.status_rank OR (EXCLUDED.status_rank = ${t}.status_rank AND (EXCLUDED.status_snapshot_at > ${t}.status_snapshot_at OR (EXCLUDED.status_snapshot_at = ${t}.status_snapshot_at AND EXCLUDED.status_snapshot_id COLLATE "C" > ${t}.status_snapshot_id COLLATE "C"))))`;

const q = (name: string) => `"${name}"`;

function upsertSql(table: string, columns: readonly Column[]): string {
  const t = 't';
  const names = columns.map(([n]) => q(n)).join(', ');
  const recordset = columns.map(([n, type]) => `${q(n)} ${type}`).join(', ');
  const sets: string[] = [];
  const guards = [NEWER(t)];
  for (const [n, , rule] of columns) {
    const c = q(n);
    switch (rule) {
      case 'key':
        break;
      case 'snapshot':
        sets.push(`${c} = CASE WHEN ${NEWER(t)} THEN EXCLUDED.${c} ELSE ${t}.${c} END`);
        break;
      case 'max':
        sets.push(`${c} = GREATEST(${t}.${c}, EXCLUDED.${c})`);
        guards.push(`EXCLUDED.${c} > ${t}.${c}`);
        break;
      case 'or':
        sets.push(`${c} = ${t}.${c} OR EXCLUDED.${c}`);
        guards.push(`(EXCLUDED.${c} AND NOT ${t}.${c})`);
        break;
      case 'status':
        sets.push(`${c} = CASE WHEN ${STATUS_WINS(t)} THEN EXCLUDED.${c} ELSE ${t}.${c} END`);
        break;
    }
  }
  if (columns.some(([, , r]) => r === 'status')) guards.push(STATUS_WINS(t));
  sets.push(`"updated_at" = now()`);
  return `INSERT INTO ${q(table)} AS ${t} (${names})
SELECT ${names} FROM jsonb_to_recordset($1::jsonb) AS x(${recordset}) ORDER BY "id" COLLATE "C"
ON CONFLICT ("id") DO UPDATE SET ${sets.join(',\n  ')}
WHERE ${guards.join('\n   OR ')}`;
}

const snapshotCols = [
  ['snapshot_at', 'bigint', 'snapshot'],
  ['snapshot_id', 'text', 'snapshot'],
  ['raw', 'jsonb', 'snapshot'],
] as const satisfies readonly Column[];

const statusCols = [
  ['status', 'text', 'status'],
  ['status_rank', 'integer', 'status'],
  ['status_snapshot_at', 'bigint', 'status'],
  ['status_snapshot_id', 'text', 'status'],
] as const satisfies readonly Column[];

const receivedCols = [
  ['id', 'text', 'key'],
  ['account', 'text', 'snapshot'],
  ['livemode', 'boolean', 'snapshot'],
  ['amount', 'bigint', 'snapshot'],
  ['currency', 'text', 'snapshot'],
  ['financial_account', 'text', 'snapshot'],
  ['network', 'text', 'snapshot'],
  ['status', 'text', 'snapshot'],
  ['failure_code', 'text', 'snapshot'],
  ['description', 'text', 'snapshot'],
  ['transaction', 'text', 'snapshot'],
  ['reversal_deadline', 'bigint', 'snapshot'],
  ['restricted_reason', 'text', 'snapshot'],
  ['created', 'bigint', 'snapshot'],
] as const satisfies readonly Column[];

export const TABLES = {
  transfers: [
    ['id', 'text', 'key'],
    ['account', 'text', 'snapshot'],
    ['livemode', 'boolean', 'snapshot'],
    ['amount', 'bigint', 'snapshot'],
    ['amount_reversed', 'bigint', 'max'],
    ['currency', 'text', 'snapshot'],
    ['destination', 'text', 'snapshot'],
    ['destination_payment', 'text', 'snapshot'],
    ['source_transaction', 'text', 'snapshot'],
    ['source_type', 'text', 'snapshot'],
    ['transfer_group', 'text', 'snapshot'],
    ['balance_transaction', 'text', 'snapshot'],
    ['description', 'text', 'snapshot'],
    ['reversed', 'boolean', 'or'],
    ['metadata', 'jsonb', 'snapshot'],
    ['created', 'bigint', 'snapshot'],
    ...snapshotCols,
  ],
  transfer_reversals: [
    ['id', 'text', 'key'],
    ['transfer', 'text', 'snapshot'],
    ['account', 'text', 'snapshot'],
    ['livemode', 'boolean', 'snapshot'],
    ['amount', 'bigint', 'snapshot'],
    ['currency', 'text', 'snapshot'],
    ['balance_transaction', 'text', 'snapshot'],
    ['destination_payment_refund', 'text', 'snapshot'],
    ['source_refund', 'text', 'snapshot'],
    ['description', 'text', 'snapshot'],
    ['metadata', 'jsonb', 'snapshot'],
    ['created', 'bigint', 'snapshot'],
    ['status', 'text', 'snapshot'],
    ...snapshotCols,
  ],
  credit_reversals: [
    ['id', 'text', 'key'],
    ['account', 'text', 'snapshot'],
    ['livemode', 'boolean', 'snapshot'],
    ['amount', 'bigint', 'snapshot'],
    ['currency', 'text', 'snapshot'],
    ['financial_account', 'text', 'snapshot'],
    ['received_credit', 'text', 'snapshot'],
    ['network', 'text', 'snapshot'],
    ['status_raw', 'text', 'snapshot'],
    ...statusCols,
    ['posted_at', 'bigint', 'snapshot'],
    ['transaction', 'text', 'snapshot'],
    ['hosted_regulatory_receipt_url', 'text', 'snapshot'],
    ['metadata', 'jsonb', 'snapshot'],
    ['created', 'bigint', 'snapshot'],
    ...snapshotCols,
  ],
  debit_reversals: [
    ['id', 'text', 'key'],
    ['account', 'text', 'snapshot'],
    ['livemode', 'boolean', 'snapshot'],
    ['amount', 'bigint', 'snapshot'],
    ['currency', 'text', 'snapshot'],
    ['financial_account', 'text', 'snapshot'],
    ['received_debit', 'text', 'snapshot'],
    ['network', 'text', 'snapshot'],
    ['status_raw', 'text', 'snapshot'],
    ['resolution_raw', 'text', 'snapshot'],
    ...statusCols,
    ['completed_at', 'bigint', 'snapshot'],
    ['transaction', 'text', 'snapshot'],
    ['issuing_dispute', 'text', 'snapshot'],
    ['initial_credit_granted', 'boolean', 'or'],
    ['hosted_regulatory_receipt_url', 'text', 'snapshot'],
    ['metadata', 'jsonb', 'snapshot'],
    ['created', 'bigint', 'snapshot'],
    ...snapshotCols,
  ],
  received_credits: [...receivedCols, ['credit_reversal', 'text', 'snapshot'], ...snapshotCols],
  received_debits: [...receivedCols, ['debit_reversal', 'text', 'snapshot'], ...snapshotCols],
} as const satisfies Record<string, readonly Column[]>;

export type ProjectionTable = keyof typeof TABLES;

/**
 * A generated statement with one parameter, `$1`: the text around it is ours (built from the
 * column lists above), the value travels as a bind parameter.
 */
function withParam(text: string): (value: unknown) => Prisma.Sql {
  const [head, tail, ...more] = text.split('$1');
  if (tail === undefined || more.length > 0) throw new Error('expected exactly one $1');
  return (value) => Prisma.sql`${Prisma.raw(head!)}${value}${Prisma.raw(tail)}`;
}

const SQL = Object.fromEntries(
  Object.entries(TABLES).map(([table, cols]) => [table, withParam(upsertSql(table, cols))]),
) as Record<ProjectionTable, (rowsJson: string) => Prisma.Sql>;

export interface RowsByTable {
  transfers: TransferRow[];
  transfer_reversals: TransferReversalRow[];
  received_credits: ReceivedCreditRow[];
  credit_reversals: CreditReversalRow[];
  received_debits: ReceivedDebitRow[];
  debit_reversals: DebitReversalRow[];
}

/** Fixed table order, so concurrent batches take row locks in the same sequence. */
export const TABLE_ORDER = [
  'transfers',
  'transfer_reversals',
  'received_credits',
  'credit_reversals',
  'received_debits',
  'debit_reversals',
] as const satisfies readonly ProjectionTable[];

export async function upsertRows(
  db: AnyDb,
  table: ProjectionTable,
  rows: readonly object[],
): Promise<number> {
  if (rows.length === 0) return 0;
  return rawExecute(db, SQL[table](JSON.stringify(rows)));
}

/** Rank of (object_type, to_status) in SQL, generated from status.ts so nothing is duplicated. */
const RANK_CASE = `CASE object_type || ':' || to_status ${REVERSAL_KINDS.flatMap((k) =>
  NORMALIZED_STATUSES.filter((s) => statusRank(k, s) > 0).map(
    (s) => `WHEN '${k}:${s}' THEN ${statusRank(k, s)}`,
  ),
).join(' ')} ELSE 0 END`;

const HISTORY_INSERT = withParam(`INSERT INTO "status_history" AS h
  ("object_type", "object_id", "to_status", "to_status_raw", "event_id", "event_created")
SELECT "object_type", "object_id", "to_status", "to_status_raw", "event_id", "event_created"
FROM jsonb_to_recordset($1::jsonb) AS x("object_type" text, "object_id" text, "to_status" text,
  "to_status_raw" text, "event_id" text, "event_created" bigint)
ORDER BY "object_id" COLLATE "C", "to_status" COLLATE "C"
ON CONFLICT ("object_id", "to_status") DO UPDATE SET
  "object_type" = EXCLUDED."object_type", "to_status_raw" = EXCLUDED."to_status_raw",
  "event_id" = EXCLUDED."event_id", "event_created" = EXCLUDED."event_created"
WHERE EXCLUDED."event_created" < h."event_created"
   OR (EXCLUDED."event_created" = h."event_created" AND EXCLUDED."event_id" COLLATE "C" < h."event_id" COLLATE "C")`);

export async function upsertHistory(db: AnyDb, rows: readonly HistoryRow[]): Promise<void> {
  if (rows.length === 0) return;
  await rawExecute(db, HISTORY_INSERT(JSON.stringify(rows)));
}

/** The order of an object's history: lifecycle rank, then first observation. */
export const HISTORY_ORDER_SQL = `${RANK_CASE}, "event_created", "event_id" COLLATE "C"`;

/**
 * Status history with `from_status`: not "what this event moved from" (that depends on delivery
 * order) but the previous observed status by lifecycle rank, then first observation — a pure
 * function of the object's rows, so it is computed when read rather than stored (recomputing a
 * stored chain on every insert was the write path's most expensive statement). Filter it by
 * `object_id` outside or inside: the window is per object either way.
 */
export const STATUS_HISTORY_SQL = `SELECT "object_type", "object_id",
  lag("to_status") OVER (PARTITION BY "object_id" ORDER BY ${HISTORY_ORDER_SQL}) AS "from_status",
  "to_status", "to_status_raw", "event_id", "event_created", "recorded_at"
  FROM "status_history"`;
