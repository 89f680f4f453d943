import { ReconError } from '../errors.js';
import {
  normalizeCreditReversalStatus,
  normalizeDebitReversalStatus,
  statusRank,
} from '../domain/status.js';
import type {
  CreditReversalRow,
  DebitReversalRow,
  HistoryRow,
  Metadata,
  ReceivedCreditRow,
  ReceivedDebitRow,
  TransferReversalRow,
  TransferRow,
} from './rows.js';

/**
 * Pure mappers: one Stripe object (as parsed JSON — never trusted to match the SDK types) plus
 * its context → the row values of its projection table. They validate what the tables need and
 * throw InvalidObjectError otherwise; open enums are stored verbatim and never rejected.
 */

export class InvalidObjectError extends ReconError {}

/** Where a snapshot came from: its owner account and its ordering key. */
export interface SnapshotContext {
  /** Connect account (event.account), or null for the platform. */
  account: string | null;
  /** event.created × 1000, or the fetch time of a list call (ms). */
  snapshotAt: number;
  /** The event id, or `sweep:…` for list calls. */
  snapshotId: string;
}

type Obj = Record<string, unknown>;

function fail(o: Obj, field: string, want: string): never {
  const id = typeof o.id === 'string' ? o.id : '(no id)';
  throw new InvalidObjectError(`${String(o.object ?? 'object')} ${id}: ${field} must be ${want}`);
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Obj, f: string): string {
  const v = o[f];
  if (typeof v !== 'string' || v === '') fail(o, f, 'a non-empty string');
  return v;
}

function optStr(o: Obj, f: string): string | null {
  const v = o[f];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') fail(o, f, 'a string or null');
  return v;
}

/** An expandable field: an id string, or the expanded object carrying `id`. */
function optRef(o: Obj, f: string): string | null {
  const v = o[f];
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.id === 'string') return v.id;
  return fail(o, f, 'an id, an expanded object or null');
}

function int(o: Obj, f: string): number {
  const v = o[f];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(o, f, 'an integer');
  return v;
}

/** Amounts of money moved: an integer, never negative (Stripe never sends one; a forged or
 * corrupted object that did would otherwise raise false alarms such as over_reversed). */
function amount(o: Obj, f: string): number {
  const v = int(o, f);
  if (v < 0) fail(o, f, 'an amount of 0 or more');
  return v;
}

function optInt(o: Obj, f: string): number | null {
  const v = o[f];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(o, f, 'an integer or null');
  return v;
}

function bool(o: Obj, f: string): boolean {
  const v = o[f];
  if (typeof v !== 'boolean') fail(o, f, 'a boolean');
  return v;
}

function sub(o: Obj, f: string): Obj {
  const v = o[f];
  return isObj(v) ? v : {};
}

function metadata(o: Obj): Metadata {
  const v = o.metadata;
  if (v === undefined || v === null) return {};
  if (!isObj(v)) fail(o, 'metadata', 'an object');
  const out: Metadata = {};
  for (const [k, x] of Object.entries(v)) out[k] = typeof x === 'string' ? x : String(x);
  return out;
}

function kindOf(o: Obj, object: string, prefix: string): Obj {
  if (o.object !== object) fail(o, 'object', `"${object}"`);
  const id = str(o, 'id');
  if (!id.startsWith(prefix)) fail(o, 'id', `an id starting with ${prefix}`);
  return o;
}

const key = (ctx: SnapshotContext) => ({
  snapshot_at: ctx.snapshotAt,
  snapshot_id: ctx.snapshotId,
});

export function mapTransfer(obj: unknown, ctx: SnapshotContext): TransferRow {
  if (!isObj(obj)) throw new InvalidObjectError('transfer: not an object');
  const o = kindOf(obj, 'transfer', 'tr_');
  return {
    id: str(o, 'id'),
    account: ctx.account,
    livemode: bool(o, 'livemode'),
    amount: amount(o, 'amount'),
    amount_reversed: o.amount_reversed == null ? 0 : amount(o, 'amount_reversed'),
    currency: str(o, 'currency'),
    destination: optRef(o, 'destination'),
    destination_payment: optRef(o, 'destination_payment'),
    source_transaction: optRef(o, 'source_transaction'),
    source_type: optStr(o, 'source_type'),
    transfer_group: optStr(o, 'transfer_group'),
    balance_transaction: optRef(o, 'balance_transaction'),
    description: optStr(o, 'description'),
    reversed: o.reversed === true,
    metadata: metadata(o),
    created: int(o, 'created'),
    ...key(ctx),
    raw: o,
  };
}

/** The reversals embedded in a transfer (`reversals.data`, at most the 10 most recent). */
export function embeddedReversals(transfer: unknown): { data: unknown[]; hasMore: boolean } {
  if (!isObj(transfer) || !isObj(transfer.reversals)) return { data: [], hasMore: false };
  const list = transfer.reversals;
  return {
    data: Array.isArray(list.data) ? list.data : [],
    hasMore: list.has_more === true,
  };
}

/**
 * A transfer reversal has no livemode of its own: it takes its transfer's. It has no status
 * either; existing in a list means `succeeded`.
 */
export function mapTransferReversal(
  obj: unknown,
  ctx: SnapshotContext & { livemode: boolean },
): TransferReversalRow {
  if (!isObj(obj)) throw new InvalidObjectError('transfer_reversal: not an object');
  const o = kindOf(obj, 'transfer_reversal', 'trr_');
  return {
    id: str(o, 'id'),
    transfer: optRef(o, 'transfer') ?? fail(o, 'transfer', 'a transfer id'),
    account: ctx.account,
    livemode: typeof o.livemode === 'boolean' ? o.livemode : ctx.livemode,
    amount: amount(o, 'amount'),
    currency: str(o, 'currency'),
    balance_transaction: optRef(o, 'balance_transaction'),
    destination_payment_refund: optRef(o, 'destination_payment_refund'),
    source_refund: optRef(o, 'source_refund'),
    description: optStr(o, 'description'),
    metadata: metadata(o),
    created: int(o, 'created'),
    status: 'succeeded',
    ...key(ctx),
    raw: o,
  };
}

/**
 * An unknown raw status keeps whatever status the row already has: it enters with rank 0 and
 * `processing` (the only sensible word for an object nobody has seen finish), and any known
 * status of any age outranks it.
 */
function statusGroup(normalized: string | null, rank: number, ctx: SnapshotContext) {
  return {
    status: normalized ?? 'processing',
    status_rank: normalized ? rank : 0,
    status_snapshot_at: ctx.snapshotAt,
    status_snapshot_id: ctx.snapshotId,
  };
}

/** The fields every Treasury object starts with, in the order they are read. */
function treasuryCommon(o: Obj, ctx: SnapshotContext) {
  return {
    id: str(o, 'id'),
    account: ctx.account,
    livemode: bool(o, 'livemode'),
    amount: amount(o, 'amount'),
    currency: str(o, 'currency'),
  };
}

export function mapCreditReversal(obj: unknown, ctx: SnapshotContext): CreditReversalRow {
  if (!isObj(obj)) throw new InvalidObjectError('treasury.credit_reversal: not an object');
  const o = kindOf(obj, 'treasury.credit_reversal', 'credrev_');
  const statusRaw = str(o, 'status');
  const normalized = normalizeCreditReversalStatus(statusRaw);
  return {
    ...treasuryCommon(o, ctx),
    financial_account: str(o, 'financial_account'),
    received_credit: str(o, 'received_credit'),
    network: str(o, 'network'),
    status_raw: statusRaw,
    ...statusGroup(normalized, statusRank('credit_reversal', normalized), ctx),
    posted_at: optInt(sub(o, 'status_transitions'), 'posted_at'),
    transaction: optRef(o, 'transaction'),
    hosted_regulatory_receipt_url: optStr(o, 'hosted_regulatory_receipt_url'),
    metadata: metadata(o),
    created: int(o, 'created'),
    ...key(ctx),
    raw: o,
  };
}

export function mapDebitReversal(
  obj: unknown,
  ctx: SnapshotContext & { initialCreditGranted?: boolean },
): DebitReversalRow {
  if (!isObj(obj)) throw new InvalidObjectError('treasury.debit_reversal: not an object');
  const o = kindOf(obj, 'treasury.debit_reversal', 'debrev_');
  const statusRaw = str(o, 'status');
  const resolution = optStr(o, 'resolution');
  const transaction = optRef(o, 'transaction');
  const normalized = normalizeDebitReversalStatus({ status: statusRaw, resolution, transaction });
  return {
    ...treasuryCommon(o, ctx),
    financial_account: optStr(o, 'financial_account'),
    received_debit: str(o, 'received_debit'),
    network: str(o, 'network'),
    status_raw: statusRaw,
    resolution_raw: resolution,
    ...statusGroup(normalized, statusRank('debit_reversal', normalized), ctx),
    completed_at: optInt(sub(o, 'status_transitions'), 'completed_at'),
    transaction,
    issuing_dispute: optRef(sub(o, 'linked_flows'), 'issuing_dispute'),
    initial_credit_granted: ctx.initialCreditGranted === true,
    hosted_regulatory_receipt_url: optStr(o, 'hosted_regulatory_receipt_url'),
    metadata: metadata(o),
    created: int(o, 'created'),
    ...key(ctx),
    raw: o,
  };
}

function mapReceived(o: Obj, ctx: SnapshotContext) {
  const details = sub(o, 'reversal_details');
  return {
    ...treasuryCommon(o, ctx),
    financial_account: optStr(o, 'financial_account'),
    network: str(o, 'network'),
    status: str(o, 'status'),
    failure_code: optStr(o, 'failure_code'),
    description: optStr(o, 'description'),
    transaction: optRef(o, 'transaction'),
    reversal_deadline: optInt(details, 'deadline'),
    restricted_reason: optStr(details, 'restricted_reason'),
    created: int(o, 'created'),
    ...key(ctx),
    raw: o,
  };
}

export function mapReceivedCredit(obj: unknown, ctx: SnapshotContext): ReceivedCreditRow {
  if (!isObj(obj)) throw new InvalidObjectError('treasury.received_credit: not an object');
  const o = kindOf(obj, 'treasury.received_credit', 'rc_');
  return {
    ...mapReceived(o, ctx),
    credit_reversal: optRef(sub(o, 'linked_flows'), 'credit_reversal'),
  };
}

export function mapReceivedDebit(obj: unknown, ctx: SnapshotContext): ReceivedDebitRow {
  if (!isObj(obj)) throw new InvalidObjectError('treasury.received_debit: not an object');
  const o = kindOf(obj, 'treasury.received_debit', 'rd_');
  return {
    ...mapReceived(o, ctx),
    debit_reversal: optRef(sub(o, 'linked_flows'), 'debit_reversal'),
  };
}

/** The history row a reversal snapshot contributes, or null when its status word is unknown. */
export function historyOf(
  row: TransferReversalRow | CreditReversalRow | DebitReversalRow,
  objectType: HistoryRow['object_type'],
): HistoryRow | null {
  if ('status_rank' in row && row.status_rank === 0) return null;
  return {
    object_type: objectType,
    object_id: row.id,
    to_status: row.status,
    to_status_raw: 'status_raw' in row ? row.status_raw : null,
    event_id: row.snapshot_id,
    event_created: Math.floor(row.snapshot_at / 1000),
  };
}
