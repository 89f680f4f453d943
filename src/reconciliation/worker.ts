import { Worker, type Job } from 'bullmq';
import { isTransientError } from '../errors.js';
import { OutageLog } from '../log/outage.js';
import { QUEUE_NAMES, createRedis, type ReconcileJobData } from '../queue/queues.js';
import type { Runtime } from '../runtime.js';
import { RECONCILE_TICK_MS, wakeReconcile } from './enqueue.js';
import { outboxState, touchUnits } from './outbox.js';
import type { MismatchChanges } from './persist.js';
import { reconcileDueUnits, rulesFromConfig, type ReconcileDueResult } from './reconcile-units.js';

/** A drain waits in place for units due within this long rather than end and be woken again. */
const STAY_FOR_MS = 1_000;

/**
 * After a drain shorter than one batch, the least wait before the next claim: units falling due
 * meanwhile are reconciled together. It adds at most this much to the time a mismatch takes to
 * show (the 200 ms debounce stays the larger part).
 */
const GATHER_MS = 25;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ReconcileWorkerOptions {
  /** Units held at once, across the batches in flight. @defaultValue RECONCILE_CONCURRENCY */
  concurrency?: number;
  /** Batches reconciled at once, each in its own transaction. @defaultValue 2 */
  maxInFlight?: number;
  /** Called after each committed batch with what changed (alerts hook in here). Errors are logged, not retried. */
  onChanges?: (changes: MismatchChanges) => void | Promise<void>;
  /** The safety tick: a drain this often even if every wake-up was lost. @defaultValue 5000 */
  tickMs?: number;
}

export interface ReconcileWorker {
  /** The BullMQ worker that runs drain jobs. */
  worker: Worker<ReconcileJobData>;
  /** Drains the outbox now, in this process (tests, shutdown hooks). */
  drainNow(): Promise<DrainResult>;
  close(): Promise<void>;
}

export interface DrainResult {
  /** Units reconciled and settled. */
  reconciled: number;
  /** Units whose reconcile threw: backed off, still in the outbox. */
  failed: number;
  batches: number;
}

/**
 * The reconcile worker drains the outbox (`reconcile_outbox`, written in the same transactions
 * as the changes). A BullMQ `drain` job — added, deduplicated, after each committed change, plus a
 * repeatable tick — makes it take due units in batches, reconcile each batch in the transaction
 * that deletes the batch's outbox rows, and go on until nothing is due. Then it schedules
 * its own next wake-up for the earliest unit still waiting out its debounce.
 *
 * What BullMQ still does: wake-ups, retries with backoff of a drain that fails as a whole
 * (Postgres away), and the failed set for one that keeps failing. What it no longer holds: the
 * intent. Units whose reconcile throws are backed off in the outbox, never dropped.
 */
export function startReconcileWorker(
  rt: Runtime,
  opts: ReconcileWorkerOptions = {},
): ReconcileWorker {
  const concurrency = opts.concurrency ?? rt.config.RECONCILE_CONCURRENCY;
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 2);
  const batchSize = Math.max(1, Math.ceil(concurrency / maxInFlight));
  const rules = rulesFromConfig(rt.config);
  const log = rt.log.child({ worker: 'reconcile' });
  let closing = false;

  /** Records what one batch did, logs failures and changes, and calls the hook. */
  const record = async (r: ReconcileDueResult, total: DrainResult) => {
    for (const f of r.failed)
      log.error({ err: f.error, objectId: f.key }, 'reconcile failed for unit; backed off');
    total.reconciled += r.taken - r.failed.length;
    total.failed += r.failed.length;
    total.batches++;
    const { opened, escalated, resolved } = r.changes;
    if (opened.length || escalated.length || resolved.length) {
      log.info(
        {
          units: r.taken,
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
  };

  /**
   * Reconciles due units batch by batch until a batch comes back short (nothing more is due). One
   * lane to start with; a full batch means a backlog, and opens another lane, up to `maxInFlight`
   * transactions at once. Each batch takes its units inside its own transaction
   * (reconcileDueUnits), so there is no separate claim to pay for or to lose in a crash.
   */
  const drain = async (): Promise<DrainResult> => {
    const total: DrainResult = { reconciled: 0, failed: 0, batches: 0 };
    const lanes: Array<Promise<void>> = [];
    let failure: unknown;
    const lane = async (): Promise<void> => {
      while (!closing && failure === undefined) {
        let r: ReconcileDueResult;
        try {
          // On the pg pool, as the projection worker's transaction: Prisma's per-statement cost
          // was a fifth of this worker's CPU (docs/performance.md). Same statements.
          r = await reconcileDueUnits(rt, batchSize, { rules, db: rt.pool });
        } catch (err) {
          failure ??= err; // rolled back: the units are still in the outbox, due
          return;
        }
        await record(r, total);
        if (r.taken < batchSize) return;
        if (lanes.length < maxInFlight) lanes.push(lane());
      }
    };
    lanes.push(lane());
    for (let i = 0; i < lanes.length; i++) await lanes[i];
    if (failure !== undefined) throw failure;
    return total;
  };

  const connection = createRedis(rt.config.REDIS_URL);
  const worker = new Worker<ReconcileJobData>(
    QUEUE_NAMES.reconcile,
    async (job: Job<ReconcileJobData>) => {
      // Jobs of the per-unit design (still queued across an upgrade) become outbox rows.
      const legacyKey = (job.data as { key?: unknown } | undefined)?.key;
      if (typeof legacyKey === 'string' && legacyKey !== '')
        await touchUnits(rt.prisma, [legacyKey], 0);
      const total: DrainResult = { reconciled: 0, failed: 0, batches: 0 };
      // Drain, then wait out the debounce of units that are about to fall due, so a steady
      // stream is reconciled by one running drain instead of a job per window. Units further
      // off (backing off after a failure) are left to a later wake-up or the tick.
      while (!closing) {
        const r = await drain();
        total.reconciled += r.reconciled;
        total.failed += r.failed;
        total.batches += r.batches;
        const state = await outboxState(rt.pool);
        if (state.nextDueInMs === null || state.nextDueInMs > STAY_FOR_MS) break;
        // After a drain that found only a few units, let more fall due before claiming again:
        // a batch's statements cost about the same for 10 units as for 200.
        await sleep(
          Math.max(r.reconciled + r.failed < batchSize ? GATHER_MS : 5, state.nextDueInMs),
        );
      }
      if (total.reconciled || total.failed) log.debug({ ...total }, 'outbox drained');
      return total;
    },
    {
      connection,
      prefix: rt.config.QUEUE_PREFIX,
      // A wake-up and the tick may overlap; units are taken with SKIP LOCKED, so two
      // drains share the due units rather than reconcile one twice.
      concurrency: 2,
      lockDuration: rt.config.JOB_LOCK_DURATION,
      stalledInterval: rt.config.JOB_LOCK_DURATION,
    },
  );
  // During an outage every drain fails and BullMQ reports each reconnect: one line per outage.
  const redisOutage = new OutageLog(log, 'redis', 'the outbox is not drained');
  const pgOutage = new OutageLog(log, 'postgres', 'the outbox is not drained; units wait in it');
  worker.on('error', (err) => redisOutage.failure(err));
  connection.on('ready', () => redisOutage.success());
  worker.on('completed', () => pgOutage.success());
  worker.on('failed', (job, err) => {
    if (isTransientError(err)) pgOutage.failure(err);
    else log.warn({ err, jobId: job?.id, attempts: job?.attemptsMade }, 'outbox drain failed');
  });

  // The safety tick: one scheduler for every process (upsert is idempotent), so a unit whose
  // wake-up Redis lost is reconciled within a tick. A Redis restarted empty loses the scheduler
  // with everything else, so it is installed again on every reconnect, with a wake-up: the
  // outbox in Postgres still holds every unit the lost jobs were about.
  const tickMs = opts.tickMs ?? RECONCILE_TICK_MS;
  const installTick = () =>
    void rt.queues.reconcile
      .upsertJobScheduler('reconcile-tick', { every: tickMs }, { name: 'tick', data: {} })
      .catch((err: unknown) =>
        log.warn({ reason: (err as Error).message }, 'could not schedule the reconcile tick'),
      );
  const onRedisReady = () => {
    installTick();
    wakeReconcile(rt);
  };
  rt.redis.on('ready', onRedisReady);
  installTick();
  // Whatever was left in the outbox by a previous run is due now.
  wakeReconcile(rt);

  return {
    worker,
    drainNow: drain,
    async close() {
      closing = true;
      rt.redis.off('ready', onRedisReady);
      await worker.close();
      connection.disconnect(); // BullMQ closes only the connections it duplicated
    },
  };
}
