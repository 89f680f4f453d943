import type { ReconcileJobData } from '../queue/queues.js';
import type { Runtime } from '../runtime.js';

export interface UnitRef {
  kind: string;
  key: string;
}

/** How long a burst to one unit is coalesced before its reconcile job runs. */
export const RECONCILE_DEDUP_MS = 200;

function dedupTtl(delayMs: number): number {
  return Math.max(1, Math.floor(delayMs * 0.8));
}

/**
 * Adds one reconcile job per unit in one round trip, deduplicated by unit key: while a job for
 * the unit is pending, further adds are absorbed. The job is delayed past the window it
 * deduplicates, so it runs only after the window closed and reads state that includes every
 * change it absorbed; a change after that opens a new window and a new job.
 */
export async function addReconcileJobs(
  rt: Pick<Runtime, 'queues'>,
  units: readonly UnitRef[],
  delayMs = RECONCILE_DEDUP_MS,
): Promise<void> {
  const unique = new Map(units.map((u) => [u.key, u]));
  if (unique.size === 0) return;
  await rt.queues.reconcile.addBulk(
    [...unique.values()].map((u) => ({
      name: 'reconcile',
      data: { kind: u.kind, key: u.key } satisfies ReconcileJobData,
      // The dedup window closes a little before the job may start: an add absorbed by a job that
      // is already running would be lost, one that arrives after the window makes a new job.
      opts: { deduplication: { id: `unit:${u.key}`, ttl: dedupTtl(delayMs) }, delay: delayMs },
    })),
  );
}

/**
 * For writers whose change is already committed and cannot be retried (the ledger API, a replay):
 * a Redis outage is logged, not thrown — the nightly sweep reconciles every unit anyway.
 * Returns false when the jobs could not be added.
 */
export async function enqueueReconcile(
  rt: Pick<Runtime, 'queues' | 'log'>,
  units: readonly UnitRef[],
): Promise<boolean> {
  try {
    await addReconcileJobs(rt, units);
    return true;
  } catch (err) {
    rt.log.warn(
      { err, units: units.length },
      'could not enqueue reconcile jobs; the sweep will catch up',
    );
    return false;
  }
}
