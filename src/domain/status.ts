import type { NormalizedStatus, ReversalKind } from './types.js';

/**
 * The one place where Stripe's reversal vocabularies become our lifecycle (see DESIGN.md,
 * "Pinned semantics"). Raw values are stored verbatim elsewhere; only this file interprets them.
 *
 *   transfer reversal: exists once listed          → succeeded
 *   credit reversal:   processing → posted | canceled
 *   debit reversal:    processing → won | lost | canceled
 *
 * Enums are open: an unknown raw word maps to null and the caller keeps the previous status.
 */

const RANK: Record<ReversalKind, Partial<Record<NormalizedStatus, number>>> = {
  transfer_reversal: { succeeded: 3 },
  credit_reversal: { processing: 1, posted: 3, canceled: 3 },
  debit_reversal: { processing: 1, won: 3, lost: 3, canceled: 3 },
};

/** Rank of a status in its lifecycle; 0 for "not a word of this kind". Finals share the top rank. */
export function statusRank(kind: ReversalKind, status: NormalizedStatus | null): number {
  return status ? (RANK[kind][status] ?? 0) : 0;
}

export function isFinalStatus(kind: ReversalKind, status: NormalizedStatus | null): boolean {
  return statusRank(kind, status) === 3;
}

export function normalizeCreditReversalStatus(
  raw: string | null | undefined,
): NormalizedStatus | null {
  switch (raw) {
    case 'processing':
    case 'posted':
    case 'canceled':
      return raw;
    default:
      return null;
  }
}

export interface DebitReversalFields {
  status: string | null | undefined;
  /** Not on Stripe's object today; honoured if it ever appears (the list filter uses it). */
  resolution?: string | null | undefined;
  transaction?: string | { id: string } | null | undefined;
}

export function normalizeDebitReversalStatus(d: DebitReversalFields): NormalizedStatus | null {
  if (d.resolution === 'won' || d.resolution === 'lost') {
    // `resolution` decides whenever present, whatever `status` says (completed/succeeded/failed).
    return d.status === 'canceled' ? 'canceled' : d.resolution;
  }
  switch (d.status) {
    case 'processing':
      return 'processing';
    case 'canceled':
      return 'canceled';
    case 'succeeded':
      return 'won';
    case 'failed':
      return 'lost';
    case 'completed':
      // The list filter's word: won if Stripe created a crediting transaction.
      return d.transaction ? 'won' : 'lost';
    default:
      return null;
  }
}

/** Maps a ledger `expected_status` word — ours or Stripe's — onto the normalised lifecycle. */
export function normalizeExpectedStatus(kind: ReversalKind, word: string): NormalizedStatus | null {
  const w = word.trim().toLowerCase();
  switch (kind) {
    case 'transfer_reversal':
      return w === 'succeeded' || w === 'reversed' ? 'succeeded' : null;
    case 'credit_reversal':
      return normalizeCreditReversalStatus(w);
    case 'debit_reversal':
      switch (w) {
        case 'processing':
        case 'canceled':
        case 'won':
        case 'lost':
          return w;
        case 'succeeded':
          return 'won';
        case 'failed':
          return 'lost';
        default:
          return null;
      }
  }
}
