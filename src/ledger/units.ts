import { Prisma, rawRows, type AnyDb } from '../db/prisma.js';
import type { ReversalKind } from '../domain/types.js';

export interface ProjectedParent {
  kind: ReversalKind;
  parentId: string;
}

/**
 * The parent (unit key) of each projected reversal among `stripeIds`. Stripe is the authority on
 * where a reversal belongs: an entry naming a projected reversal joins that reversal's unit, even
 * when its own `parent_id` says otherwise (the reconciler then reports the disagreement once).
 */
export async function projectedParents(
  db: AnyDb,
  stripeIds: readonly string[],
): Promise<Map<string, ProjectedParent>> {
  const out = new Map<string, ProjectedParent>();
  const ids = [...new Set(stripeIds.filter(Boolean))];
  if (ids.length === 0) return out;
  const rows = await rawRows<{ id: string; kind: ReversalKind; parent: string }>(
    db,
    Prisma.sql`SELECT id, 'transfer_reversal' AS kind, transfer AS parent FROM transfer_reversals WHERE id = ANY(${ids}::text[])
     UNION ALL
     SELECT id, 'credit_reversal', received_credit FROM credit_reversals WHERE id = ANY(${ids}::text[])
     UNION ALL
     SELECT id, 'debit_reversal', received_debit FROM debit_reversals WHERE id = ANY(${ids}::text[])`,
  );
  for (const r of rows) out.set(r.id, { kind: r.kind, parentId: r.parent });
  return out;
}

/** Where an entry is reconciled: its projected reversal's parent, else its parent, else its Stripe id. */
export function unitKeyOf(
  e: { stripe_id: string | null; parent_id: string | null; id: string },
  parents: ReadonlyMap<string, ProjectedParent>,
): string {
  return (
    (e.stripe_id ? parents.get(e.stripe_id)?.parentId : undefined) ??
    e.parent_id ??
    e.stripe_id ??
    e.id
  );
}
