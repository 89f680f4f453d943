/**
 * Row shapes of the projection tables, spelled like the columns (snake_case, see
 * prisma/schema.prisma). Money and unix times are plain numbers (far below 2^53).
 */

/** Ordering key of a snapshot: event.created × 1000 and the event id, or (fetch ms, 'sweep:…'). */
export interface SnapshotKey {
  snapshot_at: number;
  snapshot_id: string;
}

export type Metadata = Record<string, string>;

export interface TransferRow extends SnapshotKey {
  id: string;
  account: string | null;
  livemode: boolean;
  amount: number;
  amount_reversed: number;
  currency: string;
  destination: string | null;
  destination_payment: string | null;
  source_transaction: string | null;
  source_type: string | null;
  transfer_group: string | null;
  balance_transaction: string | null;
  description: string | null;
  reversed: boolean;
  metadata: Metadata;
  created: number;
  raw: unknown;
}

export interface TransferReversalRow extends SnapshotKey {
  id: string;
  transfer: string;
  account: string | null;
  livemode: boolean;
  amount: number;
  currency: string;
  balance_transaction: string | null;
  destination_payment_refund: string | null;
  source_refund: string | null;
  description: string | null;
  metadata: Metadata;
  created: number;
  status: 'succeeded';
  raw: unknown;
}

/** The status group of a reversal row: only ever replaced by a higher (rank, snapshot) key. */
export interface StatusFields {
  status: string;
  status_rank: number;
  status_snapshot_at: number;
  status_snapshot_id: string;
}

export interface CreditReversalRow extends SnapshotKey, StatusFields {
  id: string;
  account: string | null;
  livemode: boolean;
  amount: number;
  currency: string;
  financial_account: string;
  received_credit: string;
  network: string;
  status_raw: string;
  posted_at: number | null;
  transaction: string | null;
  hosted_regulatory_receipt_url: string | null;
  metadata: Metadata;
  created: number;
  raw: unknown;
}

export interface DebitReversalRow extends SnapshotKey, StatusFields {
  id: string;
  account: string | null;
  livemode: boolean;
  amount: number;
  currency: string;
  financial_account: string | null;
  received_debit: string;
  network: string;
  status_raw: string;
  resolution_raw: string | null;
  completed_at: number | null;
  transaction: string | null;
  issuing_dispute: string | null;
  initial_credit_granted: boolean;
  hosted_regulatory_receipt_url: string | null;
  metadata: Metadata;
  created: number;
  raw: unknown;
}

interface ReceivedRowBase extends SnapshotKey {
  id: string;
  account: string | null;
  livemode: boolean;
  amount: number;
  currency: string;
  financial_account: string | null;
  network: string;
  status: string;
  failure_code: string | null;
  description: string | null;
  transaction: string | null;
  reversal_deadline: number | null;
  restricted_reason: string | null;
  created: number;
  raw: unknown;
}

export interface ReceivedCreditRow extends ReceivedRowBase {
  credit_reversal: string | null;
}

export interface ReceivedDebitRow extends ReceivedRowBase {
  debit_reversal: string | null;
}

/** One observed status of a reversal; `from_status` is computed in SQL, never here. */
export interface HistoryRow {
  object_type: 'transfer_reversal' | 'credit_reversal' | 'debit_reversal';
  object_id: string;
  to_status: string;
  to_status_raw: string | null;
  event_id: string;
  /** Unix seconds of the observing event (or of the sweep fetch). */
  event_created: number;
}
