import { transaction } from '../db/prisma.js';
import { isTransientError } from '../errors.js';
import { OutageLog } from '../log/outage.js';
import { relayEnqueuedTotal } from '../metrics.js';
import type { Runtime } from '../runtime.js';
import { relayClaim, relayMark } from './statements.js';
import { addEventJobs, redisReady } from '../queue/producer.js';

/**
 * The inbox relay: the receiver acknowledges from Postgres, so anything it stored but could not
 * enqueue (Redis down, process killed between commit and enqueue, Redis restarted empty) is
 * enqueued from here. Rows are claimed page by page with FOR UPDATE SKIP LOCKED, so several
 * processes can run a relay without doubling the work; each page becomes one batch job.
 *
 * Which rows: `status = 'pending'` and either never enqueued (older than `minAgeMs`, so the
 * receiver's own enqueue is not raced) or enqueued longer than `stuckAfterMs` ago and still
 * pending. A stuck row is simply enqueued again: its job may have been lost with Redis, or may
 * still be waiting behind a backlog, and projecting an event twice is a no-op (guarded writes).
 * Rows whose job exhausted its attempts are `failed`, not `pending`: the dead-letter replay's.
 * Every row looked at gets `enqueued_at = now()`, so it is looked at again only after `stuckAfterMs`.
 */

export interface InboxRelayOptions {
  /** Time between passes. @defaultValue config RELAY_INTERVAL */
  intervalMs?: number;
  /** A pending row enqueued this long ago is checked against BullMQ. @defaultValue config RELAY_STUCK_AFTER */
  stuckAfterMs?: number;
  /** Never-enqueued rows younger than this are left to the receiver. @defaultValue 1000 */
  minAgeMs?: number;
  /** Rows per page (one addBulk, one UPDATE, one transaction each). @defaultValue 500 */
  pageSize?: number;
  /** Most pages per pass, so one pass cannot run forever. @defaultValue 200 */
  maxPagesPerPass?: number;
  /** Bound on each Redis round trip. @defaultValue 5000 */
  redisTimeoutMs?: number;
}

export interface RelayPassResult {
  /** Never-enqueued rows added. */
  added: number;
  /** Stuck rows (enqueued long ago, still pending) added again. */
  readded: number;
  pages: number;
  /** Why the pass stopped early, if it did. */
  skipped?: string;
}

export interface InboxRelay {
  /** Runs one pass now (waits for a running one first). */
  runNow(): Promise<RelayPassResult>;
  stop(): Promise<void>;
}

/** A Redis step failed: the page's transaction rolls back and the pass ends early. */
class RedisStepError extends Error {}

/** One relay pass over the inbox. Throws only on Postgres errors; Redis trouble ends the pass early. */
export async function relayInboxOnce(
  rt: Runtime,
  opts: InboxRelayOptions = {},
): Promise<RelayPassResult> {
  const stuckAfterMs = opts.stuckAfterMs ?? rt.config.RELAY_STUCK_AFTER;
  const minAgeMs = opts.minAgeMs ?? 1_000;
  const pageSize = opts.pageSize ?? 500;
  const maxPages = opts.maxPagesPerPass ?? 200;
  const timeoutMs = opts.redisTimeoutMs ?? 5_000;
  const queue = rt.queues.events;
  const result: RelayPassResult = { added: 0, readded: 0, pages: 0 };

  while (result.pages < maxPages) {
    if (!redisReady(rt.redis)) {
      result.skipped = `redis ${rt.redis.status}`;
      break;
    }
    let claimed = 0;
    try {
      claimed = await transaction(rt.prisma, async (c) => {
        const rows = await relayClaim(c, minAgeMs, stuckAfterMs, pageSize);
        if (rows.length === 0) return 0;
        try {
          await addEventJobs(queue, rt.redis, rows, timeoutMs);
        } catch (err) {
          throw new RedisStepError((err as Error).message, { cause: err });
        }
        await relayMark(
          c,
          rows.map((r) => r.id),
        );
        const stuck = rows.filter((r) => r.stuck).length;
        result.added += rows.length - stuck;
        result.readded += stuck;
        return rows.length;
      });
    } catch (err) {
      if (!(err instanceof RedisStepError)) throw err; // Postgres: the caller logs it
      result.skipped = (err as Error).message;
      break;
    }
    result.pages++;
    if (claimed < pageSize) break;
  }
  if (result.added) relayEnqueuedTotal.inc({ reason: 'not_enqueued' }, result.added);
  if (result.readded) relayEnqueuedTotal.inc({ reason: 'stuck' }, result.readded);
  return result;
}

/** Runs a pass at once and then every `intervalMs` (never two at a time in one process). */
export function startInboxRelay(rt: Runtime, opts: InboxRelayOptions = {}): InboxRelay {
  const intervalMs = opts.intervalMs ?? rt.config.RELAY_INTERVAL;
  const log = rt.log.child({ component: 'relay' });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<RelayPassResult> | undefined;

  const pgOutage = new OutageLog(log, 'postgres', 'the inbox relay cannot read the inbox');
  const pass = async (): Promise<RelayPassResult> => {
    try {
      const r = await relayInboxOnce(rt, opts);
      pgOutage.success();
      const { added, readded, pages, skipped } = r;
      if (added || readded) {
        log.info({ added, readded, pages }, 'inbox relay enqueued events');
      } else if (skipped) {
        log.debug({ skipped }, 'inbox relay pass skipped');
      }
      if (skipped && (added || readded)) log.warn({ skipped }, 'inbox relay pass stopped early');
      return r;
    } catch (err) {
      if (isTransientError(err)) pgOutage.failure(err);
      else log.warn({ reason: (err as Error).message }, 'inbox relay pass failed');
      return { added: 0, readded: 0, pages: 0, skipped: (err as Error).message };
    }
  };

  const run = (): Promise<RelayPassResult> => {
    if (!running) running = pass().finally(() => (running = undefined));
    return running;
  };

  const loop = () => {
    if (stopped) return;
    void run().finally(() => {
      if (!stopped) {
        timer = setTimeout(loop, intervalMs);
        timer.unref?.();
      }
    });
  };
  loop();

  return {
    async runNow() {
      if (running) await running;
      return run();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      if (running) await running;
    },
  };
}
