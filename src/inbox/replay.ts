import { addEventJobs } from '../queue/producer.js';
import type { Runtime } from '../runtime.js';
import { replayPage, requeue } from './statements.js';

export interface ReplayInboxOptions {
  /** Rows received at or after this time. */
  since: Date;
  /** Also replay rows stored as `ignored` (no worker handles them). @defaultValue false */
  includeIgnored?: boolean;
  /** @defaultValue 500 */
  pageSize?: number;
  /** Bound on each Redis round trip. @defaultValue 10000 */
  redisTimeoutMs?: number;
  onProgress?: (done: number) => void;
}

export interface ReplayInboxResult {
  /** Rows re-enqueued. */
  enqueued: number;
}

/**
 * `recon replay --inbox --since T`: enqueues every inbox row received since T again, whatever its
 * status (except `ignored`, unless asked), as batch jobs; rows go back to `pending` with a fresh
 * enqueued_at. A row whose job is still queued is projected twice, which is a no-op.
 */
export async function replayInbox(
  rt: Pick<Runtime, 'prisma' | 'queues' | 'redis'>,
  opts: ReplayInboxOptions,
): Promise<ReplayInboxResult> {
  const pageSize = opts.pageSize ?? 500;
  const timeoutMs = opts.redisTimeoutMs ?? 10_000;
  const result: ReplayInboxResult = { enqueued: 0 };
  let after: { at: Date; id: string } | null = null;
  for (;;) {
    const rows = await replayPage(rt.prisma, {
      since: opts.since,
      includeIgnored: opts.includeIgnored ?? false,
      after,
      limit: pageSize,
    });
    if (rows.length === 0) break;
    await addEventJobs(rt.queues.events, rt.redis, rows, timeoutMs);
    await requeue(
      rt.prisma,
      rows.map((r) => r.id),
    );
    result.enqueued += rows.length;
    opts.onProgress?.(result.enqueued);
    const last = rows[rows.length - 1]!;
    after = { at: last.received_at, id: last.id };
    if (rows.length < pageSize) break;
  }
  return result;
}
