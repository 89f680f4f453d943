import type { Worker } from 'bullmq';
import { BatchConsumer, type JobOutcome } from '../queue/batch-consumer.js';
import { QUEUE_NAMES, createRedis, type ReconcileJobData } from '../queue/queues.js';
import type { Runtime } from '../runtime.js';
import type { MismatchChanges } from './persist.js';
import { reconcileUnits, rulesFromConfig } from './reconcile-units.js';

export interface ReconcileWorkerOptions {
  /** Jobs held at once, across the batches in flight. @defaultValue RECONCILE_CONCURRENCY */
  concurrency?: number;
  /** Batches reconciled at once, each in its own transaction. @defaultValue 2 */
  maxInFlight?: number;
  /** Called after each committed batch with what changed (alerts hook in here). Errors are logged, not retried. */
  onChanges?: (changes: MismatchChanges) => void | Promise<void>;
}

export interface ReconcileWorker {
  /** The BullMQ worker the consumer fetches with (manual mode). */
  worker: Worker<ReconcileJobData>;
  consumer: BatchConsumer<ReconcileJobData>;
  close(): Promise<void>;
}

/**
 * The reconcile queue's consumer. Each job is one unit (`{kind, key}`, deduplicated per unit by
 * the producers). The jobs that are ready are taken together and loaded, reconciled and persisted
 * as one batch (a fixed number of queries and one transaction for the lot), which is what keeps a
 * burst of thousands of events cheap. A unit whose reconcile throws fails only its own job (BullMQ
 * retries it with backoff; after the last attempt it stays in the failed set — the dead letters).
 */
export function startReconcileWorker(
  rt: Runtime,
  opts: ReconcileWorkerOptions = {},
): ReconcileWorker {
  const concurrency = opts.concurrency ?? rt.config.RECONCILE_CONCURRENCY;
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 2);
  const rules = rulesFromConfig(rt.config);
  const log = rt.log.child({ worker: 'reconcile' });
  const consumer = new BatchConsumer<ReconcileJobData>({
    queueName: QUEUE_NAMES.reconcile,
    prefix: rt.config.QUEUE_PREFIX,
    connection: createRedis(rt.config.REDIS_URL),
    log,
    maxBatch: Math.max(1, Math.ceil(concurrency / maxInFlight)),
    maxInFlight,
    handle: async (jobs) => {
      // A malformed job has nothing to reconcile: it completes.
      const keyOf = (d: ReconcileJobData | undefined) =>
        typeof d?.key === 'string' && d.key !== '' ? d.key : null;
      const keys = jobs.map((j) => keyOf(j.data)).filter((k): k is string => k !== null);
      const r = await reconcileUnits(rt, keys, { rules });
      const failed = new Map(r.failed.map((f) => [f.key, f.error]));
      for (const f of r.failed)
        log.error({ err: f.error, objectId: f.key }, 'reconcile failed for unit');
      const { opened, escalated, resolved } = r.changes;
      if (opened.length || escalated.length || resolved.length) {
        log.info(
          {
            units: keys.length,
            opened: opened.length,
            escalated: escalated.length,
            resolved: resolved.length,
          },
          'mismatches changed',
        );
        if (opts.onChanges) {
          try {
            await opts.onChanges(r.changes);
          } catch (err) {
            log.error({ err }, 'onChanges hook failed');
          }
        }
      }
      return jobs.map((j): JobOutcome => {
        const key = keyOf(j.data);
        if (key === null || !failed.has(key)) return null;
        const err = failed.get(key);
        return err instanceof Error ? err : new Error(String(err));
      });
    },
  });
  consumer.on('failed', (job, err, final) =>
    log.warn(
      { err, jobId: job.id, objectId: job.data?.key, attempts: job.attemptsMade, final },
      'reconcile job failed',
    ),
  );

  return {
    worker: consumer.worker,
    consumer,
    close: () => consumer.close(),
  };
}
