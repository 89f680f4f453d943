import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DatabaseError } from 'pg';
import type { AnyDb } from '../db/prisma.js';
import { InboxUnavailableError, isTransientError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { inboxBatchSize, inboxEnqueueFailuresTotal } from '../metrics.js';
import { addEventJobs, withTimeout } from '../queue/producer.js';
import { OutageLog } from '../log/outage.js';
import { insertBatch, markEnqueued } from '../inbox/statements.js';
import type { EventJobData } from '../queue/queues.js';
import type { Runtime } from '../runtime.js';
import type { InboxEvent } from '../inbox/statements.js';
import { MicroBatcher } from './micro-batcher.js';

export type { InboxEvent };

export interface InboxWriteResult {
  /** The inbox already held this event id (an earlier delivery, or an earlier copy in the batch). */
  duplicate: boolean;
}

export interface InboxWriterOptions {
  /** @defaultValue 500 */
  maxBatchSize?: number;
  /**
   * INSERTs in flight at once. Items arriving meanwhile pile into the next batch, which starts
   * the moment a slot frees (group commit). Two overlap one batch's WAL flush with the next
   * batch's work; measured best on a loaded 2-core box (1: −10–40 % throughput, 4: smaller batches).
   * @defaultValue 2
   */
  maxConcurrentFlushes?: number;
  /** Events allowed to wait for a flush before `write()` answers "unavailable". @defaultValue 10000 */
  maxPending?: number;
  /**
   * Longest a request waits for its batch to commit before it is answered 503. Answering 503 is
   * always safe: if the row commits later, Stripe's retry is a duplicate and gets a 2xx.
   * @defaultValue 10000
   */
  ackTimeoutMs?: number;
  /** Longest one `addBulk` may take before the relay is left to enqueue those events. @defaultValue 2000 */
  enqueueTimeoutMs?: number;
  /** `stripe_events.source` of the rows written. @defaultValue 'webhook' */
  source?: string;
}

export interface InboxWriterDeps {
  db: AnyDb;
  queue: Queue<EventJobData>;
  redis: Redis;
  log: Logger;
}

type FlushResult = InboxWriteResult | Error;

/** How long stored events wait to share a job with the next flushes' (see #startEnqueue). */
const ENQUEUE_WINDOW_MS = 10;

/** SQLSTATE classes that mean "this data", not "this database": retry the batch row by row. */
function isDataError(err: unknown): boolean {
  const code = (err as Partial<DatabaseError> | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * The receiver's write path. `write()` joins the current micro-batch; a flush is one multi-row
 * INSERT … ON CONFLICT DO NOTHING, and the promise resolves only after that statement committed.
 * New, handled events are then enqueued as batch jobs (the flushes of a 10 ms window share one)
 * without holding up the acknowledgement, and marked `enqueued_at` with one UPDATE per batch of marks.
 * When Redis is down the enqueue is skipped (bounded, never hangs) and the inbox relay catches up.
 */
export class InboxWriter {
  readonly #deps: InboxWriterDeps;
  readonly #ackTimeoutMs: number;
  readonly #enqueueTimeoutMs: number;
  readonly #source: string;
  readonly #batcher: MicroBatcher<InboxEvent, FlushResult>;
  readonly #enqueues = new Set<Promise<void>>();
  /** Stored events waiting for the next job (flushes within a window share one). */
  #toEnqueue: InboxEvent[] = [];
  #enqueueTimer: NodeJS.Timeout | undefined;
  /** Ids whose jobs were added, waiting to be stamped `enqueued_at` by the next statement. */
  #marks: string[] = [];
  #markFlush: Promise<void> | undefined;
  #markScheduled = false;
  /** An outage is logged once (and each minute), not per flush or per request. */
  #redisOutage: OutageLog;
  #pgOutage: OutageLog;

  constructor(deps: InboxWriterDeps, opts: InboxWriterOptions = {}) {
    this.#deps = deps;
    this.#ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
    this.#enqueueTimeoutMs = opts.enqueueTimeoutMs ?? 2_000;
    this.#source = opts.source ?? 'webhook';
    this.#redisOutage = new OutageLog(
      deps.log,
      'redis',
      'events are stored and acknowledged, and the inbox relay enqueues them once Redis is back',
    );
    this.#pgOutage = new OutageLog(
      deps.log,
      'postgres',
      'webhooks are answered 503 and Stripe retries them',
    );
    this.#batcher = new MicroBatcher<InboxEvent, FlushResult>({
      flush: (items) => this.#flush(items),
      maxBatchSize: opts.maxBatchSize ?? 500,
      maxConcurrentFlushes: opts.maxConcurrentFlushes ?? 2,
      maxPending: opts.maxPending ?? 10_000,
      onFlush: (size) => inboxBatchSize.observe(size),
    });
  }

  /**
   * Resolves once the event is durable in the inbox. Throws InboxUnavailableError when it could
   * not be written (Postgres down or too slow, writer overloaded or closed): answer 503.
   */
  async write(ev: InboxEvent): Promise<InboxWriteResult> {
    let result: FlushResult;
    try {
      result = await withTimeout(this.#batcher.add(ev), this.#ackTimeoutMs, 'inbox write');
    } catch (err) {
      throw new InboxUnavailableError('the inbox could not store the event', { cause: err });
    }
    if (result instanceof Error) {
      throw new InboxUnavailableError('the inbox could not store the event', { cause: result });
    }
    return result;
  }

  /** Waits until nothing is being written, enqueued or marked (tests, graceful shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      await this.#batcher.idle();
      if (this.#toEnqueue.length > 0) this.#enqueueNow();
      if (this.#enqueues.size > 0) await Promise.allSettled([...this.#enqueues]);
      if (this.#marks.length > 0) await this.#flushMarks();
      if (this.#markFlush) await this.#markFlush;
      const busy =
        this.#batcher.pending +
        this.#batcher.inFlight +
        this.#enqueues.size +
        this.#toEnqueue.length +
        this.#marks.length;
      if (busy === 0 && !this.#markFlush) return;
    }
  }

  /** Stops accepting events and finishes what was accepted (flush, enqueue, mark). */
  async close(): Promise<void> {
    await this.#batcher.close();
    await this.idle();
  }

  async #insert(items: InboxEvent[], marks: string[] = []): Promise<Set<string>> {
    return insertBatch(this.#deps.db, items, this.#source, marks);
  }

  async #flush(items: InboxEvent[]): Promise<FlushResult[]> {
    // A batch may hold two deliveries of one event: insert it once; later copies are duplicates.
    const firstIndex = new Map<string, number>();
    const unique: InboxEvent[] = [];
    items.forEach((e, i) => {
      if (!firstIndex.has(e.id)) {
        firstIndex.set(e.id, i);
        unique.push(e);
      }
    });

    let inserted: Set<string>;
    const failed = new Map<string, Error>();
    const marks = this.#marks.splice(0, 10_000);
    try {
      inserted = await this.#insert(unique, marks);
      this.#pgOutage.success();
    } catch (err) {
      if (marks.length > 0) this.#queueMarks(marks);
      if (isTransientError(err)) this.#pgOutage.failure(err);
      // One bad row must not 503 its whole batch forever: retry row by row, failing only it.
      if (!isDataError(err) || unique.length === 1) throw err;
      inserted = new Set();
      await Promise.all(
        unique.map(async (e) => {
          try {
            for (const id of await this.#insert([e])) inserted.add(id);
          } catch (rowErr) {
            failed.set(e.id, rowErr as Error);
          }
        }),
      );
      this.#deps.log.error({ failed: [...failed.keys()] }, 'inbox rows refused by Postgres');
    }

    const fresh = unique.filter((e) => inserted.has(e.id) && e.status === 'pending');
    if (fresh.length > 0) this.#startEnqueue(fresh);

    return items.map((e, i) => {
      const err = failed.get(e.id);
      if (err) return err;
      return { duplicate: firstIndex.get(e.id) !== i || !inserted.has(e.id) };
    });
  }

  /**
   * A job is a batch: the events of the flushes that commit within ENQUEUE_WINDOW_MS go into one
   * job (split at 500 ids), so under load BullMQ runs its few scripts per hundreds of events, not
   * per flush. The window delays only the job, never the acknowledgement.
   */
  #startEnqueue(events: InboxEvent[]): void {
    for (const e of events) this.#toEnqueue.push(e);
    this.#enqueueTimer ??= setTimeout(() => this.#enqueueNow(), ENQUEUE_WINDOW_MS);
  }

  #enqueueNow(): void {
    clearTimeout(this.#enqueueTimer);
    this.#enqueueTimer = undefined;
    const events = this.#toEnqueue.splice(0);
    if (events.length === 0) return;
    const p = this.#enqueue(events).finally(() => this.#enqueues.delete(p));
    this.#enqueues.add(p);
  }

  async #enqueue(events: InboxEvent[]): Promise<void> {
    const { queue, redis, log } = this.#deps;
    try {
      await addEventJobs(queue, redis, events, this.#enqueueTimeoutMs);
      this.#redisOutage.success();
    } catch (err) {
      inboxEnqueueFailuresTotal.inc(events.length);
      this.#redisOutage.failure(err);
      log.debug({ count: events.length }, 'events stored but not enqueued');
      return;
    }
    this.#queueMarks(events.map((e) => e.id));
  }

  /**
   * Stamps `enqueued_at` soon: a flush already waiting to start carries the ids in its INSERT;
   * otherwise one UPDATE on the next turn of the event loop. Losing a stamp is harmless: the relay
   * would find the job in the queue and stamp the row itself.
   */
  #queueMarks(ids: string[]): void {
    for (const id of ids) this.#marks.push(id);
    if (this.#batcher.pending > 0 || this.#markScheduled) return;
    this.#markScheduled = true;
    setImmediate(() => {
      this.#markScheduled = false;
      if (this.#batcher.pending > 0) return; // that flush will carry them
      void this.#flushMarks();
    });
  }

  #flushMarks(): Promise<void> {
    if (this.#markFlush) return this.#markFlush.then(() => this.#flushMarks());
    const ids = this.#marks.splice(0);
    if (ids.length === 0) return Promise.resolve();
    const p = markEnqueued(this.#deps.db, ids)
      .then(
        () => undefined,
        (err: Error) => {
          this.#deps.log.warn(
            { count: ids.length, reason: err.message },
            'could not mark events enqueued',
          );
        },
      )
      .finally(() => {
        this.#markFlush = undefined;
      });
    this.#markFlush = p;
    return p;
  }
}

export function createInboxWriter(rt: Runtime, opts: InboxWriterOptions = {}): InboxWriter {
  return new InboxWriter(
    {
      db: rt.prisma,
      queue: rt.queues.events,
      redis: rt.redis,
      log: rt.log.child({ component: 'inbox' }),
    },
    opts,
  );
}
