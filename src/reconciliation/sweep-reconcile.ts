import { ledgerSourceFor } from '../ledger/source.js';
import { Prisma, rawRows, transaction, type PrismaClient } from '../db/prisma.js';
import type { Runtime } from '../runtime.js';
import {
  reconcileAll,
  reconcileKeys,
  type ReconcileAllResult,
  type ReconcileKeysOptions,
} from './reconcile-all.js';

/**
 * Set-based narrowing for the full sweep: instead of loading every unit into Node (2 M rows for a
 * million reversals and a million entries), Postgres returns the keys of the units that can have
 * anything to say, and only those go through loadUnits → reconcile() → persist.
 *
 * It is `unitNeedsReconcile` (src/domain/narrow.ts) in SQL, plus the units with an open mismatch
 * (so one whose unit became clean is resolved). A unit is a candidate when any of these holds:
 *
 *   C2  an entry has no stripe_id, or its stripe_id names no projected reversal
 *       → the entry's unit: COALESCE(parent_id, stripe_id) (unitKeyOf without a projected parent);
 *   C2  two or more entries name the same reversal → the reversal's parent;
 *   C3  a reversal that no entry names → its parent;
 *   C4  the one pair (reversal, entry) differs: account (both set and different), amount,
 *       currency (case-insensitive), status `processing`, or expected_status neither equal nor
 *       (null | `processing` while the status is not `canceled` / `lost`) → the reversal's parent;
 *   C5  a projected transfer whose Σ reversal amounts ≠ amount_reversed, or amount_reversed >
 *       amount → the transfer;
 *       an open mismatch → its unit_key.
 * C1 (reversal ids distinct) is each projection table's primary key; ids of different tables carry
 * different prefixes (trr_, credrev_, debrev_).
 *
 * The rest of the units are certainly clean: reconcile() would return [] for them whatever `now`,
 * and they have no open mismatch to resolve, so skipping them changes nothing.
 *
 * Why hash joins and aggregates: each table is read sequentially, which is the cost of the plain
 * FULL OUTER JOIN of reversals and ledger that finds the differing rows — nothing row by row, no
 * million random index lookups, and only the few thousand candidate keys ever reach Node.
 */
const REVERSALS = `
  SELECT id, transfer AS parent, account, amount, currency, status FROM transfer_reversals
  UNION ALL SELECT id, received_credit, account, amount, currency, status FROM credit_reversals
  UNION ALL SELECT id, received_debit, account, amount, currency, status FROM debit_reversals`;

/** C2 (unnamed entries), C3, C4: one hash FULL JOIN of reversals and entries, the baseline's own shape. */
export const PAIR_CANDIDATES_SQL = `
SELECT DISTINCT CASE WHEN r.id IS NULL THEN COALESCE(e.parent_id, e.stripe_id) ELSE r.parent END AS key
  FROM (${REVERSALS}) r
  FULL JOIN ledger_entries e ON e.stripe_id = r.id
 WHERE r.id IS NULL                                    -- C2: names nothing projected (or nothing)
    OR e.id IS NULL                                    -- C3: named by no entry
    OR (r.account IS NOT NULL AND e.account IS NOT NULL AND r.account <> e.account)
    OR e.amount <> r.amount
    OR (e.currency <> r.currency AND lower(e.currency) <> lower(r.currency))  -- lower() only when needed
    OR r.status = 'processing'
    OR (e.expected_status IS DISTINCT FROM r.status
        AND (r.status IN ('canceled', 'lost')
             OR (e.expected_status IS NOT NULL AND e.expected_status <> 'processing')))`; // C4

/**
 * C2: reversals named by two or more entries → their parent. Grouped in stripe_id order (an
 * index-only scan of ledger_entries_stripe_id_idx streams it; hashing a million ids is 3× slower),
 * then each id looked up by primary key. Unprojected ids are caught by PAIR_CANDIDATES_SQL.
 */
export const SHARED_CANDIDATES_SQL = `
WITH shared AS MATERIALIZED (
  SELECT stripe_id FROM ledger_entries WHERE stripe_id IS NOT NULL GROUP BY stripe_id HAVING count(*) > 1
)
SELECT transfer AS key FROM transfer_reversals WHERE id IN (SELECT stripe_id FROM shared)
UNION SELECT received_credit FROM credit_reversals WHERE id IN (SELECT stripe_id FROM shared)
UNION SELECT received_debit FROM debit_reversals WHERE id IN (SELECT stripe_id FROM shared)
UNION SELECT unit_key FROM mismatches WHERE status = 'open'`;

/** C5: transfers whose reversals do not add up to amount_reversed, or over-reversed. */
export const TOTAL_CANDIDATES_SQL = `
SELECT t.id AS key
  FROM transfers t
  LEFT JOIN (SELECT transfer, sum(amount) AS total FROM transfer_reversals GROUP BY transfer) s
         ON s.transfer = t.id
 WHERE COALESCE(s.total, 0) <> t.amount_reversed OR t.amount_reversed > t.amount`;

/**
 * Session settings for these scans, applied with SET LOCAL (this transaction only): enough
 * work_mem for the million-row hash tables to stay in memory instead of spilling in batches, and
 * no JIT (compiling ~80 expressions costs more than it saves on a scan this simple).
 */
export const SCAN_SETTINGS = { work_mem: '64MB', jit: 'off' } as const;

async function scan(
  prisma: PrismaClient,
  sql: string,
  extra: Record<string, string> = {},
): Promise<string[]> {
  return transaction(
    prisma,
    async (tx) => {
      // A constant statement with no parameters: Prisma.raw is the tagged form of it.
      const rows = await rawRows<{ key: string | null }>(tx, Prisma.raw(sql));
      return rows.map((r) => r.key).filter((k): k is string => k !== null);
    },
    { readOnly: true, settings: { ...SCAN_SETTINGS, ...extra } },
  );
}

/**
 * The keys of every unit a full sweep must reconcile, sorted. The three scans are independent and
 * run at once on three pooled connections (Postgres runs each in its own backend, so they use all
 * cores; a FULL JOIN cannot be parallelised inside one query before Postgres 16). They need not
 * share a snapshot: a unit that changes meanwhile has its own reconcile job queued by that change.
 */
export async function candidateUnitKeys(prisma: PrismaClient): Promise<string[]> {
  const parts = await Promise.all([
    scan(prisma, PAIR_CANDIDATES_SQL),
    scan(prisma, TOTAL_CANDIDATES_SQL),
    scan(prisma, SHARED_CANDIDATES_SQL, { enable_hashagg: 'off' }),
  ]);
  return [...new Set(parts.flat())].sort();
}

/**
 * `reconcileAll` with set-based narrowing: the same options and result, but only the candidate
 * units are loaded and reconciled (`units` in the result counts those). Open mismatches of units
 * that are now clean are resolved, because such units are candidates and reconcile() produces
 * nothing for them. Two batches run at once unless `concurrency` says otherwise.
 *
 * With LEDGER_SQL_VIEW the ledger is the platform's own view, whose rows are validated and
 * normalised in Node (raw Stripe status words, currency case): the SQL above cannot vouch for
 * them, so that configuration falls back to the full `reconcileAll`.
 */
export async function reconcileAllNarrowed(
  rt: Pick<Runtime, 'prisma' | 'config' | 'log'>,
  opts: ReconcileKeysOptions = {},
): Promise<ReconcileAllResult> {
  if (ledgerSourceFor(rt).kind !== 'table') return reconcileAll(rt, opts);
  return reconcileKeys(rt, await candidateUnitKeys(rt.prisma), { concurrency: 2, ...opts });
}
