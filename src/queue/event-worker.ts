import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type Stripe from 'stripe';
import {
  InvalidEventError,
  applyEvents,
  parseEvent,
  type ApplyResult,
  type EventLike,
} from '../projections/apply.js';
import { eventsProjectedTotal, projectionBatchSeconds } from '../metrics.js';
import { MicroBatcher } from '../receiver/micro-batcher.js';
import type { Runtime } from '../runtime.js';
import { createStripeClient } from '../stripe-client.js';
import { RECONCILE_DEDUP_MS, addReconcileJobs } from '../reconciliation/enqueue.js';
import { QUEUE_NAMES, createRedis, type EventJobData } from './queues.js';

export interface EventWorkerOptions {
  /** Jobs in flight at once; they feed one micro-batcher. @defaultValue config.PROJECTION_CONCURRENCY */
  concurrency?: number;
  /** SDK for `has_more` reversal listings. @defaultValue createStripeClient(config) */
  stripe?: Stripe | null;
  /** Most events per transaction. @defaultValue 500 */
  maxBatchSize?: number;
  /**
   * Transactions in flight at once. Two let JSON mapping in Node overlap with Postgres executing
   * the previous batch; conflicting batches serialise on row locks (deadlocks are retried).
   * @defaultValue 2
   */
  maxConcurrentFlushes?: number;
  /**
   * Reconcile jobs are delayed and deduplicated per unit for this long, so a burst reconciles
   * once, after the burst. @defaultValue 200
   */
  reconcileDelayMs?: number;
}

export interface EventWorker {
  worker: Worker<EventJobData>;
  batcher: MicroBatcher<EventLike, ApplyResult>;
  /** Stops taking jobs, finishes the ones in flight, flushes the batcher, disconnects. */
  close(): Promise<void>;
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return msg.slice(0, 2_000);
}

/**
 * The projection worker: BullMQ jobs (one per Stripe event) feed a micro-batcher, so each
 * transaction projects every event that arrived while the previous one ran. A job resolves when
 * its batch has committed and its units' reconcile jobs are enqueued.
 *
 *   - Poison (unparseable JSON, an object we cannot map) → UnrecoverableError: straight to the
 *     failed set (the dead-letter view), inbox row `failed` with last_error.
 *   - Anything else (Postgres, Redis, the Stripe API) → rethrown for BullMQ's exponential backoff;
 *     attempts and last_error are recorded on the inbox rows, best effort.
 */
export function startEventWorker(rt: Runtime, opts: EventWorkerOptions = {}): EventWorker {
  const log = rt.log.child({ component: 'event-worker' });
  const stripe = opts.stripe === undefined ? createStripeClient(rt.config) : opts.stripe;
  const delayMs = opts.reconcileDelayMs ?? RECONCILE_DEDUP_MS;

  const batcher = new MicroBatcher<EventLike, ApplyResult>({
    maxBatchSize: opts.maxBatchSize ?? 500,
    maxConcurrentFlushes: opts.maxConcurrentFlushes ?? 2,
    flush: async (events) => {
      try {
        const endTimer = projectionBatchSeconds.startTimer();
        const result = await applyEvents(rt.pool, stripe, events);
        endTimer();
        for (const e of events) eventsProjectedTotal.inc({ type: e.type });
        // Thrown on a Redis error: the job retries, re-applies (idempotent) and enqueues again.
        await addReconcileJobs(rt, result.touchedUnits, delayMs);
        log.debug({ events: events.length, units: result.touchedUnits.length }, 'batch projected');
        return events.map(() => result);
      } catch (err) {
        log.warn({ err, events: events.length }, 'projection batch failed; jobs will retry');
        await rt.pool
          .query(
            `UPDATE "stripe_events" SET "attempts" = "attempts" + 1, "last_error" = $2
              WHERE "id" = ANY($1::text[]) AND "status" <> 'processed'`,
            [[...new Set(events.map((e) => e.id))], errorText(err)],
          )
          .catch(() => {});
        throw err;
      }
    },
  });

  const markFailed = (id: string, err: unknown) =>
    rt.pool
      .query(
        `UPDATE "stripe_events" SET "status" = 'failed', "last_error" = $2,
                "attempts" = "attempts" + 1 WHERE "id" = $1`,
        [id, errorText(err)],
      )
      .catch((e: unknown) => log.warn({ err: e, eventId: id }, 'could not mark inbox row failed'));

  const processor = async (job: Job<EventJobData>): Promise<void> => {
    let event: EventLike;
    try {
      event = parseEvent(job.data.payload);
    } catch (err) {
      if (err instanceof InvalidEventError) {
        log.warn({ eventId: job.data.id, jobId: job.id, reason: err.message }, 'poison event');
        await markFailed(job.data.id, err);
        throw new UnrecoverableError(err.message);
      }
      throw err;
    }
    try {
      await batcher.add(event);
    } catch (err) {
      if (err instanceof InvalidEventError) {
        await markFailed(job.data.id, err);
        throw new UnrecoverableError(err.message);
      }
      throw err;
    }
  };

  const connection = createRedis(rt.config.REDIS_URL);
  const worker = new Worker<EventJobData>(QUEUE_NAMES.events, processor, {
    connection,
    prefix: rt.config.QUEUE_PREFIX,
    concurrency: opts.concurrency ?? rt.config.PROJECTION_CONCURRENCY,
  });
  worker.on('error', (err) => log.error({ err }, 'event worker error'));
  worker.on('failed', (job, err) => {
    // Retries exhausted (poison rows were marked already): the inbox row says so too.
    if (!job || err instanceof UnrecoverableError) return;
    if (job.attemptsMade >= (job.opts.attempts ?? 1)) void markFailed(job.data.id, err);
  });

  let closing: Promise<void> | undefined;
  return {
    worker,
    batcher,
    close() {
      closing ??= (async () => {
        await worker.close();
        await batcher.close();
        connection.disconnect();
      })();
      return closing;
    },
  };
}
