import type { ReversalKind } from './types.js';

/**
 * Stripe id prefixes of the three reversal kinds and of what each reverses — the one table of
 * them (the ledger's validation, the operator API, unit keys and Stripe lookups all read it).
 */
export const REVERSAL_ID_PREFIX: Readonly<Record<ReversalKind, string>> = Object.freeze({
  transfer_reversal: 'trr_',
  credit_reversal: 'credrev_',
  debit_reversal: 'debrev_',
});

/** The parent each reversal kind undoes: a transfer, a received credit, a received debit. */
export const PARENT_ID_PREFIX: Readonly<Record<ReversalKind, string>> = Object.freeze({
  transfer_reversal: 'tr_',
  credit_reversal: 'rc_',
  debit_reversal: 'rd_',
});

// Longest prefix first: `trr_` must be tried before `tr_`.
const BY_PREFIX: ReadonlyArray<[string, ReversalKind, 'reversal' | 'parent']> = (
  Object.entries(REVERSAL_ID_PREFIX).map(([k, p]) => [p, k, 'reversal'] as const) as Array<
    [string, ReversalKind, 'reversal' | 'parent']
  >
)
  .concat(
    Object.entries(PARENT_ID_PREFIX).map(([k, p]) => [p, k as ReversalKind, 'parent'] as const),
  )
  .sort((a, b) => b[0].length - a[0].length);

/** The kind of a reversal id (`trr_…`, `credrev_…`, `debrev_…`), or null. */
export function reversalKindOfId(id: string): ReversalKind | null {
  for (const [prefix, kind, what] of BY_PREFIX)
    if (what === 'reversal' && id.startsWith(prefix) && id.length > prefix.length) return kind;
  return null;
}

/** The reversal kind a reversal id or a parent id (a unit key) belongs to, or null. */
export function reversalKindOfKey(key: string): ReversalKind | null {
  for (const [prefix, kind] of BY_PREFIX) if (key.startsWith(prefix)) return kind;
  return null;
}
