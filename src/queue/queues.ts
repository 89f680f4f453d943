import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { StartupCheckError } from '../errors.js';

/** Every queue the product uses; all keys live under QUEUE_PREFIX. */
export const QUEUE_NAMES = {
  /** Verified Stripe events → projection workers. Job id = Stripe event id. */
  events: 'stripe-events',
  /** One job per reconciliation unit (parent id), deduplicated per unit. */
  reconcile: 'reconcile',
  /** Alert deliveries to sinks, with their own retries. */
  alerts: 'alerts',
  /** Full sweeps (cron scheduler and on demand). */
  sweep: 'sweep',
} as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * Payload of an `events` job: the event's identity only. The raw JSON stays in the inbox row
 * (written before the job exists) and workers read it there, one query per batch, so the 1.5 KB
 * body crosses the wire once instead of into Redis and out again.
 */
export interface EventJobData {
  id: string;
  type: string;
  account: string | null;
  /** The event JSON, when a job carries it (jobs from older versions, tests); else read from the inbox. */
  payload?: string;
}

export interface ReconcileJobData {
  /** ReversalKind of the unit. */
  kind: string;
  /** Unit key: transfer / received credit / received debit id. */
  key: string;
}

export function redisOptions(extra: RedisOptions = {}): RedisOptions {
  // BullMQ workers need maxRetriesPerRequest: null; producers must fail fast instead (the receiver
  // acknowledges from Postgres and lets the relay enqueue later when Redis is down).
  return { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra };
}

export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  const r = new Redis(url, redisOptions(extra));
  r.on('error', () => {}); // reconnects on its own; readiness reports the outage
  return r;
}

export function defaultJobOptions(attempts: number, backoffMs: number): DefaultJobOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    // Completed jobs are not needed (the inbox is the record); failed ones are the dead-letter view.
    removeOnComplete: true,
    removeOnFail: false,
  };
}

export function createQueue<T = unknown>(
  name: QueueName,
  connection: ConnectionOptions,
  prefix: string,
  defaults: DefaultJobOptions,
): Queue<T> {
  return new Queue<T>(name, { connection, prefix, defaultJobOptions: defaults });
}

/**
 * BullMQ loses jobs if Redis evicts keys under memory pressure. Refuse to start unless the
 * eviction policy is noeviction (BullMQ's own recommendation).
 */
export async function checkRedisEvictionPolicy(redis: Redis): Promise<void> {
  const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
  const policy = reply[1];
  if (policy && policy !== 'noeviction') {
    throw new StartupCheckError(
      `Redis maxmemory-policy is "${policy}"; BullMQ needs "noeviction" or jobs can be silently evicted. Run: redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf)`,
    );
  }
}
