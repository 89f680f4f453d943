import Stripe from 'stripe';
import type { Prng } from './prng.js';
import type { StoredEvent } from './store.js';
import type { ChaosOptions, SimulatorLogger, SimulatorStats } from './types.js';

export interface WebhookEndpoint {
  url: string;
  secret: string;
}

export interface WebhookSettings {
  maxAttempts: number;
  retryBaseMs: number;
  concurrency: number;
  timeoutMs: number;
}

interface Job {
  stored: StoredEvent;
  payload: string;
  endpoint: WebhookEndpoint;
  attempt: number;
}

interface Batch {
  stored: StoredEvent;
  payload: string;
  copies: number;
  targets: WebhookEndpoint[];
}

/** Endpoints made through `/v1/webhook_endpoints` that are owed an event (Stripe's filters). */
export type EndpointRouter = (event: StoredEvent['event']) => WebhookEndpoint[];

/**
 * A partly filled reorder buffer is sent anyway once no event arrived for this long (and at once
 * by `idle()`), so a quiet simulator never sits on events. Debounced, not a fixed deadline, so a
 * burst of events is shuffled the same way whatever the machine's speed.
 */
const REORDER_QUIET_MS = 500;

/**
 * Delivers events to endpoints like Stripe does: signed POSTs, 2xx = done, anything else (or a
 * timeout) is retried with exponential backoff, compressed to milliseconds so tests stay fast.
 *
 * Every piece of outstanding work (a buffered event, a queued or running attempt, a retry timer)
 * is counted in `outstanding`, which is what makes `idle()` exact rather than a guess.
 */
export class WebhookDispatcher {
  private readonly endpoints: WebhookEndpoint[] = [];
  private chaos: Required<ChaosOptions> = {
    dropRate: 0,
    duplicateRate: 0,
    reorderWindow: 0,
    delayMs: 0,
  };
  private readonly queue: Job[] = [];
  private reorderBuffer: Batch[] = [];
  private reorderTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private readonly succeeded = new Set<string>();
  private inFlight = 0;
  private outstanding = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  private apiEndpoints: EndpointRouter = () => [];
  readonly stats: SimulatorStats = {
    eventsCreated: 0,
    deliveriesAttempted: 0,
    deliveriesSucceeded: 0,
    dropped: 0,
    duplicated: 0,
    failedPermanently: 0,
  };

  constructor(
    private readonly settings: WebhookSettings,
    private readonly chaosPrng: Prng,
    private readonly log: SimulatorLogger | null,
  ) {}

  addEndpoint(e: WebhookEndpoint): void {
    if (!/^https?:\/\//.test(e.url)) throw new Error(`webhook url must be http(s): ${e.url}`);
    if (!e.secret.startsWith('whsec_')) throw new Error('webhook secret must start with whsec_');
    this.endpoints.push({ url: e.url, secret: e.secret });
  }

  /** Also deliver to the endpoints this returns for each event (those made through the API). */
  routeApiEndpoints(router: EndpointRouter): void {
    this.apiEndpoints = router;
  }

  listEndpoints(): Array<{ url: string }> {
    return this.endpoints.map((e) => ({ url: e.url }));
  }

  setChaos(c: ChaosOptions): void {
    const rate = (x: number | undefined, name: string): number => {
      const v = x ?? 0;
      if (!(v >= 0 && v <= 1)) throw new Error(`${name} must be within 0..1`);
      return v;
    };
    this.chaos = {
      dropRate: rate(c.dropRate, 'dropRate'),
      duplicateRate: rate(c.duplicateRate, 'duplicateRate'),
      reorderWindow: Math.max(0, Math.floor(c.reorderWindow ?? 0)),
      delayMs: Math.max(0, c.delayMs ?? 0),
    };
  }

  /** Called for each new event; returns the number of endpoints it is owed to. */
  publish(stored: StoredEvent): number {
    this.stats.eventsCreated++;
    // Endpoints added with addEndpoint get every event; API-made ones what they subscribed to.
    const targets = [...this.endpoints, ...this.apiEndpoints(stored.event)];
    const endpoints = targets.length;
    if (endpoints === 0 || this.closed) return endpoints;
    // Rolls happen only when a knob is on, so turning chaos on never shifts earlier runs.
    if (this.chaos.dropRate > 0 && this.chaosPrng.next() < this.chaos.dropRate) {
      this.stats.dropped++;
      this.log?.info({ eventId: stored.event.id }, 'sim: webhook dropped (chaos)');
      return endpoints;
    }
    let copies = 1;
    if (this.chaos.duplicateRate > 0 && this.chaosPrng.next() < this.chaos.duplicateRate) {
      copies = 2;
      this.stats.duplicated++;
    }
    const payload = JSON.stringify({ ...stored.event, pending_webhooks: endpoints }, null, 2);
    const batch: Batch = { stored, payload, copies, targets };
    if (this.chaos.reorderWindow > 1) {
      this.outstanding++;
      this.reorderBuffer.push(batch);
      if (this.reorderBuffer.length >= this.chaos.reorderWindow) this.flushReorder();
      else {
        if (this.reorderTimer) clearTimeout(this.reorderTimer);
        this.reorderTimer = setTimeout(() => this.flushReorder(), REORDER_QUIET_MS);
      }
    } else {
      this.enqueueBatch(batch);
    }
    return endpoints;
  }

  private flushReorder(): void {
    if (this.reorderTimer) clearTimeout(this.reorderTimer);
    this.reorderTimer = undefined;
    const batches = this.chaosPrng.shuffle(this.reorderBuffer);
    this.reorderBuffer = [];
    for (const b of batches) {
      this.outstanding--;
      this.enqueueBatch(b);
    }
    this.maybeIdle();
  }

  private enqueueBatch(b: Batch): void {
    for (let copy = 0; copy < b.copies; copy++) {
      for (const endpoint of b.targets) {
        this.outstanding++;
        this.queue.push({ stored: b.stored, payload: b.payload, endpoint, attempt: 1 });
      }
    }
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.settings.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.inFlight++;
      void this.run(job).finally(() => {
        this.inFlight--;
        this.pump();
        this.maybeIdle();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    if (this.chaos.delayMs > 0) await this.sleep(this.chaos.delayMs);
    if (this.closed) return this.settle();
    this.stats.deliveriesAttempted++;
    const ok = await this.post(job);
    if (ok) {
      this.stats.deliveriesSucceeded++;
      const key = `${job.stored.event.id} ${job.endpoint.url}`;
      // A duplicate copy succeeding again must not count the endpoint down twice.
      if (!this.succeeded.has(key)) {
        this.succeeded.add(key);
        job.stored.pending = Math.max(0, job.stored.pending - 1);
      }
      return this.settle();
    }
    if (job.attempt >= this.settings.maxAttempts) {
      this.stats.failedPermanently++;
      this.log?.warn(
        { eventId: job.stored.event.id, url: job.endpoint.url, attempts: job.attempt },
        'sim: webhook delivery failed permanently',
      );
      return this.settle();
    }
    const backoffMs = this.settings.retryBaseMs * 2 ** (job.attempt - 1);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return this.settle();
      // The job stays outstanding across the wait; it re-enters the queue as is.
      this.queue.push({ ...job, attempt: job.attempt + 1 });
      this.pump();
    }, backoffMs);
    this.timers.add(timer);
    // Counted once more for the retry; the finished attempt settles below.
    this.outstanding++;
    this.settle();
  }

  private async post(job: Job): Promise<boolean> {
    const controller = new AbortController();
    this.controllers.add(controller);
    const timeout = setTimeout(() => controller.abort(), this.settings.timeoutMs);
    try {
      // Signed with the real wall clock so receivers' tolerance checks pass; the event's own
      // `created` is simulated time.
      const header = Stripe.webhooks.generateTestHeaderString({
        payload: job.payload,
        secret: job.endpoint.secret,
        timestamp: Math.floor(Date.now() / 1000),
      });
      const res = await fetch(job.endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': header,
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        },
        body: job.payload,
        signal: controller.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return true;
      this.log?.warn(
        { eventId: job.stored.event.id, status: res.status, attempt: job.attempt },
        'sim: webhook got non-2xx',
      );
      return false;
    } catch (err) {
      this.log?.warn(
        { eventId: job.stored.event.id, err: (err as Error).message, attempt: job.attempt },
        'sim: webhook delivery error',
      );
      return false;
    } finally {
      clearTimeout(timeout);
      this.controllers.delete(controller);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private settle(): void {
    this.outstanding--;
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.outstanding > 0 && !this.closed) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Sends what the reorder buffer holds, then waits for every delivery and retry to settle. */
  idle(): Promise<void> {
    if (this.reorderBuffer.length > 0) this.flushReorder();
    if (this.outstanding === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    if (this.reorderTimer) clearTimeout(this.reorderTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.controllers) c.abort();
    this.queue.length = 0;
    this.reorderBuffer = [];
    this.maybeIdle();
  }
}
