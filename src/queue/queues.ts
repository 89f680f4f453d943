import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/config.js';
import { StartupCheckError } from '../errors.js';
import type { Unit } from '../domain/units.js';

/** Every queue the product uses; all keys live under QUEUE_PREFIX. */
export const QUEUE_NAMES = {
  /** Verified Stripe events → projection workers. One job per committed inbox batch. */
  events: 'stripe-events',
  /** Wake-ups of the outbox drain (deduplicated) and its safety tick; the units are in Postgres. */
  reconcile: 'reconcile',
  /** Alert deliveries to sinks, with their own retries. */
  alerts: 'alerts',
  /** Full sweeps (cron scheduler and on demand). */
  sweep: 'sweep',
} as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * Payload of an `events` job: the ids of one committed inbox batch (the receiver's micro-batch,
 * or a relay page). A job is a batch, not an event: BullMQ's few scripts per job are then spent
 * once per hundreds of events. The raw JSON stays in the inbox rows and workers read it there,
 * one query per batch. A job of one id is an event split out of a failing batch (see the event
 * worker); it retries and dead-letters alone.
 */
export interface EventJobData {
  ids?: string[];
  /** Jobs of the one-event-per-job design (queued across an upgrade, old tests): one event. */
  id?: string;
  type?: string;
  account?: string | null;
  /** The event JSON, when an old job carries it; else read from the inbox. */
  payload?: string;
}

/**
 * Payload of a `reconcile` job: a wake-up to drain the outbox (`{}`). Jobs of the per-unit design
 * carry a unit key; a worker writes it to the outbox and drains.
 */
export type ReconcileJobData = Partial<Unit>;

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

function defaultJobOptions(attempts: number, backoffMs: number): DefaultJobOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    // Completed jobs are not needed (the inbox is the record); failed ones are the dead-letter view.
    removeOnComplete: true,
    removeOnFail: false,
  };
}

/** The settings a queue's default job options come from. */
type JobSettings = Pick<Config, 'QUEUE_PREFIX' | 'JOB_ATTEMPTS' | 'JOB_BACKOFF'>;

/**
 * The default job options of each queue; the one place they are decided (the runtime's queues and
 * `sharedQueue` both take them from here).
 */
export function jobOptionsFor(name: QueueName, config: JobSettings): DefaultJobOptions {
  if (name === QUEUE_NAMES.sweep) {
    // A sweep retries no sooner than 5 s, and the last 100 finished sweep jobs are kept.
    return {
      ...defaultJobOptions(config.JOB_ATTEMPTS, Math.max(config.JOB_BACKOFF, 5_000)),
      removeOnComplete: 100,
    };
  }
  return defaultJobOptions(config.JOB_ATTEMPTS, config.JOB_BACKOFF);
}

export function createQueue<T = unknown>(
  name: QueueName,
  connection: ConnectionOptions,
  prefix: string,
  defaults: DefaultJobOptions,
): Queue<T> {
  return new Queue<T>(name, { connection, prefix, defaultJobOptions: defaults });
}

/** What a producer-side queue needs: the process's Redis connection and the queue settings. */
export interface QueueHandles {
  config: JobSettings;
  redis: Redis;
}

const shared = new WeakMap<QueueHandles, Map<QueueName, Queue>>();

/**
 * The producer side of queue `name` for these handles (a `Runtime`), created on first use and
 * cached per handles object, on the handles' Redis connection. For the queues the runtime does not
 * open itself (alerts, sweep); `closeSharedQueue` closes one.
 */
export function sharedQueue<T>(rt: QueueHandles, name: QueueName): Queue<T> {
  let byName = shared.get(rt);
  if (!byName) {
    byName = new Map();
    shared.set(rt, byName);
  }
  let q = byName.get(name);
  if (!q) {
    q = createQueue(name, rt.redis, rt.config.QUEUE_PREFIX, jobOptionsFor(name, rt.config));
    q.on('error', () => {}); // reconnects on its own; producers fail fast and say so
    byName.set(name, q);
  }
  return q as Queue<T>;
}

export async function closeSharedQueue(rt: QueueHandles, name: QueueName): Promise<void> {
  const q = shared.get(rt)?.get(name);
  shared.get(rt)?.delete(name);
  await q?.close().catch(() => {});
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
