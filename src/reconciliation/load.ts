import type {
  NormalizedStatus,
  ReconUnit,
  ReversalKind,
  StripeReversal,
  TransferSnapshot,
} from '../domain/types.js';
import { ledgerSourceFor, type LedgerSource } from '../ledger/source.js';
import { Prisma, rawRows, type AnyDb } from '../db/prisma.js';
import { kindOfKey } from '../domain/units.js';
import { projectedParents, unitKeyOf, type ProjectedParent } from '../ledger/units.js';
import type { Runtime } from '../runtime.js';
import { attachConfirmations } from './lookup-store.js';

interface StoredReversal {
  kind: ReversalKind;
  id: string;
  parent: string;
  account: string | null;
  amount: number;
  currency: string;
  status: string;
  status_raw: string | null;
  created: number;
  metadata: Record<string, string> | null;
  initial_credit_granted: boolean | null;
}

interface StoredTransfer {
  id: string;
  account: string | null;
  amount: number;
  amount_reversed: number;
  currency: string;
  created: number;
  updated_at: Date | null;
}

/**
 * Loads reconciliation units, one per key, in a fixed number of queries whatever the batch size:
 * the transfers, their reversals, the credit / debit reversals of received credits / debits, then
 * the ledger candidates and the projected parents of their Stripe ids.
 *
 * An entry belongs to exactly one unit (`unitKeyOf`): the projected reversal's parent when its
 * `stripe_id` names one, else its `parent_id`, else its `stripe_id`. A key with nothing behind it
 * (e.g. a reversal id that has since been projected under its parent) yields an empty unit, so
 * its stale mismatches resolve.
 */
export async function loadUnits(
  rt: Pick<Runtime, 'prisma' | 'config' | 'log'>,
  keys: readonly string[],
  source: LedgerSource = ledgerSourceFor(rt),
): Promise<ReconUnit[]> {
  return loadUnitsWith(rt.prisma, source, keys);
}

export async function loadUnitsWith(
  db: AnyDb,
  source: LedgerSource,
  keys: readonly string[],
): Promise<ReconUnit[]> {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return [];
  // One statement after the other: a transaction is one connection, which runs one at a time.
  const transfers = await rawRows<StoredTransfer>(
    db,
    Prisma.sql`SELECT id, account, amount, amount_reversed, currency, created, updated_at
                 FROM transfers WHERE id = ANY(${unique}::text[])`,
  );
  const reversals = await rawRows<StoredReversal>(
    db,
    Prisma.sql`SELECT 'transfer_reversal' AS kind, id, transfer AS parent, account, amount, currency, status,
              NULL::text AS status_raw, created, metadata, NULL::boolean AS initial_credit_granted
         FROM transfer_reversals WHERE transfer = ANY(${unique}::text[])
       UNION ALL
       SELECT 'credit_reversal', id, received_credit, account, amount, currency, status, status_raw,
              created, metadata, NULL
         FROM credit_reversals WHERE received_credit = ANY(${unique}::text[])
       UNION ALL
       SELECT 'debit_reversal', id, received_debit, account, amount, currency, status, status_raw,
              created, metadata, initial_credit_granted
         FROM debit_reversals WHERE received_debit = ANY(${unique}::text[])`,
  );

  const units = new Map<string, ReconUnit>();
  for (const key of unique) {
    units.set(key, {
      kind: kindOfKey(key) ?? 'transfer_reversal',
      key,
      transfer: null,
      reversals: [],
      ledger: [],
    });
  }
  for (const t of transfers) {
    const u = units.get(t.id);
    if (u) u.transfer = toTransfer(t);
  }
  const reversalIds: string[] = [];
  // Where each reversal loaded here is projected: an entry naming one of them needs no lookup.
  const known = new Map<string, ProjectedParent>();
  for (const r of reversals) {
    const u = units.get(r.parent);
    if (!u) continue;
    u.kind = r.kind;
    u.reversals.push(toReversal(r));
    reversalIds.push(r.id);
    known.set(r.id, { kind: r.kind, parentId: r.parent });
  }

  const candidates = await source.entriesForUnits(db, unique, reversalIds);
  // Only Stripe ids of reversals not loaded above (another parent's, or not projected) are looked
  // up: most entries name one of the units' own reversals, so this is usually no statement at all.
  const parents = await projectedParents(
    db,
    candidates.map((e) => e.stripeId).filter((s): s is string => !!s && !known.has(s)),
  );
  for (const [id, p] of known) parents.set(id, p);
  const seen = new Set<string>();
  for (const e of candidates) {
    if (seen.has(e.id)) continue; // a view may repeat a row; an entry is reconciled once
    seen.add(e.id);
    const key = unitKeyOf({ id: e.id, stripe_id: e.stripeId, parent_id: e.parentId }, parents);
    const u = units.get(key);
    if (!u) continue;
    if (u.reversals.length === 0 && !u.transfer && u.ledger.length === 0 && !kindOfKey(key))
      u.kind = e.kind;
    u.ledger.push(e);
  }
  const out = [...units.values()];
  await attachConfirmations(db, out);
  return out;
}

function toTransfer(t: StoredTransfer): TransferSnapshot {
  return {
    id: t.id,
    account: t.account,
    amount: Number(t.amount),
    amountReversed: Number(t.amount_reversed),
    currency: t.currency,
    createdMs: Number(t.created) * 1_000,
    // Our projection's last write: a conservative stand-in for "amount_reversed last changed".
    updatedMs: t.updated_at ? t.updated_at.getTime() : null,
  };
}

function toReversal(r: StoredReversal): StripeReversal {
  return {
    kind: r.kind,
    id: r.id,
    account: r.account,
    amount: Number(r.amount),
    currency: r.currency,
    status: r.status as NormalizedStatus,
    statusRaw: r.status_raw,
    parentId: r.parent,
    createdMs: Number(r.created) * 1_000,
    metadata: r.metadata ?? {},
    ...(r.kind === 'debit_reversal'
      ? { initialCreditGranted: r.initial_credit_granted === true }
      : {}),
  };
}
