import {
  loadPayloads,
  markFailed as markInboxFailed,
  noteAttempt as noteInboxAttempt,
} from '../inbox/statements.js';
import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import type Stripe from 'stripe';
import { isTransientError } from '../errors.js';
import { OutageLog } from '../log/outage.js';
import { InvalidEventError, parseEvent, type EventLike } from '../inbox/envelope.js';
import { applyEvents } from './apply.js';
import { eventsProjectedTotal, projectionBatchSeconds } from '../metrics.js';
import type { Runtime } from '../runtime.js';
import { createStripeClient } from '../stripe/client.js';
import { wakeReconcile } from '../reconciliation/enqueue.js';
import { RECONCILE_DEBOUNCE_MS } from '../reconciliation/outbox.js';
import { BatchConsumer, StalledTooOftenError, type JobOutcome } from '../queue/batch-consumer.js';
import { MAX_EVENTS_PER_JOB, eventJobs } from '../queue/producer.js';
import { QUEUE_NAMES, createRedis, type EventJobData } from '../queue/queues.js';

export interface EventWorkerOptions {
  /** Jobs held at once, across the batches in flight. @defaultValue config.PROJECTION_CONCURRENCY */
  concurrency?: number;
  /** SDK for `has_more` reversal listings. @defaultValue createStripeClient(config) */
  stripe?: Stripe | null;
  /** Most events per transaction. @defaultValue 500 */
  maxBatchSize?: number;
  /**
   * Batches in flight at once. Two let one batch's JSON mapping in Node overlap with Postgres
   * executing the other's transaction; the transactions themselves run one at a time (below).
   * @defaultValue 2
   */
  maxConcurrentFlushes?: number;
  /** Debounce of the reconcile a touched unit gets (its outbox due time). @defaultValue 200 */
  reconcileDelayMs?: number;
}

export interface EventWorker {
  /** The BullMQ worker the consumer fetches with (manual mode). */
  worker: Worker<EventJobData>;
  consumer: BatchConsumer<EventJobData>;
  /** Stops taking jobs, finishes the batches in flight, disconnects. */
  close(): Promise<void>;
}

/** The event ids a job stands for (batch jobs, and the one-event jobs of the earlier design). */
function jobIds(job: Job<EventJobData>): string[] {
  const d = job.data ?? {};
  if (Array.isArray(d.ids)) return d.ids.filter((id): id is string => typeof id === 'string');
  return typeof d.id === 'string' && d.id !== '' ? [d.id] : [];
}

interface Item {
  id: string;
  event: EventLike;
}

/**
 * The projection worker. A job is a batch of inbox event ids; the jobs fetched together are
 * projected in transactions of at most `maxBatchSize` events, each of which also marks the touched
 * units in the reconcile outbox. A job completes only after its events committed, so a crash at
 * any point leaves it to be redone (idempotently).
 *
 *   - Transient failure (connection lost, serialization failure, deadlock, Stripe unreachable):
 *     the jobs fail whole and BullMQ retries them with backoff.
 *   - Any other failure: the batch is split in halves, and those again, so every event that can
 *     be projected commits; each event that still fails alone is taken out into a job of its own
 *     (recorded on its inbox row), which retries and is dead-lettered with its own error. One bad
 *     event never holds up the rest of its batch.
 *   - An event that can never be projected (malformed JSON or object) fails its own job with an
 *     UnrecoverableError: straight to the failed set (the dead-letter view), inbox row `failed`.
 */
export function startEventWorker(rt: Runtime, opts: EventWorkerOptions = {}): EventWorker {
  const log = rt.log.child({ component: 'event-worker' });
  const stripe = opts.stripe === undefined ? createStripeClient(rt.config) : opts.stripe;
  const debounceMs = opts.reconcileDelayMs ?? RECONCILE_DEBOUNCE_MS;
  const maxInFlight = Math.max(1, opts.maxConcurrentFlushes ?? 2);
  const concurrency = opts.concurrency ?? rt.config.PROJECTION_CONCURRENCY;
  const maxEvents = Math.max(1, opts.maxBatchSize ?? MAX_EVENTS_PER_JOB);
  // Jobs per fetch, by the events they carry: up to one transaction's worth (maxEvents). From a
  // backlog a job already holds up to 500 events, so a fetch takes one or two; at a steady rate
  // the receiver's jobs are small (one per 10 ms of commits) and a fetch gathers dozens, so a
  // transaction still projects hundreds of events — the transactions run one at a time (below),
  // so their size is the throughput. Fetching by job count alone either held (and parsed)
  // hundreds of thousands of events from a backlog, or made 20-event transactions at 2,000/s.
  const maxJobs = Math.max(1, Math.min(64, Math.ceil(concurrency / maxInFlight)));

  const pgOutage = new OutageLog(log, 'postgres', 'events are not projected; their jobs retry');

  const markFailed = (ids: string[], err: unknown) =>
    markInboxFailed(rt.prisma, ids, err).catch((e: unknown) =>
      log.warn({ err: e, eventIds: ids }, 'could not mark inbox rows failed'),
    );

  const noteAttempt = (ids: string[], err: unknown) =>
    noteInboxAttempt(rt.prisma, ids, err).catch(() => {});

  /** The raw JSON of the events, from the inbox, in one query (a throw retries the jobs). */
  const inboxPayloads = (ids: string[]) => loadPayloads(rt.pool, ids);

  // One projection transaction at a time in this process. Two batches in one transaction each
  // nearly always share a transfer (its events are spread over the whole stream), and the second
  // then waits on that row lock for the rest of the first: measured, most of the time the
  // transfers upsert "ran" was such a wait (pg_stat_statements, docs/performance.md). The
  // mapping of the next batch still overlaps the running transaction.
  let txTail: Promise<unknown> = Promise.resolve();
  const gate = <T>(run: () => Promise<T>): Promise<T> => {
    const next = txTail.then(run, run);
    txTail = next.catch(() => {});
    return next;
  };

  /** One transaction; throws what applyEvents throws. */
  const applyOnce = async (items: Item[]) => {
    const endTimer = projectionBatchSeconds.startTimer();
    // The one path on the bare pg pool (under Prisma): through Prisma it took 18 % longer
    // (`npm run bench -- projection`, docs/performance.md). Same statements either way.
    const r = await applyEvents(
      rt.pool,
      stripe,
      items.map((i) => i.event),
      { reconcileDebounceMs: debounceMs, gate },
    );
    endTimer();
    for (const i of items) eventsProjectedTotal.inc({ type: i.event.type });
    if (r.sanitized.length > 0)
      log.warn(
        { eventIds: r.sanitized },
        'projected with text Postgres cannot store replaced (NUL, or nesting too deep); the raw events are in the inbox',
      );
  };

  /**
   * Applies the items, splitting on non-transient failures; returns the events that fail alone,
   * with their errors. Rethrows a transient failure (the caller retries everything; what already
   * committed is re-applied as a no-op).
   */
  const applySplitting = async (items: Item[]): Promise<Array<{ id: string; err: Error }>> => {
    if (items.length === 0) return [];
    try {
      await applyOnce(items);
      return [];
    } catch (err) {
      if (isTransientError(err)) throw err;
      const e = err instanceof Error ? err : new Error(String(err));
      // The mappers name an unmappable event before anything is written: take just it out.
      if (err instanceof InvalidEventError && err.eventId) {
        const bad = items.filter((i) => i.id === err.eventId);
        if (bad.length > 0) {
          const rest = await applySplitting(items.filter((i) => i.id !== err.eventId));
          return [{ id: err.eventId, err: e }, ...rest];
        }
      }
      if (items.length === 1) return [{ id: items[0]!.id, err: e }];
      const mid = Math.ceil(items.length / 2);
      return [
        ...(await applySplitting(items.slice(0, mid))),
        ...(await applySplitting(items.slice(mid))),
      ];
    }
  };

  /** Projects one group of jobs (≤ maxEvents events); returns one outcome per job. */
  const handleGroup = async (
    group: Array<{ job: Job<EventJobData>; items: Item[]; missing: string[] }>,
  ): Promise<JobOutcome[]> => {
    const items = group.flatMap((g) => g.items);
    let culprits: Array<{ id: string; err: Error }>;
    try {
      culprits = await applySplitting(items);
      pgOutage.success();
    } catch (err) {
      // Only transient failures reach here (the rest were split out). During an outage that is
      // every batch: one line when it starts, one a minute, one when it ends.
      pgOutage.failure(err);
      log.debug(
        { reason: (err as Error).message, events: items.length },
        'projection batch failed; jobs will retry',
      );
      await noteAttempt(
        items.map((i) => i.id),
        err,
      );
      const e = err instanceof Error ? err : new Error(String(err));
      return group.map(() => e);
    }
    if (items.length > culprits.length) wakeReconcile(rt);
    // Rows that vanished (deleted by hand) can never be projected.
    for (const id of group.flatMap((g) => g.missing))
      culprits.push({ id, err: new InvalidEventError(`event ${id}: no inbox row`, id) });
    const outcomes: JobOutcome[] = group.map(() => null);
    const splitOut: Array<{ id: string; err: Error }> = [];
    for (const c of culprits) {
      // A job of this one event already: it carries the error (retries, then dead-letters).
      const own = group.findIndex(
        (g) => g.items.length + g.missing.length === 1 && jobIds(g.job)[0] === c.id,
      );
      if (own < 0) {
        splitOut.push(c);
      } else if (c.err instanceof InvalidEventError) {
        log.warn({ eventId: c.id, reason: c.err.message }, 'poison event');
        await markFailed([c.id], c.err);
        outcomes[own] = new UnrecoverableError(c.err.message);
      } else {
        await noteAttempt([c.id], c.err);
        outcomes[own] = c.err;
      }
    }
    if (splitOut.length > 0) {
      log.warn(
        { culprits: splitOut.map((c) => ({ eventId: c.id, reason: c.err.message })) },
        'events split out of their batch; each retries on its own',
      );
      for (const c of splitOut) await noteAttempt([c.id], c.err);
      // Thrown if Redis refuses: the whole group retries and splits again (idempotent).
      await rt.queues.events.addBulk(eventJobs(splitOut, 1));
    }
    return outcomes;
  };

  const consumer = new BatchConsumer<EventJobData>({
    queueName: QUEUE_NAMES.events,
    prefix: rt.config.QUEUE_PREFIX,
    connection: createRedis(rt.config.REDIS_URL),
    log,
    maxBatch: maxJobs,
    weight: (job) => Math.max(1, jobIds(job).length),
    maxWeight: maxEvents,
    maxInFlight,
    lockDurationMs: rt.config.JOB_LOCK_DURATION,
    stalledIntervalMs: rt.config.JOB_LOCK_DURATION,
    handle: async (jobs) => {
      const wanted = jobs.flatMap((j) => (j.data?.payload === undefined ? jobIds(j) : []));
      const payloads = await inboxPayloads([...new Set(wanted)]);
      const outcomes: JobOutcome[] = jobs.map(() => null);
      // Parse every job's events; a job whose only event is not even an envelope fails here.
      type Prepared = { index: number; job: Job<EventJobData>; items: Item[]; missing: string[] };
      const prepared: Prepared[] = [];
      for (const [index, job] of jobs.entries()) {
        const ids = jobIds(job);
        const items: Item[] = [];
        const missing: string[] = [];
        const poisoned: Array<{ id: string; err: InvalidEventError }> = [];
        for (const id of ids) {
          const payload = job.data.payload ?? payloads.get(id);
          if (payload === undefined) {
            missing.push(id);
            continue;
          }
          try {
            items.push({ id, event: parseEvent(payload) });
          } catch (err) {
            if (!(err instanceof InvalidEventError)) throw err;
            poisoned.push({ id, err });
          }
        }
        if (poisoned.length > 0) {
          for (const p of poisoned) {
            log.warn({ eventId: p.id, jobId: job.id, reason: p.err.message }, 'poison event');
            await markFailed([p.id], p.err);
          }
          if (ids.length === 1) {
            outcomes[index] = new UnrecoverableError(poisoned[0]!.err.message);
            continue;
          }
          // Into the dead-letter view, each on its own job (it fails there for good).
          await rt.queues.events.addBulk(eventJobs(poisoned, 1));
        }
        if (items.length + missing.length > 0) prepared.push({ index, job, items, missing });
      }
      // Groups of whole jobs, up to maxEvents events per transaction.
      let group: Prepared[] = [];
      let size = 0;
      const run = async () => {
        if (group.length === 0) return;
        const r = await handleGroup(group);
        group.forEach((g, i) => (outcomes[g.index] = r[i] ?? null));
        group = [];
        size = 0;
      };
      for (const p of prepared) {
        if (size > 0 && size + p.items.length > maxEvents) await run();
        group.push(p);
        size += p.items.length;
      }
      await run();
      return outcomes;
    },
  });
  consumer.on('failed', (job, err, final) => {
    // Retries exhausted (poison rows were marked already): the inbox rows say so too — unless
    // the cause was the infrastructure (an outage longer than the retry budget). Those rows stay
    // `pending`, so the relay enqueues them again once it can, with no operator needed.
    // A job whose workers kept dying is a dead letter too: its rows say so, for the replay.
    const given = err instanceof StalledTooOftenError || !(err instanceof UnrecoverableError);
    if (final && given && !isTransientError(err)) void markFailed(jobIds(job), err);
  });

  return {
    worker: consumer.worker,
    consumer,
    close: () => consumer.close(),
  };
}
