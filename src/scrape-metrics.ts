import { QueueKeys } from 'bullmq';
import type { Redis } from 'ioredis';
import { Prisma, rawRows, type Db } from './db/prisma.js';
import {
  QUEUE_JOB_STATES,
  mismatchesOpen,
  mismatchesOpenAmountAtRisk,
  queueDeadLetterJobs,
  queueJobs,
  queueOldestWaitingAgeSeconds,
  scrapeCollectorUp,
  sweepLastDurationSeconds,
  sweepLastSuccessTimestampSeconds,
  type QueueJobState,
} from './metrics.js';
import { redisReady, withTimeout } from './queue/producer.js';
import { QUEUE_NAMES } from './queue/queues.js';
import type { Runtime } from './runtime.js';

/**
 * The gauges read from Redis and Postgres when Prometheus scrapes: queue depths and ages, open
 * mismatches and the amount at risk, the last full sweep. Read at scrape time (not kept up to date
 * by the workers) so that every replica, and a receiver that runs no worker, reports the same
 * truth. Each source costs one bounded round trip or two, is cached for `cacheMs`, and concurrent
 * scrapes share one refresh. A source that fails or is slower than `timeoutMs` (Redis or Postgres
 * down) reports nothing rather than stale numbers or a hung scrape, and
 * `recon_scrape_collector_up{collector}` says so.
 */
export interface ScrapeOptions {
  /** How long a refresh is reused by later scrapes. @defaultValue 5000 */
  cacheMs?: number;
  /** Longest each source may take before the scrape goes on without it. @defaultValue 1000 */
  timeoutMs?: number;
}

/** One queue's state counts and its oldest waiting job's age, as read from Redis. */
export interface QueueSnapshot {
  queue: string;
  counts: Record<QueueJobState, number>;
  oldestWaitingAgeSeconds: number;
}

/**
 * Every product queue's counts in one pipelined round trip (list and sorted-set sizes of BullMQ's
 * own keys: wait + paused + prioritized, delayed, active, failed), then the oldest waiting job's
 * timestamp in a second. BullMQ adds to the head of `wait` and workers take from the tail, so
 * the tail is the oldest. Throws on any Redis error; never waits for a reconnect (the caller
 * checks the connection is ready, and the producer connection has no offline queue).
 */
export async function readQueueSnapshots(
  redis: Redis,
  prefix: string,
  now: number,
): Promise<QueueSnapshot[]> {
  const keys = new QueueKeys(prefix);
  const names = Object.values(QUEUE_NAMES);
  const p = redis.pipeline();
  for (const name of names) {
    const k = keys.getKeys(name);
    p.llen(k.wait!)
      .llen(k.paused!)
      .zcard(k.prioritized!)
      .zcard(k.delayed!)
      .llen(k.active!)
      .zcard(k.failed!)
      .lindex(k.wait!, -1);
  }
  const replies = unwrap(await p.exec());
  const per = 7;
  const oldest = names.map((name, i) => ({ name, id: replies[i * per + 6] as string | null }));
  const p2 = redis.pipeline();
  for (const o of oldest)
    if (o.id) p2.hmget(`${keys.getQueueQualifiedName(o.name)}:${o.id}`, 'timestamp', 'delay');
  const stamps = unwrap(await p2.exec()) as Array<[string | null, string | null]>;
  let s = 0;
  return names.map((queue, i) => {
    const n = (j: number) => Number(replies[i * per + j] ?? 0);
    let age = 0;
    if (oldest[i]!.id) {
      const [timestamp, delay] = stamps[s++] ?? [null, null];
      // A job removed between the two round trips has no hash any more: counted as not waiting.
      if (timestamp) age = Math.max(0, (now - Number(timestamp) - Number(delay ?? 0)) / 1000);
    }
    return {
      queue,
      counts: { waiting: n(0) + n(1) + n(2), delayed: n(3), active: n(4), failed: n(5) },
      oldestWaitingAgeSeconds: age,
    };
  });
}

function unwrap(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (!results) throw new Error('Redis pipeline aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** What Postgres says at scrape time: open mismatches, the amount at risk, the last full sweep. */
export interface DatabaseSnapshot {
  open: Array<{ kind: string; severity: string; n: number }>;
  atRisk: Array<{ currency: string; amount: number }>;
  lastSweep: { finishedAt: Date; startedAt: Date | null } | null;
}

export async function readDatabaseSnapshot(db: Db): Promise<DatabaseSnapshot> {
  const [open, atRisk, last] = await Promise.all([
    db.mismatch.groupBy({ by: ['kind', 'severity'], where: { status: 'open' }, _count: true }),
    // Summed as numeric and read as text: bigint sums of minor units may pass 2^53 only in theory,
    // but a float never holds money here.
    rawRows<{ currency: string; amount: string }>(
      db,
      Prisma.sql`SELECT lower(currency) AS currency, sum(amount_at_risk)::text AS amount FROM mismatches
        WHERE status = 'open' AND currency IS NOT NULL AND amount_at_risk IS NOT NULL GROUP BY 1`,
    ),
    // Full sweeps only (all accounts): a sweep of one account says nothing about the others.
    db.sweepRun.findFirst({
      select: { finished_at: true, started_at: true },
      where: { status: 'completed', account: null, finished_at: { not: null } },
      orderBy: { finished_at: 'desc' },
    }),
  ]);
  return {
    open: open.map((g) => ({ kind: g.kind, severity: g.severity, n: g._count })),
    atRisk: atRisk.map((r) => ({ currency: r.currency, amount: Number(r.amount) })),
    lastSweep: last?.finished_at
      ? { finishedAt: last.finished_at, startedAt: last.started_at }
      : null,
  };
}

function setQueueGauges(snapshots: QueueSnapshot[] | null): void {
  queueJobs.reset();
  queueOldestWaitingAgeSeconds.reset();
  queueDeadLetterJobs.reset();
  scrapeCollectorUp.set({ collector: 'queues' }, snapshots ? 1 : 0);
  for (const s of snapshots ?? []) {
    for (const state of QUEUE_JOB_STATES) queueJobs.set({ queue: s.queue, state }, s.counts[state]);
    queueOldestWaitingAgeSeconds.set({ queue: s.queue }, s.oldestWaitingAgeSeconds);
    queueDeadLetterJobs.set({ queue: s.queue }, s.counts.failed);
  }
}

function setDatabaseGauges(db: DatabaseSnapshot | null): void {
  mismatchesOpen.reset();
  mismatchesOpenAmountAtRisk.reset();
  sweepLastSuccessTimestampSeconds.reset();
  sweepLastDurationSeconds.reset();
  scrapeCollectorUp.set({ collector: 'database' }, db ? 1 : 0);
  if (!db) return;
  for (const r of db.open) mismatchesOpen.set({ kind: r.kind, severity: r.severity }, r.n);
  for (const r of db.atRisk) mismatchesOpenAmountAtRisk.set({ currency: r.currency }, r.amount);
  if (db.lastSweep) {
    const finished = new Date(db.lastSweep.finishedAt).getTime();
    sweepLastSuccessTimestampSeconds.set(finished / 1000);
    if (db.lastSweep.startedAt) {
      const started = new Date(db.lastSweep.startedAt).getTime();
      sweepLastDurationSeconds.set(Math.max(0, (finished - started) / 1000));
    }
  }
}

interface CacheEntry {
  at: number;
  pending: Promise<void> | null;
}

// Per runtime, so the main port's /metrics and the probe server's share one refresh and one cache.
const caches = new WeakMap<Runtime, CacheEntry>();

/**
 * Refreshes the scrape-time gauges for `rt` unless a refresh younger than `cacheMs` exists, in
 * which case the gauges already hold its numbers. Never throws, never takes much longer than
 * `timeoutMs`.
 */
export async function refreshScrapeMetrics(rt: Runtime, opts: ScrapeOptions = {}): Promise<void> {
  const cacheMs = opts.cacheMs ?? 5_000;
  const timeoutMs = opts.timeoutMs ?? 1_000;
  let entry = caches.get(rt);
  if (!entry) caches.set(rt, (entry = { at: -Infinity, pending: null }));
  if (entry.pending) return entry.pending;
  if (Date.now() - entry.at < cacheMs) return;
  const e = entry;
  e.pending = (async () => {
    const log = rt.log.child({ component: 'metrics' });
    const [queues, db] = await Promise.allSettled([
      (async () => {
        if (!redisReady(rt.redis))
          throw new Error(`Redis is not connected (status ${rt.redis.status})`);
        return withTimeout(
          readQueueSnapshots(rt.redis, rt.config.QUEUE_PREFIX, Date.now()),
          timeoutMs,
          'queue metrics',
        );
      })(),
      withTimeout(readDatabaseSnapshot(rt.prisma), timeoutMs, 'database metrics'),
    ]);
    if (queues.status === 'rejected')
      log.debug({ reason: (queues.reason as Error).message }, 'queue metrics unavailable');
    if (db.status === 'rejected')
      log.warn({ reason: (db.reason as Error).message }, 'database metrics unavailable');
    setQueueGauges(queues.status === 'fulfilled' ? queues.value : null);
    setDatabaseGauges(db.status === 'fulfilled' ? db.value : null);
    e.at = Date.now();
  })().finally(() => {
    e.pending = null;
  });
  return e.pending;
}
