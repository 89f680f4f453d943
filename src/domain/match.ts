import type { LedgerEntry, ReconRules, ReconUnit, StripeReversal } from './types.js';

/**
 * Matching ledger entries to Stripe reversals within one unit. Three passes, in order:
 *
 * 1. `stripe_id`: the entry names the reversal's id. An entry that names a Stripe id is matched
 *    by that id only; it never takes part in the later passes (its claim is explicit).
 * 2. `metadata`: the reversal's `metadata[rules.metadataKey]` is the id of an entry that names no
 *    Stripe id and is still free. Reversals claim in creation order (then id), so when two
 *    reversals point at the same entry — a retried create — the first keeps it and the later one
 *    stays unmatched.
 * 3. `fallback`: a still-free reversal and a still-free entry without a Stripe id, with the same
 *    parent id, amount and currency, whose times are at most `rules.matchWindowMs` apart (the
 *    entry's time is `occurredAtMs`, or `updatedAtMs` when it has none). Greedy one-to-one:
 *    closest in time first, ties by reversal id, then entry id.
 *
 * In every pass accounts are ignored unless both sides name one and they differ: then it is not a
 * match. A reversal can be claimed by several entries (two entries naming one id, or an id match
 * plus a metadata match): the best claim is its `primary`, the rest are `extras`
 * (→ `duplicate_match`). An entry is never claimed twice.
 */

export const MATCH_METHODS = ['stripe_id', 'metadata', 'fallback'] as const;
export type MatchMethod = (typeof MATCH_METHODS)[number];

export interface Claim {
  entry: LedgerEntry;
  method: MatchMethod;
}

export interface ReversalMatch {
  reversal: StripeReversal;
  /** The entry the reversal is compared with. */
  primary: Claim;
  /** Further entries claiming the same reversal, best first. */
  extras: Claim[];
}

export interface UnitMatching {
  /** Sorted by reversal id. */
  matched: ReversalMatch[];
  unmatchedReversals: StripeReversal[];
  unmatchedEntries: LedgerEntry[];
}

export type MatchRules = Pick<ReconRules, 'metadataKey' | 'matchWindowMs'>;

export function accountsCompatible(a: string | null, b: string | null): boolean {
  return a === null || b === null || a === b;
}

export function sameCurrency(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The time an entry is matched on: when it happened, or when we last heard of it. */
export function entryMatchTimeMs(e: LedgerEntry): number {
  return e.occurredAtMs ?? e.updatedAtMs;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A total order on objects by id, then content, so that results never depend on the order the
 * caller loaded rows in (ids are unique in practice; content only breaks ties in broken input).
 */
export function canonicalOrder<T extends { id: string }>(items: readonly T[]): T[] {
  // The content key is built only for a tie on id: serialising every item costs the hot path
  // (this runs for every unit reconciled) and ties do not happen in sound input.
  const keys = new Map<T, string>();
  const key = (x: T) => {
    let k = keys.get(x);
    if (k === undefined) keys.set(x, (k = JSON.stringify(x)));
    return k;
  };
  return [...items].sort((a, b) => compareStrings(a.id, b.id) || compareStrings(key(a), key(b)));
}

const METHOD_RANK: Record<MatchMethod, number> = { stripe_id: 0, metadata: 1, fallback: 2 };

export function matchUnit(
  unit: Pick<ReconUnit, 'reversals' | 'ledger'>,
  rules: MatchRules,
): UnitMatching {
  const reversals = canonicalOrder(unit.reversals);
  const ledger = canonicalOrder(unit.ledger);
  const claims = new Map<StripeReversal, Claim[]>();
  const claimed = new Set<LedgerEntry>();
  const claim = (r: StripeReversal, entry: LedgerEntry, method: MatchMethod) => {
    const list = claims.get(r) ?? [];
    list.push({ entry, method });
    claims.set(r, list);
    claimed.add(entry);
  };

  // 1. By Stripe id.
  const reversalById = new Map<string, StripeReversal>();
  for (const r of reversals) if (!reversalById.has(r.id)) reversalById.set(r.id, r);
  for (const e of ledger) {
    if (e.stripeId === null) continue;
    const r = reversalById.get(e.stripeId);
    if (r && accountsCompatible(r.account, e.account)) claim(r, e, 'stripe_id');
  }

  // 2. By the metadata key on the Stripe object.
  const freeEntryById = new Map<string, LedgerEntry>();
  for (const e of ledger) {
    if (e.stripeId === null && !freeEntryById.has(e.id)) freeEntryById.set(e.id, e);
  }
  const byCreation = reversals
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.createdMs - b.r.createdMs || a.i - b.i)
    .map((x) => x.r);
  for (const r of byCreation) {
    if (!Object.hasOwn(r.metadata, rules.metadataKey)) continue;
    const e = freeEntryById.get(r.metadata[rules.metadataKey] ?? '');
    if (e && !claimed.has(e) && accountsCompatible(r.account, e.account)) claim(r, e, 'metadata');
  }

  // 3. Fallback: parent + amount + currency within the window, closest first.
  const candidates: { dt: number; ri: number; ei: number }[] = [];
  reversals.forEach((r, ri) => {
    if (claims.has(r)) return;
    ledger.forEach((e, ei) => {
      if (claimed.has(e) || e.stripeId !== null || e.parentId === null) return;
      if (e.parentId !== r.parentId || e.amount !== r.amount) return;
      if (!sameCurrency(e.currency, r.currency) || !accountsCompatible(r.account, e.account))
        return;
      const dt = Math.abs(entryMatchTimeMs(e) - r.createdMs);
      if (dt <= rules.matchWindowMs) candidates.push({ dt, ri, ei });
    });
  });
  // Indices follow canonical (id) order, so this is "closest, then reversal id, then entry id".
  candidates.sort((a, b) => a.dt - b.dt || a.ri - b.ri || a.ei - b.ei);
  for (const c of candidates) {
    const r = reversals[c.ri];
    const e = ledger[c.ei];
    if (r && e && !claims.has(r) && !claimed.has(e)) claim(r, e, 'fallback');
  }

  const matched: ReversalMatch[] = [];
  const unmatchedReversals: StripeReversal[] = [];
  for (const r of reversals) {
    const list = claims.get(r);
    if (!list) {
      unmatchedReversals.push(r);
      continue;
    }
    const exact = (c: Claim) =>
      c.entry.amount === r.amount && sameCurrency(c.entry.currency, r.currency) ? 0 : 1;
    const [primary, ...extras] = [...list].sort(
      (a, b) =>
        METHOD_RANK[a.method] - METHOD_RANK[b.method] ||
        exact(a) - exact(b) ||
        compareStrings(a.entry.id, b.entry.id),
    );
    if (primary) matched.push({ reversal: r, primary, extras });
  }
  const unmatchedEntries = ledger.filter((e) => !claimed.has(e));
  return { matched, unmatchedReversals, unmatchedEntries };
}
