import type { Job, Queue } from 'bullmq';
import type { Runtime } from '../runtime.js';

/** One job that exhausted its attempts (or was poison) and sits in a queue's failed set. */
export interface DeadLetter {
  queue: string;
  jobId: string;
  name: string;
  /** The Stripe event id(s) of an `events` job (comma-separated for a batch), else null. */
  ref: string | null;
  failedReason: string;
  attemptsMade: number;
  /** When it last failed (ms), or null. */
  failedAt: number | null;
  stacktrace: string[];
}

function queuesOf(rt: Pick<Runtime, 'queues'>): Array<Queue> {
  return [rt.queues.events as Queue, rt.queues.reconcile as Queue];
}

function refOf(job: Job): string | null {
  const d = job.data as { ids?: unknown; id?: unknown; key?: unknown } | undefined;
  if (Array.isArray(d?.ids)) return d.ids.join(',');
  if (typeof d?.id === 'string') return d.id;
  if (typeof d?.key === 'string') return d.key;
  return null;
}

const PAGE = 500;

async function* failedJobs(q: Queue): AsyncGenerator<Job> {
  // Failed jobs are read in pages so a large dead-letter set never loads at once.
  for (let start = 0; ; start += PAGE) {
    const jobs = await q.getFailed(start, start + PAGE - 1);
    for (const j of jobs) if (j) yield j;
    if (jobs.length < PAGE) return;
  }
}

/** The dead-letter view: every failed job of the events and reconcile queues, with its error. */
export async function listDeadLetters(rt: Pick<Runtime, 'queues'>): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for (const q of queuesOf(rt)) {
    for await (const j of failedJobs(q)) {
      out.push({
        queue: q.name,
        jobId: String(j.id),
        name: j.name,
        ref: refOf(j),
        failedReason: j.failedReason ?? '',
        attemptsMade: j.attemptsMade,
        failedAt: j.finishedOn ?? null,
        stacktrace: j.stacktrace ?? [],
      });
    }
  }
  return out;
}

export interface ReplayResult {
  replayed: number;
  /** Jobs that could not be moved back (e.g. removed meanwhile), with the reason. */
  errors: Array<{ queue: string; jobId: string; message: string }>;
}

/**
 * `recon replay --dead-letter`: moves every failed job back to waiting (`job.retry()`), with its
 * attempts reset, so it runs again through the normal path (projection is idempotent).
 */
export async function replayDeadLetters(rt: Pick<Runtime, 'queues'>): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, errors: [] };
  for (const q of queuesOf(rt)) {
    // Collect first: retrying shrinks the failed set under the pager.
    const jobs: Job[] = [];
    for await (const j of failedJobs(q)) jobs.push(j);
    for (const j of jobs) {
      try {
        await j.retry('failed', { resetAttemptsMade: true });
        result.replayed++;
      } catch (err) {
        result.errors.push({ queue: q.name, jobId: String(j.id), message: (err as Error).message });
      }
    }
  }
  return result;
}
