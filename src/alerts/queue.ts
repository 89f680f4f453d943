import type { JobsOptions, Queue } from 'bullmq';
import { QUEUE_NAMES, closeSharedQueue, sharedQueue, type QueueHandles } from '../queue/queues.js';
import { redisReady, withTimeout } from '../queue/producer.js';
import type { MismatchChanges } from '../reconciliation/persist.js';
import type { Runtime } from '../runtime.js';
import type { Notification } from './messages.js';
import type { AlertSettings, SinkName } from './settings.js';

/**
 * Jobs of the `alerts` queue:
 * - `check`: claim every mismatch that needs a message (new, escalated, resolved) and enqueue
 *   one `deliver` per notification and sink. Added with a delay of ALERT_GROUP_WINDOW and
 *   deduplicated, so a burst of changes becomes one check, hence one message.
 * - `summary`: after a sweep, one `sweep.completed` notification for its report.
 * - `sweep_failed`: a sweep that failed for good (Stripe refused the key): one `sweep.failed`.
 * - `deliver`: one notification to one sink, retried with exponential backoff; when attempts run
 *   out it stays in the failed set (the dead letter). Sinks fail independently.
 */
export type AlertJobData =
  | { job: 'check' }
  | { job: 'summary'; report_id: string }
  | { job: 'sweep_failed'; sweep_run_id: string; error: string }
  | { job: 'deliver'; sink: SinkName; notification: Notification };

export const CHECK_DEDUP_ID = 'alerts-check';
/** The safety net: a check every minute picks up anything no hook announced (e.g. after a crash). */
export const CHECK_SCHEDULER_ID = 'alerts-check-every-minute';

/** The producer side of the alerts queue, one per runtime (shares the runtime's Redis connection). */
export function alertQueue(rt: QueueHandles): Queue<AlertJobData> {
  return sharedQueue<AlertJobData>(rt, QUEUE_NAMES.alerts);
}

export async function closeAlertQueue(rt: QueueHandles): Promise<void> {
  await closeSharedQueue(rt, QUEUE_NAMES.alerts);
}

/**
 * Asks for a `check` in ALERT_GROUP_WINDOW. While one is waiting, further requests are no-ops;
 * while one runs, exactly one more is kept, so changes made during a check are not missed.
 */
export async function scheduleAlertCheck(
  rt: Pick<Runtime, 'config' | 'redis'>,
  delayMs = rt.config.ALERT_GROUP_WINDOW,
): Promise<void> {
  if (!redisReady(rt.redis)) throw new Error(`Redis is not connected (status ${rt.redis.status})`);
  await withTimeout(
    alertQueue(rt).add(
      'check',
      { job: 'check' },
      { delay: delayMs, deduplication: { id: CHECK_DEDUP_ID, keepLastIfActive: true } },
    ),
    5_000,
    'alerts check enqueue',
  );
}

/**
 * The reconciler's hook: after mismatches were persisted, schedule a grouped check if anything
 * changed. Never throws — a dead sink or Redis must not fail reconciliation; the minute-by-minute
 * safety-net check catches up.
 */
export async function onMismatchChanges(rt: Runtime, changes: MismatchChanges): Promise<void> {
  if (!(changes.opened.length || changes.escalated.length || changes.resolved.length)) return;
  try {
    await scheduleAlertCheck(rt);
  } catch (err) {
    rt.log.warn(
      { err: (err as Error).message },
      'could not schedule an alert check; the periodic check will catch up',
    );
  }
}

/** After a sweep: one summary message for its report (only sent if anything is open). */
export async function enqueueSweepSummary(
  rt: Pick<Runtime, 'config' | 'redis'>,
  reportId: string,
): Promise<void> {
  await withTimeout(
    alertQueue(rt).add(
      'summary',
      { job: 'summary', report_id: reportId },
      { jobId: `summary-${reportId}` },
    ),
    5_000,
    'alerts summary enqueue',
  );
}

/** A sweep failed for good: one `sweep.failed` message (once per run). */
export async function enqueueSweepFailed(
  rt: Pick<Runtime, 'config' | 'redis'>,
  runId: string,
  error: string,
): Promise<void> {
  await withTimeout(
    alertQueue(rt).add(
      'sweep_failed',
      { job: 'sweep_failed', sweep_run_id: runId, error },
      { jobId: `sweep-failed-${runId}` },
    ),
    5_000,
    'alerts sweep.failed enqueue',
  );
}

export function deliverJobOptions(
  settings: AlertSettings,
  notificationId: string,
  sink: SinkName,
): JobsOptions {
  return {
    jobId: `${notificationId}-${sink}`,
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: settings.backoffMs },
    removeOnComplete: true,
    removeOnFail: false,
  };
}
