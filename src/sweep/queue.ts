import type { Queue } from 'bullmq';
import { QUEUE_NAMES, closeSharedQueue, sharedQueue, type QueueHandles } from '../queue/queues.js';
import { redisReady, withTimeout } from '../queue/producer.js';
import type { SweepTrigger } from './store.js';

/** A `sweep` job: run (or resume) one sweep, or — from the cron scheduler — start one. */
export interface SweepJobData {
  run_id?: string;
  trigger?: SweepTrigger;
}

export const NIGHTLY_SCHEDULER_ID = 'nightly-sweep';

export function sweepQueue(rt: QueueHandles): Queue<SweepJobData> {
  return sharedQueue<SweepJobData>(rt, QUEUE_NAMES.sweep);
}

export async function closeSweepQueue(rt: QueueHandles): Promise<void> {
  await closeSharedQueue(rt, QUEUE_NAMES.sweep);
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
