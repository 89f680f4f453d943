import { Prisma, rawRows } from '../db/prisma.js';
import { matchUnit, type MatchMethod } from '../domain/match.js';
import type { LedgerEntry } from '../domain/types.js';
import { projectedParents } from '../ledger/units.js';
import type { Runtime } from '../runtime.js';
import { loadUnits } from './load.js';
import {
  MISMATCH_COLUMNS,
  toApiMismatch,
  type ApiMismatch,
  type MismatchRow,
} from './mismatch-record.js';
import { rulesFromConfig } from './reconcile-units.js';

export interface ApiLedgerEntry {
  id: string;
  object: 'ledger_entry';
  kind: string;
  stripe_id: string | null;
  parent_id: string | null;
  amount: number;
  currency: string;
  expected_status: string | null;
  account: string | null;
  occurred_at: string | null;
  metadata: Record<string, unknown>;
  /** How the entry was matched to the reversal: by `stripe_id`, `metadata` key or `fallback`. */
  match_method: MatchMethod;
}

export interface ReversalExtras {
  /** Entries matched to the reversal (the primary match first, then duplicate claims). */
  ledger_entries: ApiLedgerEntry[];
  /** Open mismatches about the reversal or its matched entries, newest first. */
  mismatches: ApiMismatch[];
}

/**
 * The reconciliation side of `GET /api/reversals/:id`: matched ledger entries (by the domain's own
 * matcher, so the API shows exactly what the reconciler compared) and open mismatches.
 * Returns empty lists for an id that is not projected.
 */
export async function reversalExtras(
  /** `pool` for loadUnits (src/reconciliation/load.ts, still on pg); the rest goes through Prisma. */
  rt: Pick<Runtime, 'pool' | 'prisma' | 'config' | 'log'>,
  id: string,
  /** The reversal's parent when the caller already knows it (saves a lookup). */
  parentId?: string,
): Promise<ReversalExtras> {
  const parent = parentId ?? (await projectedParents(rt.prisma, [id])).get(id)?.parentId;
  const entries: ApiLedgerEntry[] = [];
  if (parent) {
    const [unit] = await loadUnits(rt, [parent]);
    if (unit) {
      const m = matchUnit(unit, rulesFromConfig(rt.config)).matched.find(
        (x) => x.reversal.id === id,
      );
      if (m) for (const c of [m.primary, ...m.extras]) entries.push(toApiEntry(c.entry, c.method));
    }
  }
  const rows = await rawRows<MismatchRow>(
    rt.prisma,
    Prisma.sql`SELECT ${Prisma.raw(MISMATCH_COLUMNS)} FROM mismatches m
     WHERE m.status = 'open' AND (m.object_id = ${id} OR m.ledger_entry_id = ANY(${entries.map((e) => e.id)}::text[]))
     ORDER BY m.id DESC LIMIT 100`,
  );
  return { ledger_entries: entries, mismatches: rows.map(toApiMismatch) };
}

function toApiEntry(e: LedgerEntry, method: MatchMethod): ApiLedgerEntry {
  return {
    id: e.id,
    object: 'ledger_entry',
    kind: e.kind,
    stripe_id: e.stripeId,
    parent_id: e.parentId,
    amount: e.amount,
    currency: e.currency,
    expected_status: e.expectedStatus,
    account: e.account,
    occurred_at: e.occurredAtMs === null ? null : new Date(e.occurredAtMs).toISOString(),
    metadata: e.metadata,
    match_method: method,
  };
}
