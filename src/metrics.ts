import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus registry, served by `GET /metrics`. Every metric the product exposes is
 * defined here, once, so modules import them instead of registering their own (a second
 * registration of the same name throws).
 */
export const metrics = new Registry();
// Every name is `recon_*`, the runtime's own too (`recon_process_cpu_seconds_total`,
// `recon_nodejs_eventloop_lag_p99_seconds`, …): one prefix tells this product's series from any
// other Node.js service scraped by the same Prometheus.
collectDefaultMetrics({ register: metrics, prefix: 'recon_' });

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
  name: 'recon_webhook_requests_total',
  help: 'Stripe webhook requests by outcome',
  labelNames: ['outcome'] as const,
  registers: [metrics],
});

export const webhookAckSeconds = new Histogram({
  name: 'recon_webhook_ack_seconds',
  help: 'Time from request start to a 2xx acknowledgement (event durable in the inbox)',
  buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [metrics],
});

export const inboxBatchSize = new Histogram({
  name: 'recon_inbox_batch_size',
  help: 'Events written per inbox flush (one multi-row INSERT)',
  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
  registers: [metrics],
});

export const inboxEnqueueFailuresTotal = new Counter({
  name: 'recon_inbox_enqueue_failures_total',
  help: 'Events stored but not enqueued by the receiver (Redis unavailable); the relay enqueues them',
  registers: [metrics],
});

export const relayEnqueuedTotal = new Counter({
  name: 'recon_relay_enqueued_total',
  help: 'Inbox rows the relay (re-)enqueued, by reason',
  labelNames: ['reason'] as const,
  registers: [metrics],
});

export const eventsProjectedTotal = new Counter({
  name: 'recon_events_projected_total',
  help: 'Stripe events applied to the projections, by event type',
  labelNames: ['type'] as const,
  registers: [metrics],
});

export const projectionBatchSeconds = new Histogram({
  name: 'recon_projection_batch_seconds',
  help: 'Time to apply one batch of events to the projections',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [metrics],
});

export const reconcileRunsTotal = new Counter({
  name: 'recon_reconcile_runs_total',
  help: 'Reconciliation runs, by trigger and result',
  labelNames: ['trigger', 'result'] as const,
  registers: [metrics],
});

export const mismatchesOpen = new Gauge({
  name: 'recon_mismatches_open',
  help: 'Open mismatches, by kind and severity',
  labelNames: ['kind', 'severity'] as const,
  registers: [metrics],
});

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

// Issue #13: what a platform team asks for first. The gauges below are set at scrape time (see
// src/scrape-metrics.ts), bounded and cached, so every replica reports the same truth and a scrape
// stays cheap; the counters are counted where the thing happens.

/** The states a queue's jobs are counted in; `failed` is the dead-letter set. */
export const QUEUE_JOB_STATES = ['waiting', 'delayed', 'active', 'failed'] as const;
export type QueueJobState = (typeof QUEUE_JOB_STATES)[number];

export const queueJobs = new Gauge({
  name: 'recon_queue_jobs',
  help: 'Jobs in each BullMQ queue by state (waiting includes prioritized; failed is the dead-letter set), read at scrape time',
  labelNames: ['queue', 'state'] as const,
  registers: [metrics],
});

export const queueOldestWaitingAgeSeconds = new Gauge({
  name: 'recon_queue_oldest_waiting_job_age_seconds',
  help: 'Age of the oldest job waiting in each queue (since it was added, or became due if delayed); 0 when none waits',
  labelNames: ['queue'] as const,
  registers: [metrics],
});

export const queueDeadLetterJobs = new Gauge({
  name: 'recon_queue_dead_letter_jobs',
  help: 'Jobs that exhausted their attempts (or were poison) and sit in the queue’s failed set (the dead letters; `recon replay --dead-letter` re-runs those of stripe-events and reconcile)',
  labelNames: ['queue'] as const,
  registers: [metrics],
});

/** Which scrape-time collectors answered on the last scrape (1) or failed / timed out (0). */
export const scrapeCollectorUp = new Gauge({
  name: 'recon_scrape_collector_up',
  help: 'Whether a scrape-time collector (queues: Redis, database: Postgres) answered on the last refresh; its series are absent while 0',
  labelNames: ['collector'] as const,
  registers: [metrics],
});

export const sweepLastSuccessTimestampSeconds = new Gauge({
  name: 'recon_sweep_last_success_timestamp_seconds',
  help: 'Unix time the last full sweep (all accounts) completed, from sweep_runs',
  registers: [metrics],
});

export const sweepLastDurationSeconds = new Gauge({
  name: 'recon_sweep_last_duration_seconds',
  help: 'Duration of the last completed full sweep (started to finished), from sweep_runs',
  registers: [metrics],
});

export const sweepDurationSeconds = new Histogram({
  name: 'recon_sweep_duration_seconds',
  help: 'Duration of the sweeps this process ran, from first start to completion, by result',
  labelNames: ['result'] as const,
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1_200, 1_800, 3_600, 7_200, 14_400],
  registers: [metrics],
});

export const mismatchesOpenAmountAtRisk = new Gauge({
  name: 'recon_mismatches_open_amount_at_risk',
  help: 'Total amount at risk of open mismatches, per currency, in the currency’s minor units (cents), read at scrape time',
  labelNames: ['currency'] as const,
  registers: [metrics],
});

/** Alert deliveries: `delivered`, `retried` (will try again), `failed` (gave up: dead letter). */
export const alertDeliveriesTotal = new Counter({
  name: 'recon_alert_deliveries_total',
  help: 'Alert delivery attempts by sink and outcome (delivered, retried, failed for good)',
  labelNames: ['sink', 'outcome'] as const,
  registers: [metrics],
});

export const stripeApiErrorsTotal = new Counter({
  name: 'recon_stripe_api_errors_total',
  help: 'Stripe API requests that failed, by HTTP status (or "connection"/"timeout" when none came back); each SDK retry counts',
  labelNames: ['status'] as const,
  registers: [metrics],
});
