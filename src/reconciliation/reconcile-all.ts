import { Prisma, rawRows } from '../db/prisma.js';
import { ledgerSourceFor } from '../ledger/source.js';
import { projectedParents, unitKeyOf } from '../ledger/units.js';
import type { Runtime } from '../runtime.js';
import { emptyChanges, type MismatchChanges } from './persist.js';
import { reconcileUnits, rulesFromConfig } from './reconcile-units.js';

export interface ReconcileAllProgress {
  done: number;
  total: number;
}

export interface ReconcileAllOptions {
  /** Units per transaction. @defaultValue 200 */
  batchSize?: number;
  onProgress?: (p: ReconcileAllProgress) => void;
  /** Called after each batch with what changed in it. */
  onChanges?: (changes: MismatchChanges) => void | Promise<void>;
  /** @defaultValue Date.now() at each batch */
  now?: number;
}

export interface ReconcileAllResult {
  units: number;
  mismatches: number;
  changes: MismatchChanges;
  failed: Array<{ key: string; error: unknown }>;
}

/**
 * Every unit key there is: parents of projected reversals, projected transfers, the units of
 * every ledger entry (`unitKeyOf`), and the units of open mismatches (so that one whose objects
 * vanished still gets resolved). Sorted, so a run's order is reproducible.
 */
export async function allUnitKeys(
  rt: Pick<Runtime, 'prisma' | 'config' | 'log'>,
): Promise<string[]> {
  const source = ledgerSourceFor(rt);
  const projected = await rawRows<{ key: string }>(
    rt.prisma,
    Prisma.sql`SELECT id AS key FROM transfers
       UNION SELECT transfer FROM transfer_reversals
       UNION SELECT received_credit FROM credit_reversals
       UNION SELECT received_debit FROM debit_reversals
       UNION SELECT unit_key FROM mismatches WHERE status = 'open'`,
  );
  const candidates = await source.unitCandidates(rt.prisma);
  const keys = new Set(projected.map((r) => r.key));
  const parents = await projectedParents(
    rt.prisma,
    candidates.map((c) => c.stripe_id).filter((s): s is string => !!s),
  );
  for (const c of candidates)
    keys.add(unitKeyOf({ id: '', stripe_id: c.stripe_id, parent_id: c.parent_id }, parents));
  keys.delete('');
  return [...keys].sort();
}

export interface ReconcileKeysOptions extends ReconcileAllOptions {
  /**
   * Batches reconciled at once, each in its own transaction on its own pooled connection (units
   * are disjoint and locked per unit, so batches never wait on each other). @defaultValue 1
   */
  concurrency?: number;
}

/** Reconciles the given units in batches, `concurrency` at a time, reporting progress and changes. */
export async function reconcileKeys(
  rt: Pick<Runtime, 'prisma' | 'config' | 'log'>,
  keys: readonly string[],
  opts: ReconcileKeysOptions = {},
): Promise<ReconcileAllResult> {
  const batchSize = Math.max(1, opts.batchSize ?? 200);
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const rules = rulesFromConfig(rt.config);
  const source = ledgerSourceFor(rt);
  const result: ReconcileAllResult = {
    units: keys.length,
    mismatches: 0,
    changes: emptyChanges(),
    failed: [],
  };
  opts.onProgress?.({ done: 0, total: keys.length });
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < keys.length) {
      const batch = keys.slice(next, next + batchSize);
      next += batch.length;
      const r = await reconcileUnits(rt, batch, { rules, source, now: opts.now, trigger: 'sweep' });
      result.mismatches += r.mismatches.length;
      result.changes.opened.push(...r.changes.opened);
      result.changes.escalated.push(...r.changes.escalated);
      result.changes.resolved.push(...r.changes.resolved);
      result.failed.push(...r.failed);
      if (opts.onChanges) await opts.onChanges(r.changes);
      done += batch.length;
      opts.onProgress?.({ done, total: keys.length });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return result;
}

/** Reconciles every unit in batches (the full scan; `reconcileAllNarrowed` is the sweep's). */
export async function reconcileAll(
  rt: Pick<Runtime, 'prisma' | 'config' | 'log'>,
  opts: ReconcileKeysOptions = {},
): Promise<ReconcileAllResult> {
  return reconcileKeys(rt, await allUnitKeys(rt), opts);
}
