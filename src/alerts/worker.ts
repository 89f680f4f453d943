import { Worker, type Job } from 'bullmq';
import { Prisma, rawRows, transaction } from '../db/prisma.js';
import { alertDeliveriesTotal } from '../metrics.js';
import { QUEUE_NAMES, createRedis } from '../queue/queues.js';
import { loadReport } from '../reports/store.js';
import { reportSummary } from '../reports/summary.js';
import type { Runtime } from '../runtime.js';
import { claimOpenMismatches, claimResolvedMismatches } from '../reconciliation/persist.js';
import { mismatchJson, type MismatchJson, type MismatchRow } from './mismatch-json.js';
import { SEVERITIES } from '../domain/types.js';
import { notificationId, type Notification } from './messages.js';
import {
  CHECK_SCHEDULER_ID,
  alertQueue,
  closeAlertQueue,
  deliverJobOptions,
  scheduleAlertCheck,
  type AlertJobData,
} from './queue.js';
import { alertSettings, type AlertSettings } from './settings.js';
import { deliver } from './sinks.js';

export interface AlertWorkerOptions {
  /** Deliveries in flight at once. @defaultValue 4 */
  concurrency?: number;
  /** Mismatches per message; a larger backlog becomes several messages. @defaultValue 1000 */
  maxPerMessage?: number;
  /** Period of the safety-net check. 0 disables it. @defaultValue 60_000 */
  checkEveryMs?: number;
}

export interface AlertWorker {
  worker: Worker<AlertJobData>;
  close(): Promise<void>;
}

const nowSec = () => Math.floor(Date.now() / 1000);

/**
 * Claims what needs announcing and turns it into delivery jobs, in one transaction: the claim
 * commits only if the deliveries were enqueued. Returns the notifications built.
 */
export async function runAlertCheck(
  rt: Runtime,
  settings: AlertSettings = alertSettings(rt.config),
  maxPerMessage = 1_000,
): Promise<Notification[]> {
  const built: Notification[] = [];
  if (settings.sinks.length === 0) return built;
  for (;;) {
    const batch = await transaction(rt.prisma, async (tx) => {
      const claimed = await claimOpenMismatches(tx, {
        kinds: settings.kinds,
        minSeverity: settings.minSeverity,
        limit: maxPerMessage,
      });
      const resolved = await claimResolvedMismatches(tx, { limit: maxPerMessage });
      const opened = claimed.filter((m) => m.prev_notified === null);
      const escalated = claimed.filter((m) => m.prev_notified !== null);
      const notes: Notification[] = [];
      const created = nowSec();
      if (opened.length) {
        notes.push({
          id: notificationId(
            'mismatch.opened',
            opened.map((m) => `${m.id}:${m.severity}:${m.reopened_count}`),
          ),
          type: 'mismatch.opened',
          created,
          mismatches: opened.map(mismatchJson),
        });
      }
      if (escalated.length) {
        notes.push({
          id: notificationId(
            'mismatch.escalated',
            escalated.map((m) => `${m.id}:${m.severity}:${m.reopened_count}`),
          ),
          type: 'mismatch.escalated',
          created,
          mismatches: escalated.map(mismatchJson),
        });
      }
      if (resolved.length) {
        notes.push({
          id: notificationId(
            'mismatch.resolved',
            resolved.map(
              (m) => `${m.id}:${new Date(m.resolved_at ?? 0).getTime()}:${m.reopened_count}`,
            ),
          ),
          type: 'mismatch.resolved',
          created,
          mismatches: resolved.map(mismatchJson),
        });
      }
      await enqueueDeliveries(rt, settings, notes);
      return { notes, more: claimed.length === maxPerMessage || resolved.length === maxPerMessage };
    });
    built.push(...batch.notes);
    if (!batch.more) return built;
  }
}

async function enqueueDeliveries(
  rt: Pick<Runtime, 'config' | 'redis'>,
  settings: AlertSettings,
  notes: Notification[],
): Promise<void> {
  if (!notes.length) return;
  await alertQueue(rt).addBulk(
    notes.flatMap((n) =>
      settings.sinks.map((sink) => ({
        name: 'deliver',
        data: { job: 'deliver' as const, sink, notification: n },
        opts: deliverJobOptions(settings, n.id, sink),
      })),
    ),
  );
}

/** The most severe open mismatches (a summary lists these; its totals count them all). */
async function topOpenMismatches(
  rt: Pick<Runtime, 'prisma'>,
  limit: number,
): Promise<MismatchJson[]> {
  const rows = await rawRows<MismatchRow>(
    rt.prisma,
    Prisma.sql`SELECT * FROM mismatches WHERE status = 'open'
      ORDER BY array_position(${[...SEVERITIES]}::text[], severity) DESC, first_seen_at, id LIMIT ${limit}`,
  );
  return rows.map(mismatchJson);
}

/** Builds the `sweep.completed` notification of a report; null when nothing is open. */
export async function runSweepSummary(
  rt: Runtime,
  reportId: string,
  settings: AlertSettings = alertSettings(rt.config),
): Promise<Notification | null> {
  const report = await loadReport(rt.prisma, reportId);
  if (!report) return null;
  const summary = reportSummary(report.body);
  if (summary.open === 0 || settings.sinks.length === 0) return null;
  const n: Notification = {
    id: notificationId('sweep.completed', [reportId]),
    type: 'sweep.completed',
    created: nowSec(),
    mismatches: await topOpenMismatches(rt, 100),
    summary,
  };
  await enqueueDeliveries(rt, settings, [n]);
  return n;
}

/** Builds and queues the `sweep.failed` notification of a run; null without sinks. */
export async function runSweepFailed(
  rt: Pick<Runtime, 'config' | 'redis'>,
  runId: string,
  error: string,
  settings: AlertSettings = alertSettings(rt.config),
): Promise<Notification | null> {
  if (settings.sinks.length === 0) return null;
  const n: Notification = {
    id: notificationId('sweep.failed', [runId]),
    type: 'sweep.failed',
    created: nowSec(),
    mismatches: [],
    failure: { sweep_run_id: runId, error },
  };
  await enqueueDeliveries(rt, settings, [n]);
  return n;
}

/**
 * Starts the alerts worker (and the periodic safety-net check). Sinks come from env. With none
 * configured, checks claim nothing: mismatches stay un-announced, and a sink added later gets
 * everything still open in one grouped message.
 */
export async function startAlertWorker(
  rt: Runtime,
  opts: AlertWorkerOptions = {},
): Promise<AlertWorker> {
  const settings = alertSettings(rt.config);
  const log = rt.log.child({ component: 'alerts' });
  const checkEveryMs = opts.checkEveryMs ?? 60_000;
  const installScheduler = async () => {
    if (checkEveryMs > 0) {
      await alertQueue(rt).upsertJobScheduler(
        CHECK_SCHEDULER_ID,
        { every: checkEveryMs },
        {
          name: 'check',
          data: { job: 'check' },
          opts: { removeOnComplete: true, removeOnFail: 100 },
        },
      );
    } else {
      await alertQueue(rt)
        .removeJobScheduler(CHECK_SCHEDULER_ID)
        .catch(() => false);
    }
  };
  await installScheduler();
  // A check now: a worker killed between a reconcile's commit and its check left mismatches
  // claimed by nobody; the periodic check would find them, a minute later. And again on every
  // Redis reconnect, with the scheduler: a Redis restarted empty lost both.
  const checkNow = () =>
    scheduleAlertCheck(rt).catch((err: unknown) =>
      log.warn({ reason: (err as Error).message }, 'could not schedule an alert check'),
    );
  const onRedisReady = () => {
    installScheduler().then(checkNow, (err: unknown) =>
      log.warn({ reason: (err as Error).message }, 'could not schedule the alert check'),
    );
  };
  rt.redis.on('ready', onRedisReady);
  void checkNow();
  const connection = createRedis(rt.config.REDIS_URL);
  const worker = new Worker<AlertJobData>(
    QUEUE_NAMES.alerts,
    async (job: Job<AlertJobData>) => {
      const data = job.data;
      switch (data.job) {
        case 'check': {
          const notes = await runAlertCheck(rt, settings, opts.maxPerMessage);
          if (notes.length) {
            log.info(
              {
                jobId: job.id,
                notifications: notes.map((n) => ({
                  id: n.id,
                  type: n.type,
                  count: n.mismatches.length,
                })),
              },
              'alerts queued',
            );
          }
          return { notifications: notes.length };
        }
        case 'summary': {
          const n = await runSweepSummary(rt, data.report_id, settings);
          return { sent: n !== null };
        }
        case 'sweep_failed': {
          const n = await runSweepFailed(rt, data.sweep_run_id, data.error, settings);
          return { sent: n !== null };
        }
        case 'deliver': {
          try {
            await deliver(data.sink, data.notification, settings, log);
          } catch (err) {
            // The same rule as the 'failed' listener below: out of attempts, or not worth retrying.
            const last =
              job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ||
              (err as Error).name === 'UnrecoverableError';
            alertDeliveriesTotal.inc({ sink: data.sink, outcome: last ? 'failed' : 'retried' });
            throw err;
          }
          alertDeliveriesTotal.inc({ sink: data.sink, outcome: 'delivered' });
          log.debug(
            { jobId: job.id, sink: data.sink, notification: data.notification.id },
            'alert delivered',
          );
          return { delivered: true };
        }
      }
    },
    {
      connection,
      prefix: rt.config.QUEUE_PREFIX,
      concurrency: opts.concurrency ?? 4,
    },
  );
  worker.on('error', (err) => log.warn({ err: err.message }, 'alerts worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const exhausted =
      job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
    const fields = { jobId: job.id, name: job.name, attempts: job.attemptsMade, err: err.message };
    if (exhausted)
      log.error(fields, 'alert job failed for good; it stays in the failed set (dead letter)');
    else log.warn(fields, 'alert job failed; will retry');
  });
  return {
    worker,
    async close() {
      rt.redis.off('ready', onRedisReady);
      await worker.close();
      connection.disconnect();
      await closeAlertQueue(rt);
    },
  };
}
