import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from './config/config.js';
import { createPool, type Pool } from './db/pool.js';
import { createPrisma, type PrismaClient } from './db/prisma.js';
import { StartupCheckError } from './errors.js';
import { createLogger, type Logger } from './log/logger.js';
import {
  QUEUE_NAMES,
  createQueue,
  checkRedisEvictionPolicy,
  createRedis,
  jobOptionsFor,
  type EventJobData,
  type ReconcileJobData,
} from './queue/queues.js';

/**
 * The shared handles of one process: one pg pool (Prisma rides on it), one Redis connection for
 * producers, and the queues. Workers open their own blocking connections.
 */
export interface Runtime {
  config: Config;
  log: Logger;
  /**
   * Wall clock, epoch ms, for reconciliation decisions (grace periods, stuck thresholds).
   * Injected so `recon demo` can replay simulated days with production thresholds.
   */
  clock: () => number;
  pool: Pool;
  prisma: PrismaClient;
  redis: Redis;
  queues: {
    events: Queue<EventJobData>;
    reconcile: Queue<ReconcileJobData>;
  };
  /**
   * Why the Redis BullMQ uses is unsafe right now (an evicting maxmemory-policy), or null. Checked
   * on every (re)connect, not only at start: a Redis replaced or reconfigured under a running
   * process is caught too. `/readyz` is 503 while it is set.
   */
  redisProblem(): string | null;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** @defaultValue Date.now */
  clock?: () => number;
}

export function createRuntime(
  config: Config,
  log: Logger = createLogger({ level: config.LOG_LEVEL }),
  opts: RuntimeOptions = {},
): Runtime {
  const pool = createPool(config.DATABASE_URL, config.PG_POOL_SIZE);
  const prisma = createPrisma(pool);
  // Producers fail fast when Redis is away (the inbox relay catches up later) instead of
  // queueing commands in memory indefinitely.
  const redis = createRedis(config.REDIS_URL, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  });
  const queues = {
    events: createQueue<EventJobData>(
      QUEUE_NAMES.events,
      redis,
      config.QUEUE_PREFIX,
      jobOptionsFor(QUEUE_NAMES.events, config),
    ),
    reconcile: createQueue<ReconcileJobData>(
      QUEUE_NAMES.reconcile,
      redis,
      config.QUEUE_PREFIX,
      jobOptionsFor(QUEUE_NAMES.reconcile, config),
    ),
  };
  for (const q of Object.values(queues)) q.on('error', () => {});
  let redisProblem: string | null = null;
  redis.on('ready', () => {
    checkRedisEvictionPolicy(redis).then(
      () => {
        if (redisProblem) log.info('Redis maxmemory-policy is noeviction again');
        redisProblem = null;
      },
      (err: unknown) => {
        // Only a policy that is wrong counts; a Redis that forbids CONFIG (managed services) is
        // left to the operator, as at start.
        if (!(err instanceof StartupCheckError)) return;
        if (redisProblem !== err.message) log.error(err.message);
        redisProblem = err.message;
      },
    );
  });
  let closed = false;
  return {
    config,
    log,
    clock: opts.clock ?? Date.now,
    pool,
    prisma,
    redis,
    queues,
    redisProblem: () => redisProblem,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled(Object.values(queues).map((q) => q.close()));
      redis.disconnect();
      await prisma.$disconnect().catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}
