import type { JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EventJobData } from './queues.js';

/** The smallest thing an `events` job is made from: an inbox row's identity. */
export interface EventJobSource {
  id: string;
  type: string;
  account: string | null;
}

/** One `events` job: name = event type (readable in dashboards), job id = Stripe event id. */
export function eventJob(ev: EventJobSource): {
  name: string;
  data: EventJobData;
  opts: JobsOptions;
} {
  return {
    name: ev.type,
    data: { id: ev.id, type: ev.type, account: ev.account },
    opts: { jobId: ev.id },
  };
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
 * Adds events as jobs with one `addBulk` (one round trip of pipelined scripts), bounded in time.
 * BullMQ ignores an add whose job id already exists, so re-adding is harmless.
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
  await withTimeout(queue.addBulk(events.map(eventJob)), timeoutMs, 'queue.addBulk');
}
