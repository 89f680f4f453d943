import { accountsCompatible, sameCurrency } from './match.js';
import type { NormalizedStatus, ReconRules, ReconUnit } from './types.js';

/**
 * The SQL narrowing predicate, in TS: which units a sweep must hand to `reconcile()`. It answers
 * false only when the unit is certainly clean — `reconcile(unit, rules, now)` returns `[]` for
 * every `now` — and true whenever in doubt. A property test checks exactly that implication.
 *
 * A unit is CLEAN (no reconcile needed) when all of these hold; mirror them in SQL as written:
 *
 *   C1  reversal ids are distinct (a primary key in SQL).
 *   C2  every ledger entry of the unit has `stripe_id` equal to the id of a reversal of the unit,
 *       and no two entries name the same reversal — so every reversal is named by at most one
 *       entry, and no entry is left for the metadata or fallback passes.
 *   C3  every reversal is named by an entry (together with C2: exactly one).
 *   C4  for each named pair (reversal r, entry e):
 *         (r.account IS NULL OR e.account IS NULL OR r.account = e.account)
 *         AND e.amount = r.amount AND lower(e.currency) = lower(r.currency)
 *         AND r.status <> 'processing'
 *         AND ( e.expected_status = r.status
 *               OR ( r.status NOT IN ('canceled', 'lost')
 *                    AND (e.expected_status IS NULL OR e.expected_status = 'processing') ) )
 *   C5  for a transfer-reversal unit whose transfer is projected:
 *         SUM(r.amount) = t.amount_reversed AND t.amount_reversed <= t.amount
 *
 * Why `now` is not needed: every time-dependent rule (grace periods, stuck deadlines) concerns an
 * unmatched object, a duplicate, a processing reversal or a total gap, and each of those already
 * fails C2–C5. `now` stays in the signature so a later, finer predicate can use it.
 */
export function unitNeedsReconcile(unit: ReconUnit, _rules: ReconRules, _now: number): boolean {
  const byId = new Map(unit.reversals.map((r) => [r.id, r] as const));
  if (byId.size !== unit.reversals.length) return true; // C1

  const named = new Set<string>();
  for (const e of unit.ledger) {
    if (e.stripeId === null || named.has(e.stripeId)) return true; // C2
    const r = byId.get(e.stripeId);
    if (!r) return true; // C2
    named.add(e.stripeId);
    if (!pairIsClean(r, e)) return true; // C4
  }
  if (named.size !== byId.size) return true; // C3

  if (unit.kind === 'transfer_reversal' && unit.transfer) {
    const t = unit.transfer;
    const total = unit.reversals.reduce((s, r) => s + r.amount, 0);
    if (total !== t.amountReversed || t.amountReversed > t.amount) return true; // C5
  }
  return false;
}

function pairIsClean(r: ReconUnit['reversals'][number], e: ReconUnit['ledger'][number]): boolean {
  if (!accountsCompatible(r.account, e.account)) return false;
  if (e.amount !== r.amount || !sameCurrency(e.currency, r.currency)) return false;
  if (r.status === 'processing') return false;
  const want: NormalizedStatus | null = e.expectedStatus;
  if (want === r.status) return true;
  return r.status !== 'canceled' && r.status !== 'lost' && (want === null || want === 'processing');
}
