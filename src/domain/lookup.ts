import { PARENT_ID_PREFIX, REVERSAL_ID_PREFIX } from './ids.js';
import type { LedgerEntry, ReconRules, ReconUnit, ReversalKind } from './types.js';
import { matchUnit } from './match.js';

/**
 * What to ask Stripe before calling a ledger entry `missing_in_stripe` (see README.md, "Confirm
 * before raising"):
 *
 * - `reversal`: the entry names a reversal id we never projected → GET it by id (a transfer
 *   reversal is only addressable under its transfer, so a `trr_` needs the entry's `parent_id`);
 * - `parent`: the entry names no reversal id but a parent → GET the parent and list its reversals.
 *
 * Null when there is nothing to ask: the named reversal is projected (the disagreement is
 * already visible), or the entry names neither a usable id nor a parent.
 */
export type StripeLookupTarget =
  | {
      type: 'reversal';
      kind: ReversalKind;
      id: string;
      parentId: string | null;
      account: string | null;
    }
  | { type: 'parent'; kind: ReversalKind; id: string; account: string | null };

export function stripeLookupFor(
  e: LedgerEntry,
  projectedIds: ReadonlySet<string>,
): StripeLookupTarget | null {
  const parent =
    e.parentId !== null && e.parentId.startsWith(PARENT_ID_PREFIX[e.kind]) ? e.parentId : null;
  if (e.stripeId !== null) {
    if (projectedIds.has(e.stripeId)) return null;
    // An id of another kind's prefix cannot be fetched with this kind's endpoint: a typo, raised
    // after grace like an entry with nothing to look up.
    if (!e.stripeId.startsWith(REVERSAL_ID_PREFIX[e.kind])) return null;
    if (e.kind === 'transfer_reversal' && parent === null) return null;
    return { type: 'reversal', kind: e.kind, id: e.stripeId, parentId: parent, account: e.account };
  }
  if (parent !== null) return { type: 'parent', kind: e.kind, id: parent, account: e.account };
  return null;
}

/** The entry's own time: when it says it happened, else when we first heard of it. */
export function entryGraceStartMs(e: LedgerEntry): number {
  return e.occurredAtMs ?? e.createdAtMs ?? e.updatedAtMs;
}

/** A confirmation counts only if Stripe was asked at or after the entry's own time. */
export function absenceConfirmed(e: LedgerEntry): boolean {
  return (
    e.absentConfirmedAtMs !== undefined &&
    e.absentConfirmedAtMs !== null &&
    e.absentConfirmedAtMs >= entryGraceStartMs(e)
  );
}

export interface PendingLookup {
  entryId: string;
  target: StripeLookupTarget;
  /** When the lookup may run: the entry's own time plus the grace period. */
  dueAtMs: number;
  /** Confirmations older than this are stale for the entry. */
  neededSinceMs: number;
}

/**
 * The lookups a unit still needs: one per unmatched entry with a target whose absence is not
 * confirmed. Inside grace they are returned too, due when grace ends, so that the adapter can
 * schedule them durably instead of waiting for the next event on the unit.
 */
export function pendingLookups(
  unit: ReconUnit,
  rules: Pick<ReconRules, 'metadataKey' | 'matchWindowMs' | 'graceMs'>,
): PendingLookup[] {
  if (unit.ledger.length === 0) return [];
  const projected = new Set(unit.reversals.map((r) => r.id));
  const out: PendingLookup[] = [];
  for (const e of matchUnit(unit, rules).unmatchedEntries) {
    const target = stripeLookupFor(e, projected);
    if (target === null || absenceConfirmed(e)) continue;
    const since = entryGraceStartMs(e);
    out.push({ entryId: e.id, target, dueAtMs: since + rules.graceMs, neededSinceMs: since });
  }
  return out;
}
