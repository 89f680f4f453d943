import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EventJobData } from './queues.js';

/** The smallest thing an `events` job is made from: an inbox row's identity. */
export interface EventJobSource {
  id: string;
}

/** Most event ids in one job: one worker transaction's worth. */
export const MAX_EVENTS_PER_JOB = 500;

/**
 * The `events` jobs for a set of inbox rows: one per MAX_EVENTS_PER_JOB ids. Job ids are BullMQ's
 * own: adding the same rows twice (a relay pass racing the receiver) only projects them twice,
 * which the guarded writes make a no-op.
 */
export function eventJobs(
  events: readonly EventJobSource[],
  perJob = MAX_EVENTS_PER_JOB,
): Array<{
  name: string;
  data: EventJobData;
}> {
  const ids = [...new Set(events.map((e) => e.id))];
  const jobs: Array<{ name: string; data: EventJobData }> = [];
  for (let i = 0; i < ids.length; i += perJob) {
    const chunk = ids.slice(i, i + perJob);
    // The name is what dashboards show: a lone event (split out of a failing batch) by its id.
    jobs.push({ name: chunk.length === 1 ? `event:${chunk[0]}` : 'batch', data: { ids: chunk } });
  }
  return jobs;
}

export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** Rejects with TimeoutError after `ms`; the underlying work is not cancelled, only not awaited. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * BullMQ's Queue waits (without limit) for its connection to become ready before any command, so
 * a producer that must not hang checks the connection first. `ready` is ioredis's connected state.
 */
export function redisReady(redis: Redis): boolean {
  return redis.status === 'ready';
}

/**
 * Adds events as batch jobs with one `addBulk` (one round trip), bounded in time.
 * Throws when Redis is not connected, fails, or is slower than `timeoutMs`.
 */
export async function addEventJobs(
  queue: Queue<EventJobData>,
  redis: Redis,
  events: readonly EventJobSource[],
  timeoutMs: number,
): Promise<void> {
  if (events.length === 0) return;
  if (!redisReady(redis)) throw new Error(`Redis is not connected (status ${redis.status})`);
  await withTimeout(queue.addBulk(eventJobs(events)), timeoutMs, 'queue.addBulk');
}
