/**
 * Glossary
 *
 * - reversal: a Stripe money movement that undoes another — a Connect transfer reversal (`trr_`),
 *   a Treasury CreditReversal (`credrev_`) or a Treasury DebitReversal (`debrev_`).
 * - parent: what a reversal reverses — a transfer (`tr_`), a ReceivedCredit (`rc_`) or a
 *   ReceivedDebit (`rd_`).
 * - projection: our Postgres copy of a Stripe object, built from events and list calls.
 * - normalised status: one lifecycle word per reversal kind, mapped from Stripe's inconsistent
 *   vocabularies in `status.ts` (raw values are stored verbatim beside it).
 * - rank: position of a normalised status in its lifecycle; a projection only ever moves up.
 * - ledger entry: what the platform believes happened, keyed by the platform's own id.
 * - unit: the smallest set of objects reconciled together — a transfer with all its reversals,
 *   or one ReceivedCredit / ReceivedDebit with its reversal(s). Keyed by the parent id.
 * - mismatch: one disagreement between Stripe and the ledger, identified by a stable fingerprint.
 * - grace period: how long a fresh object or entry may disagree before it is flagged, counted
 *   from the evidence's own time (an object's `created`, an entry's `occurred_at`).
 * - lookup: a GET to Stripe for an id (or a parent's reversals) a ledger entry names but we never
 *   projected; its 404 (or a completed sweep's listing) confirms the object is absent.
 *
 * Money is integer minor units plus an ISO currency (lowercase, as Stripe writes it). Times in the
 * domain are epoch milliseconds; `now` is always an argument.
 */

export const REVERSAL_KINDS = ['transfer_reversal', 'credit_reversal', 'debit_reversal'] as const;
export type ReversalKind = (typeof REVERSAL_KINDS)[number];

export const OBJECT_TYPES = [
  'transfer',
  'transfer_reversal',
  'credit_reversal',
  'debit_reversal',
  'received_credit',
  'received_debit',
] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

/** Normalised lifecycle words, shared by projections and the ledger's `expected_status`. */
export const NORMALIZED_STATUSES = [
  'processing',
  'succeeded',
  'posted',
  'canceled',
  'won',
  'lost',
] as const;
export type NormalizedStatus = (typeof NORMALIZED_STATUSES)[number];

export const MISMATCH_KINDS = [
  'missing_in_ledger',
  'missing_in_stripe',
  'amount_mismatch',
  'currency_mismatch',
  'status_mismatch',
  'stuck_processing',
  'reversal_lost',
  'reversal_canceled',
  'over_reversed',
  'transfer_total_drift',
  'duplicate_match',
] as const;
export type MismatchKind = (typeof MISMATCH_KINDS)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A projected reversal as the reconciler sees it. */
export interface StripeReversal {
  kind: ReversalKind;
  id: string;
  /** Connect account id, or null for the platform itself. */
  account: string | null;
  amount: number;
  currency: string;
  status: NormalizedStatus;
  /** Stripe's own status word, verbatim (null for transfer reversals, which have none). */
  statusRaw: string | null;
  /** Transfer, ReceivedCredit or ReceivedDebit id. */
  parentId: string;
  createdMs: number;
  metadata: Record<string, string>;
  /**
   * Debit reversals only: Stripe granted a provisional credit for it
   * (`treasury.debit_reversal.initial_credit_granted`). Optional; only changes the wording of a
   * `reversal_lost` mismatch (the credit is taken back).
   */
  initialCreditGranted?: boolean;
}

/** The transfer a set of transfer reversals belongs to. */
export interface TransferSnapshot {
  id: string;
  account: string | null;
  amount: number;
  amountReversed: number;
  currency: string;
  createdMs: number;
  /**
   * When our projection last wrote the transfer. Informational only: the grace period of
   * `transfer_total_drift` runs from Stripe's own times, max(createdMs, newest reversal's
   * createdMs), never from when we received or re-fetched it.
   */
  updatedMs?: number | null;
}

export interface LedgerEntry {
  /** The platform's own entry id. */
  id: string;
  kind: ReversalKind;
  stripeId: string | null;
  parentId: string | null;
  amount: number;
  currency: string;
  /** Already normalised; null means "no status check". */
  expectedStatus: NormalizedStatus | null;
  account: string | null;
  occurredAtMs: number | null;
  metadata: Record<string, unknown>;
  /** When the entry was last written on our side (matching time when it has no `occurredAtMs`). */
  updatedAtMs: number;
  /**
   * When the entry was first written on our side. Optional: the grace period of an entry without
   * `occurredAtMs` runs from here (else from `updatedAtMs`), so a correction never restarts it.
   */
  createdAtMs?: number | null;
  /**
   * When Stripe was last confirmed not to have what this entry names (its `stripeLookupFor`
   * target): a 404 on lookup, a parent lookup that returned no matching reversal, or a completed
   * sweep whose listing lacked it. Null: not confirmed (yet). Only read when
   * `rules.confirmMissingInStripe` is on; a confirmation older than the entry's own time is stale.
   */
  absentConfirmedAtMs?: number | null;
}

/** One reconciliation unit, keyed by the parent id. */
export interface ReconUnit {
  kind: ReversalKind;
  /** Parent id (tr_/rc_/rd_), or a reversal/entry id when no parent is known. */
  key: string;
  /** Only for transfer reversals: the transfer, when projected. */
  transfer: TransferSnapshot | null;
  reversals: StripeReversal[];
  ledger: LedgerEntry[];
}

export interface ReconRules {
  graceMs: number;
  stuckAfterMs: { credit_reversal: number; debit_reversal: number };
  matchWindowMs: number;
  /** Metadata key on the Stripe object that carries the ledger entry id. */
  metadataKey: string;
  /** Optional per-kind severity overrides. */
  severity?: Partial<Record<MismatchKind, Severity>>;
  /**
   * Confirm before raising: `missing_in_stripe` for an entry that names something Stripe can be
   * asked about (`stripeLookupFor`) waits for `absentConfirmedAtMs`. Off, it is raised once past
   * grace without asking. @defaultValue false
   */
  confirmMissingInStripe?: boolean;
}

export interface Mismatch {
  fingerprint: string;
  kind: MismatchKind;
  severity: Severity;
  objectType: ObjectType;
  /** Stripe id (trr_/credrev_/debrev_, or tr_ for transfer-level kinds); null when unknown. */
  objectId: string | null;
  ledgerEntryId: string | null;
  account: string | null;
  currency: string | null;
  amountAtRisk: number | null;
  expected: unknown;
  actual: unknown;
  message: string;
}
