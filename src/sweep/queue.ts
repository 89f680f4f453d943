import { Queue } from 'bullmq';
import { QUEUE_NAMES } from '../queue/queues.js';
import { redisReady, withTimeout } from '../queue/producer.js';
import type { Runtime } from '../runtime.js';
import type { SweepTrigger } from './store.js';

/** A `sweep` job: run (or resume) one sweep, or — from the cron scheduler — start one. */
export interface SweepJobData {
  run_id?: string;
  trigger?: SweepTrigger;
}

export const NIGHTLY_SCHEDULER_ID = 'nightly-sweep';

/** The handles the sweep queue needs; one queue per runtime (the object is the cache key). */
type QueueHandles = Pick<Runtime, 'config' | 'redis'>;

const queues = new WeakMap<QueueHandles, Queue<SweepJobData>>();

export function sweepQueue(rt: QueueHandles): Queue<SweepJobData> {
  let q = queues.get(rt);
  if (!q) {
    q = new Queue<SweepJobData>(QUEUE_NAMES.sweep, {
      connection: rt.redis,
      prefix: rt.config.QUEUE_PREFIX,
      defaultJobOptions: {
        attempts: rt.config.JOB_ATTEMPTS,
        backoff: { type: 'exponential', delay: Math.max(rt.config.JOB_BACKOFF, 5_000) },
        removeOnComplete: 100,
        removeOnFail: false,
      },
    });
    q.on('error', () => {});
    queues.set(rt, q);
  }
  return q;
}

export async function closeSweepQueue(rt: QueueHandles): Promise<void> {
  const q = queues.get(rt);
  queues.delete(rt);
  await q?.close().catch(() => {});
}

/** Queues the execution of a sweep run. `resume` adds a fresh job even if one existed before. */
export async function enqueueSweepRun(
  rt: QueueHandles,
  runId: string,
  resume = false,
): Promise<void> {
  if (!redisReady(rt.redis)) throw new Error(`Redis is not connected (status ${rt.redis.status})`);
  const jobId = resume ? `resume-${runId}-${Date.now()}` : `run-${runId}`;
  await withTimeout(
    sweepQueue(rt).add('sweep', { run_id: runId }, { jobId }),
    5_000,
    'sweep enqueue',
  );
}
