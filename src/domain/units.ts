import { reversalKindOfKey } from './ids.js';
import type { ReversalKind } from './types.js';

/**
 * A reconciliation unit: what the reconciler looks at together — a transfer (`tr_…`) with all its
 * reversals, a ReceivedCredit (`rc_…`) with its CreditReversal, a ReceivedDebit (`rd_…`) with its
 * DebitReversal. `key` is the parent's id (for a ledger entry that names neither a Stripe object
 * nor a parent, the entry's own id); `kind` the reversal kind. The one type for it: projections
 * return the units they touched, ledger writes and lookups mark them in the outbox, and the
 * outbox, the reconcile worker and `loadUnits` work on their keys.
 */
export interface Unit {
  key: string;
  kind: ReversalKind;
}

/**
 * The reversal kind a unit key (or any reversal or parent id) belongs to, from its prefix — the
 * one table, in `ids.ts` — or null for a key without one.
 */
export function kindOfKey(key: string): ReversalKind | null {
  return reversalKindOfKey(key);
}

/** The unit a key names; `fallback` is its kind when the key has no known prefix. */
export function unitOfKey(key: string, fallback: ReversalKind): Unit {
  return { key, kind: kindOfKey(key) ?? fallback };
}
