import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import type Stripe from 'stripe';
import {
  InvalidEventError,
  applyEvents,
  parseEvent,
  type EventLike,
} from '../projections/apply.js';
import { eventsProjectedTotal, projectionBatchSeconds } from '../metrics.js';
import type { Runtime } from '../runtime.js';
import { createStripeClient } from '../stripe-client.js';
import { RECONCILE_DEDUP_MS, addReconcileJobs } from '../reconciliation/enqueue.js';
import { BatchConsumer, type JobOutcome } from './batch-consumer.js';
import { QUEUE_NAMES, createRedis, type EventJobData } from './queues.js';

export interface EventWorkerOptions {
  /** Jobs held at once, across the batches in flight. @defaultValue config.PROJECTION_CONCURRENCY */
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
  /** The BullMQ worker the consumer fetches with (manual mode). */
  worker: Worker<EventJobData>;
  consumer: BatchConsumer<EventJobData>;
  /** Stops taking jobs, finishes the batches in flight, disconnects. */
  close(): Promise<void>;
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return msg.slice(0, 2_000);
}

/**
 * The projection worker: BullMQ jobs (one per Stripe event) are taken in batches, and each batch
 * is projected in one transaction. A job completes only after its batch has committed and its
 * units' reconcile jobs are enqueued, so a crash at any point leaves it to be redone.
 *
 *   - Poison (unparseable JSON, an object we cannot map) → UnrecoverableError: straight to the
 *     failed set (the dead-letter view), inbox row `failed` with last_error.
 *   - Anything else (Postgres, Redis, the Stripe API) → the batch's jobs fail for BullMQ's
 *     exponential backoff; attempts and last_error are recorded on the inbox rows, best effort.
 */
export function startEventWorker(rt: Runtime, opts: EventWorkerOptions = {}): EventWorker {
  const log = rt.log.child({ component: 'event-worker' });
  const stripe = opts.stripe === undefined ? createStripeClient(rt.config) : opts.stripe;
  const delayMs = opts.reconcileDelayMs ?? RECONCILE_DEDUP_MS;
  const maxInFlight = Math.max(1, opts.maxConcurrentFlushes ?? 2);
  const concurrency = opts.concurrency ?? rt.config.PROJECTION_CONCURRENCY;
  const maxBatch = Math.max(
    1,
    Math.min(opts.maxBatchSize ?? 500, Math.ceil(concurrency / maxInFlight)),
  );

  const markFailed = (id: string, err: unknown) =>
    rt.pool
      .query(
        `UPDATE "stripe_events" SET "status" = 'failed', "last_error" = $2,
                "attempts" = "attempts" + 1 WHERE "id" = $1`,
        [id, errorText(err)],
      )
      .catch((e: unknown) => log.warn({ err: e, eventId: id }, 'could not mark inbox row failed'));

  /** The raw JSON of the batch's events, from the inbox, in one query (a throw retries the batch). */
  const inboxPayloads = async (jobs: Job<EventJobData>[]): Promise<Map<string, string>> => {
    const ids = [
      ...new Set(jobs.filter((j) => j.data.payload === undefined).map((j) => j.data.id)),
    ];
    if (ids.length === 0) return new Map();
    const { rows } = await rt.pool.query<{ id: string; payload: string }>({
      name: 'inbox_payloads_v1',
      text: `SELECT "id", "payload" FROM "stripe_events" WHERE "id" = ANY($1::text[])`,
      values: [ids],
    });
    return new Map(rows.map((r) => [r.id, r.payload]));
  };

  const poison = async (job: Job<EventJobData>, err: InvalidEventError): Promise<JobOutcome> => {
    log.warn({ eventId: job.data.id, jobId: job.id, reason: err.message }, 'poison event');
    await markFailed(job.data.id, err);
    return new UnrecoverableError(err.message);
  };

  /** Projects the parsed events; an event whose object cannot be mapped is taken out as poison and the rest redone. */
  const project = async (batch: Array<{ job: Job<EventJobData>; event: EventLike }>) => {
    const outcomes = new Map<Job<EventJobData>, JobOutcome>();
    let rest = batch;
    while (rest.length > 0) {
      const events = rest.map((b) => b.event);
      try {
        const endTimer = projectionBatchSeconds.startTimer();
        const result = await applyEvents(rt.pool, stripe, events);
        endTimer();
        for (const e of events) eventsProjectedTotal.inc({ type: e.type });
        // Thrown on a Redis error: the jobs retry, re-apply (idempotent) and enqueue again.
        await addReconcileJobs(rt, result.touchedUnits, delayMs);
        log.debug({ events: events.length, units: result.touchedUnits.length }, 'batch projected');
        for (const b of rest) outcomes.set(b.job, null);
        return outcomes;
      } catch (err) {
        if (err instanceof InvalidEventError && err.eventId) {
          const bad = rest.filter((b) => b.event.id === err.eventId);
          for (const b of bad) outcomes.set(b.job, await poison(b.job, err));
          if (bad.length > 0) {
            rest = rest.filter((b) => b.event.id !== err.eventId);
            continue;
          }
        }
        log.warn({ err, events: events.length }, 'projection batch failed; jobs will retry');
        await rt.pool
          .query(
            `UPDATE "stripe_events" SET "attempts" = "attempts" + 1, "last_error" = $2
              WHERE "id" = ANY($1::text[]) AND "status" <> 'processed'`,
            [[...new Set(events.map((e) => e.id))], errorText(err)],
          )
          .catch(() => {});
        const e = err instanceof Error ? err : new Error(String(err));
        for (const b of rest) outcomes.set(b.job, e);
        return outcomes;
      }
    }
    return outcomes;
  };

  const consumer = new BatchConsumer<EventJobData>({
    queueName: QUEUE_NAMES.events,
    prefix: rt.config.QUEUE_PREFIX,
    connection: createRedis(rt.config.REDIS_URL),
    log,
    maxBatch,
    maxInFlight,
    handle: async (jobs) => {
      const outcomes: JobOutcome[] = jobs.map(() => null);
      const payloads = await inboxPayloads(jobs);
      const parsed: Array<{ job: Job<EventJobData>; event: EventLike }> = [];
      for (const [i, job] of jobs.entries()) {
        const payload = job.data.payload ?? payloads.get(job.data.id);
        if (payload === undefined) {
          // Jobs are added only after their row committed: a missing row was deleted by hand.
          outcomes[i] = await poison(
            job,
            new InvalidEventError(`event ${job.data.id}: no inbox row`, job.data.id),
          );
          continue;
        }
        try {
          parsed.push({ job, event: parseEvent(payload) });
        } catch (err) {
          if (!(err instanceof InvalidEventError)) throw err;
          outcomes[i] = await poison(job, err);
        }
      }
      if (parsed.length > 0) {
        const projected = await project(parsed);
        for (const [i, job] of jobs.entries()) {
          if (projected.has(job)) outcomes[i] = projected.get(job) ?? null;
        }
      }
      return outcomes;
    },
  });
  consumer.on('failed', (job, err, final) => {
    // Retries exhausted (poison rows were marked already): the inbox row says so too.
    if (final && !(err instanceof UnrecoverableError)) void markFailed(job.data.id, err);
  });

  return {
    worker: consumer.worker,
    consumer,
    close: () => consumer.close(),
  };
}
