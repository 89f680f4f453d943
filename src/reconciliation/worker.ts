import { Worker, type Job } from 'bullmq';
import { QUEUE_NAMES, createRedis, type ReconcileJobData } from '../queue/queues.js';
import type { Runtime } from '../runtime.js';
import type { MismatchChanges } from './persist.js';
import { reconcileUnits, rulesFromConfig } from './reconcile-units.js';

export interface ReconcileWorkerOptions {
  /** Jobs in flight at once; they are reconciled together in micro-batches. @defaultValue RECONCILE_CONCURRENCY */
  concurrency?: number;
  /** How long a job waits for others to join its batch. @defaultValue 5 */
  batchWindowMs?: number;
  /** Called after each committed batch with what changed (alerts hook in here). Errors are logged, not retried. */
  onChanges?: (changes: MismatchChanges) => void | Promise<void>;
}

export interface ReconcileWorker {
  worker: Worker<ReconcileJobData>;
  close(): Promise<void>;
}

interface Pending {
  key: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The reconcile queue's consumer. Each job is one unit (`{kind, key}`, deduplicated per unit by
 * the producers). Jobs that are in flight together are loaded, reconciled and persisted as one
 * batch (a fixed number of queries and one transaction for the lot), which is what keeps a burst
 * of thousands of events cheap. A unit whose reconcile throws fails only its own job (BullMQ
 * retries it with backoff; after the last attempt it stays in the failed set — the dead letters).
 */
export function startReconcileWorker(
  rt: Runtime,
  opts: ReconcileWorkerOptions = {},
): ReconcileWorker {
  const concurrency = opts.concurrency ?? rt.config.RECONCILE_CONCURRENCY;
  const windowMs = opts.batchWindowMs ?? 5;
  const rules = rulesFromConfig(rt.config);
  const log = rt.log.child({ worker: 'reconcile' });
  let pending: Pending[] = [];
  let timer: NodeJS.Timeout | null = null;

  const flush = async () => {
    timer = null;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    try {
      const r = await reconcileUnits(
        rt,
        batch.map((p) => p.key),
        { rules },
      );
      const failed = new Map(r.failed.map((f) => [f.key, f.error]));
      for (const p of batch) {
        if (failed.has(p.key)) p.reject(failed.get(p.key));
        else p.resolve();
      }
      for (const f of r.failed)
        log.error({ err: f.error, objectId: f.key }, 'reconcile failed for unit');
      const { opened, escalated, resolved } = r.changes;
      if (opened.length || escalated.length || resolved.length) {
        log.info(
          {
            units: batch.length,
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
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  };

  const enqueueLocal = (key: string) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ key, resolve, reject });
      if (pending.length >= concurrency) {
        if (timer) clearTimeout(timer);
        void flush();
      } else if (!timer) {
        timer = setTimeout(() => void flush(), windowMs);
      }
    });

  const connection = createRedis(rt.config.REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker<ReconcileJobData>(
    QUEUE_NAMES.reconcile,
    async (job: Job<ReconcileJobData>) => {
      const key = job.data?.key;
      if (typeof key !== 'string' || key === '') return; // malformed: nothing to reconcile
      await enqueueLocal(key);
    },
    {
      connection,
      prefix: rt.config.QUEUE_PREFIX,
      concurrency,
    },
  );
  worker.on('error', (err) => log.error({ err }, 'reconcile worker error'));
  worker.on('failed', (job, err) =>
    log.warn(
      { err, jobId: job?.id, objectId: job?.data?.key, attempts: job?.attemptsMade },
      'reconcile job failed',
    ),
  );

  return {
    worker,
    async close() {
      await worker.close();
      if (timer) clearTimeout(timer);
      await flush();
      // BullMQ leaves a connection it was handed open; this one is ours alone.
      connection.disconnect();
    },
  };
}
