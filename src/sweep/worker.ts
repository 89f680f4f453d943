import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type Stripe from 'stripe';
import { QUEUE_NAMES, createRedis } from '../queue/queues.js';
import type { Runtime } from '../runtime.js';
import { StripeKeyError } from '../stripe/key.js';
import {
  NIGHTLY_SCHEDULER_ID,
  closeSweepQueue,
  enqueueSweepRun,
  sweepQueue,
  type SweepJobData,
} from './queue.js';
import { SweepInterruptedError, executeSweep } from './run.js';
import { activeSweepRun, createOrGetActiveSweep, finishRun } from './store.js';

export interface SweepWorkerOptions {
  /** Cron pattern of the nightly sweep; null removes the schedule. @defaultValue RECON_SWEEP_CRON */
  cron?: string | null;
  /** For tests: an SDK client instead of the rate-limited one built from config. */
  stripe?: Stripe;
}

export interface SweepWorker {
  worker: Worker<SweepJobData>;
  close(): Promise<void>;
}

/**
 * The sweep queue's consumer (concurrency 1) and the nightly job scheduler. A sweep that was
 * running when its worker died is resumed from its cursor: BullMQ re-runs stalled jobs, and at
 * start this worker queues any active run that nobody executes.
 */
export async function startSweepWorker(
  rt: Runtime,
  opts: SweepWorkerOptions = {},
): Promise<SweepWorker> {
  const log = rt.log.child({ component: 'sweep' });
  const cron = opts.cron === undefined ? rt.config.RECON_SWEEP_CRON : opts.cron;
  const installScheduler = async () => {
    if (cron) {
      await sweepQueue(rt).upsertJobScheduler(
        NIGHTLY_SCHEDULER_ID,
        { pattern: cron },
        {
          name: 'sweep',
          data: { trigger: 'cron' },
          opts: { removeOnComplete: 100, removeOnFail: 100 },
        },
      );
    } else {
      await sweepQueue(rt)
        .removeJobScheduler(NIGHTLY_SCHEDULER_ID)
        .catch(() => false);
    }
  };
  await installScheduler();
  // A Redis restarted empty loses the nightly scheduler: install it again on every reconnect,
  // or the sweep would silently never run again.
  const onRedisReady = () =>
    void installScheduler().catch((err: unknown) =>
      log.warn({ reason: (err as Error).message }, 'could not schedule the nightly sweep'),
    );
  rt.redis.on('ready', onRedisReady);
  const aborter = new AbortController();
  const connection = createRedis(rt.config.REDIS_URL);
  const worker = new Worker<SweepJobData>(
    QUEUE_NAMES.sweep,
    async (job: Job<SweepJobData>) => {
      const runId =
        job.data.run_id ??
        (await createOrGetActiveSweep(rt.prisma, { trigger: job.data.trigger ?? 'cron' })).run.id;
      try {
        const r = await executeSweep(rt, runId, {
          signal: aborter.signal,
          ...(opts.stripe ? { stripe: opts.stripe } : {}),
        });
        if (!r.executed) log.info({ sweepId: runId, reason: r.reason }, 'sweep job skipped');
        return { runId, executed: r.executed, reportId: r.run?.report_id ?? null };
      } catch (err) {
        if (err instanceof SweepInterruptedError) throw err; // shutting down: retried/resumed later
        // Stripe refused the key: the run is already failed and alerted; no attempt can help.
        if (err instanceof StripeKeyError) throw new UnrecoverableError(err.message);
        const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        if (last) {
          await finishRun(rt.prisma, runId, {
            status: 'failed',
            error: (err as Error).message,
          }).catch(() => {});
          log.error(
            { sweepId: runId, err: (err as Error).message },
            'sweep failed after its last attempt',
          );
        }
        throw err;
      }
    },
    {
      connection,
      prefix: rt.config.QUEUE_PREFIX,
      concurrency: 1,
      // A sweep takes long; renew the job lock well within its duration.
      lockDuration: 60_000,
    },
  );
  worker.on('error', (err) => log.warn({ err: err.message }, 'sweep worker error'));

  // A run left active by a dead process (or queued while Redis was away): queue it again.
  try {
    const active = await activeSweepRun(rt.prisma);
    if (active) {
      await enqueueSweepRun(rt, active.id, true);
      log.info(
        { sweepId: active.id, status: active.status, phase: active.cursor.phase },
        'active sweep found at start; queued to resume',
      );
    }
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not check for an interrupted sweep');
  }

  return {
    worker,
    async close() {
      rt.redis.off('ready', onRedisReady);
      // Stop the running sweep after its current page; it resumes from its cursor next time.
      aborter.abort();
      await worker.close();
      connection.disconnect();
      await closeSweepQueue(rt);
    },
  };
}
