import type {
  CreditReversalRow,
  DebitReversalRow,
  HistoryRow,
  SnapshotKey,
  StatusFields,
  TransferRow,
} from './rows.js';

/**
 * The ordering rules, in TypeScript, for merging duplicates of one id inside a batch (Postgres
 * refuses to update one row twice in one statement). They must agree exactly with the SQL in
 * writers.ts, which applies them across batches: ids compare by code unit here and with
 * COLLATE "C" there, so both sides order `snapshot_id`s the same way.
 */

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareSnapshots(a: SnapshotKey, b: SnapshotKey): number {
  return a.snapshot_at - b.snapshot_at || compareIds(a.snapshot_id, b.snapshot_id);
}

/** Status key: rank first, then the snapshot that carried it (ties between equal-rank finals). */
export function compareStatus(a: StatusFields, b: StatusFields): number {
  return (
    a.status_rank - b.status_rank ||
    a.status_snapshot_at - b.status_snapshot_at ||
    compareIds(a.status_snapshot_id, b.status_snapshot_id)
  );
}

/** Every field from the newest snapshot. */
export function mergeNewest<T extends SnapshotKey>(a: T, b: T): T {
  return compareSnapshots(b, a) > 0 ? b : a;
}

/** Newest snapshot, except `amount_reversed` never decreases and `reversed` only goes true. */
export function mergeTransfer(a: TransferRow, b: TransferRow): TransferRow {
  return {
    ...mergeNewest(a, b),
    amount_reversed: Math.max(a.amount_reversed, b.amount_reversed),
    reversed: a.reversed || b.reversed,
  };
}

function statusOf(r: StatusFields): StatusFields {
  return {
    status: r.status,
    status_rank: r.status_rank,
    status_snapshot_at: r.status_snapshot_at,
    status_snapshot_id: r.status_snapshot_id,
  };
}

/** Newest snapshot, except the status group, which only moves up its (rank, snapshot) key. */
export function mergeCreditReversal(a: CreditReversalRow, b: CreditReversalRow): CreditReversalRow {
  return { ...mergeNewest(a, b), ...statusOf(compareStatus(b, a) > 0 ? b : a) };
}

export function mergeDebitReversal(a: DebitReversalRow, b: DebitReversalRow): DebitReversalRow {
  return {
    ...mergeNewest(a, b),
    ...statusOf(compareStatus(b, a) > 0 ? b : a),
    initial_credit_granted: a.initial_credit_granted || b.initial_credit_granted,
  };
}

/** A status is first observed by the earliest event (created, then id). */
export function mergeHistory(a: HistoryRow, b: HistoryRow): HistoryRow {
  const c = a.event_created - b.event_created || compareIds(a.event_id, b.event_id);
  return c <= 0 ? a : b;
}

/** Accumulates rows by key, merging a repeat with `merge`. */
export class MergeMap<T> {
  readonly rows = new Map<string, T>();
  constructor(
    private readonly keyOf: (row: T) => string,
    private readonly merge: (a: T, b: T) => T,
  ) {}
  add(row: T): void {
    const k = this.keyOf(row);
    const prev = this.rows.get(k);
    this.rows.set(k, prev === undefined ? row : this.merge(prev, row));
  }
  get size(): number {
    return this.rows.size;
  }
  values(): T[] {
    return [...this.rows.values()];
  }
}
