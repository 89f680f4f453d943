import type { MismatchKind } from './types.js';

/**
 * Kinds about one (Stripe object, ledger entry) pair carry the entry id in their fingerprint.
 * The others are facts about the Stripe object (or transfer) alone: their fingerprint leaves the
 * entry out, so the row survives an entry being matched, re-matched or corrected later.
 */
const PAIR_KINDS: ReadonlySet<MismatchKind> = new Set<MismatchKind>([
  'missing_in_stripe',
  'amount_mismatch',
  'currency_mismatch',
  'status_mismatch',
]);

export function fingerprintIncludesEntry(kind: MismatchKind): boolean {
  return PAIR_KINDS.has(kind);
}

/**
 * Stable and readable: `amount_mismatch:trr_1:le_9`, `reversal_lost:debrev_1:-`,
 * `missing_in_stripe:-:le_9`. Independent of amounts and statuses, so a changed amount updates
 * the same row; a different root cause is a different row.
 */
export function fingerprint(
  kind: MismatchKind,
  objectId: string | null,
  ledgerEntryId: string | null,
): string {
  const entry = fingerprintIncludesEntry(kind) ? ledgerEntryId : null;
  return `${kind}:${objectId ?? '-'}:${entry ?? '-'}`;
}
