import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Pool } from './db/pool.js';

/**
 * The process's Prometheus registry, served by `GET /metrics`. Every metric the product exposes is
 * defined here, once, so modules import them instead of registering their own (a second
 * registration of the same name throws).
 */
export const metrics = new Registry();
collectDefaultMetrics({ register: metrics });

/** Outcomes of `POST /webhooks/stripe`, one label value per way a request can end. */
export const WEBHOOK_OUTCOMES = [
  'accepted',
  'duplicate',
  'ignored',
  'bad_signature',
  'bad_timestamp',
  'bad_payload',
  'too_large',
  'unavailable',
  'error',
] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

export const webhookRequestsTotal = new Counter({
  name: 'webhook_requests_total',
  help: 'Stripe webhook requests by outcome',
  labelNames: ['outcome'] as const,
  registers: [metrics],
});

export const webhookAckSeconds = new Histogram({
  name: 'webhook_ack_seconds',
  help: 'Time from request start to a 2xx acknowledgement (event durable in the inbox)',
  buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [metrics],
});

export const inboxBatchSize = new Histogram({
  name: 'inbox_batch_size',
  help: 'Events written per inbox flush (one multi-row INSERT)',
  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
  registers: [metrics],
});

export const inboxEnqueueFailuresTotal = new Counter({
  name: 'inbox_enqueue_failures_total',
  help: 'Events stored but not enqueued by the receiver (Redis unavailable); the relay enqueues them',
  registers: [metrics],
});

export const relayEnqueuedTotal = new Counter({
  name: 'relay_enqueued_total',
  help: 'Inbox rows the relay (re-)enqueued, by reason',
  labelNames: ['reason'] as const,
  registers: [metrics],
});

export const eventsProjectedTotal = new Counter({
  name: 'events_projected_total',
  help: 'Stripe events applied to the projections, by event type',
  labelNames: ['type'] as const,
  registers: [metrics],
});

export const projectionBatchSeconds = new Histogram({
  name: 'projection_batch_seconds',
  help: 'Time to apply one batch of events to the projections',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [metrics],
});

export const reconcileRunsTotal = new Counter({
  name: 'reconcile_runs_total',
  help: 'Reconciliation runs, by trigger and result',
  labelNames: ['trigger', 'result'] as const,
  registers: [metrics],
});

export const mismatchesOpen = new Gauge({
  name: 'mismatches_open',
  help: 'Open mismatches, by kind and severity',
  labelNames: ['kind', 'severity'] as const,
  registers: [metrics],
});

/** Sets `mismatches_open` from the mismatches table (one grouped query). */
export async function refreshOpenMismatchGauge(pool: Pool): Promise<void> {
  const { rows } = await pool.query<{ kind: string; severity: string; n: number }>(
    `SELECT kind, severity, count(*)::int AS n FROM mismatches WHERE status = 'open' GROUP BY 1, 2`,
  );
  mismatchesOpen.reset();
  for (const r of rows) mismatchesOpen.set({ kind: r.kind, severity: r.severity }, r.n);
}

/** Confirm before raising (issue #12): Stripe lookups answered, by outcome. */
export const stripeLookupsTotal = new Counter({
  name: 'recon_stripe_lookups_total',
  help: 'Stripe lookups before raising missing_in_stripe: absent (404), found (projected), retried (Stripe unreachable), settled (no longer needed)',
  labelNames: ['outcome'] as const,
  registers: [metrics],
});

/** 1 while this process reaches the dependency, 0 during an outage it noticed (see OutageLog). */
export const dependencyUp = new Gauge({
  name: 'recon_dependency_up',
  help: 'Whether this process currently reaches the dependency (1) or is in an outage (0)',
  labelNames: ['dependency'] as const,
  registers: [metrics],
});
