import type {
  LedgerEntry,
  ReconRules,
  ReconUnit,
  ReversalKind,
  StripeReversal,
  TransferSnapshot,
} from '../../../src/domain/types.js';

export const SEC = 1_000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** "Now" in every test unless a case says otherwise. */
export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

export const rules: ReconRules = {
  graceMs: 15 * MIN,
  stuckAfterMs: { credit_reversal: 5 * DAY, debit_reversal: 14 * DAY },
  matchWindowMs: 7 * DAY,
  metadataKey: 'ledger_entry_id',
};

const PARENT: Record<ReversalKind, string> = {
  transfer_reversal: 'tr_1',
  credit_reversal: 'rc_1',
  debit_reversal: 'rd_1',
};
const PREFIX: Record<ReversalKind, string> = {
  transfer_reversal: 'trr_',
  credit_reversal: 'credrev_',
  debit_reversal: 'debrev_',
};

/** A Stripe reversal; a transfer reversal of $10.00 on tr_1 created an hour ago unless told. */
export function rev(over: Partial<StripeReversal> = {}): StripeReversal {
  const kind = over.kind ?? 'transfer_reversal';
  return {
    kind,
    id: `${PREFIX[kind]}1`,
    account: null,
    amount: 1000,
    currency: 'usd',
    status:
      kind === 'transfer_reversal' ? 'succeeded' : kind === 'credit_reversal' ? 'posted' : 'won',
    statusRaw:
      kind === 'transfer_reversal' ? null : kind === 'credit_reversal' ? 'posted' : 'succeeded',
    parentId: PARENT[kind],
    createdMs: T0 - HOUR,
    metadata: {},
    ...over,
  };
}

export const creditRev = (over: Partial<StripeReversal> = {}) =>
  rev({ kind: 'credit_reversal', ...over });
export const debitRev = (over: Partial<StripeReversal> = {}) =>
  rev({ kind: 'debit_reversal', ...over });

/** A ledger entry matching `rev(over-kind)` by Stripe id unless told. */
export function entry(over: Partial<LedgerEntry> = {}): LedgerEntry {
  const kind = over.kind ?? 'transfer_reversal';
  return {
    id: 'le_1',
    kind,
    stripeId: `${PREFIX[kind]}1`,
    parentId: PARENT[kind],
    amount: 1000,
    currency: 'usd',
    expectedStatus: null,
    account: null,
    occurredAtMs: T0 - HOUR,
    metadata: {},
    updatedAtMs: T0 - HOUR,
    ...over,
  };
}

export function transfer(over: Partial<TransferSnapshot> = {}): TransferSnapshot {
  return {
    id: 'tr_1',
    account: null,
    amount: 10_000,
    amountReversed: 1000,
    currency: 'usd',
    createdMs: T0 - DAY,
    ...over,
  };
}

export function unit(parts: {
  reversals?: StripeReversal[];
  ledger?: LedgerEntry[];
  transfer?: TransferSnapshot | null;
  kind?: ReversalKind;
}): ReconUnit {
  const reversals = parts.reversals ?? [];
  const ledger = parts.ledger ?? [];
  const kind = parts.kind ?? reversals[0]?.kind ?? ledger[0]?.kind ?? 'transfer_reversal';
  return {
    kind,
    key: parts.transfer?.id ?? reversals[0]?.parentId ?? ledger[0]?.parentId ?? 'unit_1',
    transfer: parts.transfer ?? null,
    reversals,
    ledger,
  };
}
