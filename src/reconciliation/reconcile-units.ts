import type { Config } from '../config/config.js';
import { DERIVED_WRITES, type Pool } from '../db/pool.js';
import { Prisma, rawExecute, transactionOn, type AnyDb, type PrismaClient } from '../db/prisma.js';
import { pendingLookups } from '../domain/lookup.js';
import { reconcile } from '../domain/reconcile.js';
import type { Mismatch, ReconRules, ReconUnit } from '../domain/types.js';
import { ledgerSourceFor, type LedgerSource } from '../ledger/source.js';
import type { Runtime } from '../runtime.js';
import { loadUnitsWith } from './load.js';
import { scheduleLookups } from './lookup-store.js';
import { backOffUnits, takeDueUnits } from './outbox.js';
import { persistMismatchesWith, type MismatchChanges, type UnitMismatch } from './persist.js';
import { reconcileRunsTotal } from '../metrics.js';

/** The reconciler's rules, from config (`RECON_*`). */
export function rulesFromConfig(config: Config): ReconRules {
  return {
    graceMs: config.RECON_GRACE_PERIOD,
    stuckAfterMs: {
      credit_reversal: config.RECON_STUCK_AFTER_CREDIT_REVERSAL,
      debit_reversal: config.RECON_STUCK_AFTER_DEBIT_REVERSAL,
    },
    matchWindowMs: config.RECON_MATCH_WINDOW,
    metadataKey: config.RECON_MATCH_METADATA_KEY,
    severity: config.RECON_SEVERITY,
    confirmMissingInStripe: config.RECON_CONFIRM_MISSING,
  };
}

export interface ReconcileUnitsOptions {
  /** @defaultValue rt.clock(), else Date.now() */
  now?: number;
  /** @defaultValue rulesFromConfig(rt.config) */
  rules?: ReconRules;
  /** @defaultValue ledgerSourceFor(rt) (the table, or LEDGER_SQL_VIEW) */
  source?: LedgerSource;
  /** Label of the `recon_reconcile_runs_total` metric. @defaultValue 'worker' */
  trigger?: 'worker' | 'sweep';
  /**
   * Where the transaction runs: Prisma (the default), or the pg pool Prisma rides on, which the
   * reconcile worker passes (the same statements; see docs/performance.md for why).
   */
  db?: PrismaClient | Pool;
}

export interface ReconcileUnitsResult {
  units: ReconUnit[];
  mismatches: Mismatch[];
  changes: MismatchChanges;
  /** Units whose reconcile() threw (a bug in the domain): left untouched, reported to the caller. */
  failed: Array<{ key: string; error: unknown }>;
}

type ReconcileRuntime = Pick<Runtime, 'prisma' | 'config' | 'log'> &
  Partial<Pick<Runtime, 'clock'>>;

/** A fresh empty result (callers may add to its arrays). */
const nothing = (): ReconcileUnitsResult => ({
  units: [],
  mismatches: [],
  changes: { opened: [], escalated: [], resolved: [] },
  failed: [],
});

/**
 * Load → reconcile → persist for a batch of units, in ONE transaction that first takes a
 * transaction-scoped advisory lock per unit (in hash order, so batches never deadlock). Two
 * workers reconciling the same unit therefore run one after the other, and the later one reads
 * what the earlier one could not — a stale verdict can never overwrite a fresh one.
 */
export async function reconcileUnits(
  rt: ReconcileRuntime,
  keys: readonly string[],
  opts: ReconcileUnitsOptions = {},
): Promise<ReconcileUnitsResult> {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return nothing();
  return transactionOn(opts.db ?? rt.prisma, (c) => reconcileIn(c, rt, unique, opts), {
    settings: DERIVED_WRITES,
  });
}

export interface ReconcileDueResult extends ReconcileUnitsResult {
  /** Outbox rows taken (and deleted, or backed off for the units that failed). */
  taken: number;
}

/**
 * The reconcile worker's batch: takes up to `limit` due units out of the outbox and reconciles
 * them, in ONE transaction. The take is a DELETE … RETURNING of due rows (SKIP LOCKED), so the
 * rows leave the outbox exactly when their verdicts commit, a crash gives them straight back,
 * and two drains never take the same unit. A writer that touches a taken unit meanwhile waits on
 * its row until this commits, then inserts it afresh: the unit is reconciled again, with what that
 * writer committed. Units whose reconcile() throws go back in, backed off (attempts + 1).
 */
export async function reconcileDueUnits(
  rt: ReconcileRuntime,
  limit: number,
  opts: ReconcileUnitsOptions = {},
): Promise<ReconcileDueResult> {
  return transactionOn(
    opts.db ?? rt.prisma,
    async (c) => {
      const taken = await takeDueUnits(c, limit);
      if (taken.length === 0) return { ...nothing(), taken: 0 };
      const r = await reconcileIn(
        c,
        rt,
        taken.map((t) => t.key),
        opts,
      );
      const attempts = new Map(taken.map((t) => [t.key, t.attempts]));
      await backOffUnits(
        c,
        r.failed.map((f) => ({ ...f, attempts: attempts.get(f.key) ?? 0 })),
      );
      return { ...r, taken: taken.length };
    },
    { settings: DERIVED_WRITES },
  );
}

async function reconcileIn(
  c: AnyDb,
  rt: ReconcileRuntime,
  unique: readonly string[],
  opts: ReconcileUnitsOptions,
): Promise<ReconcileUnitsResult> {
  const rules = opts.rules ?? rulesFromConfig(rt.config);
  const source = opts.source ?? ledgerSourceFor(rt);
  // $executeRaw: the locks' rows are of type void, which $queryRaw cannot read.
  await rawExecute(
    c,
    Prisma.sql`SELECT pg_advisory_xact_lock(h) FROM (
         SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(${unique}::text[]) AS k ORDER BY 1 OFFSET 0
       ) AS locks`,
  );
  // `now` is read after the locks: a run that waited must not judge with an older clock.
  const now = opts.now ?? (rt.clock ?? Date.now)();
  const units = await loadUnitsWith(c, source, unique);
  const all: UnitMismatch[] = [];
  const done: string[] = [];
  const failed: ReconcileUnitsResult['failed'] = [];
  for (const unit of units) {
    try {
      for (const m of reconcile(unit, rules, now)) all.push({ ...m, unitKey: unit.key });
      done.push(unit.key);
      // A reversal id used as a unit key before the reversal was projected (ledger first) is a
      // stale unit now: its leftovers are swept with this unit's.
      for (const r of unit.reversals) done.push(r.id);
    } catch (error) {
      failed.push({ key: unit.key, error });
    }
  }
  const changes = await persistMismatchesWith(c, done, all, now);
  // Confirm before raising: what the units could not settle without asking Stripe.
  if (rules.confirmMissingInStripe)
    await scheduleLookups(
      c,
      units.flatMap((u) => pendingLookups(u, rules)),
    );
  const trigger = opts.trigger ?? 'worker';
  if (done.length) reconcileRunsTotal.inc({ trigger, result: 'ok' }, units.length - failed.length);
  if (failed.length) reconcileRunsTotal.inc({ trigger, result: 'failed' }, failed.length);
  return { units, mismatches: all, changes, failed };
}
