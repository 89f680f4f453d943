import type Stripe from 'stripe';

/** Options of {@link createSimulator}. Every field is optional. */
export interface SimulatorOptions {
  /** @defaultValue 0 (a random free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** The only secret key accepted in `Authorization`. @defaultValue 'sk_test_simulator' */
  apiKey?: string;
  /** Simulated clock start, epoch ms. @defaultValue Date.now() */
  startTime?: number;
  /** PRNG seed for ids and chaos; fix it for deterministic runs. @defaultValue a random seed */
  seed?: number;
  rules?: Partial<TreasuryRules>;
  webhook?: {
    /** Attempts per event and endpoint, the first included. @defaultValue 4 */
    maxAttempts?: number;
    /** Real-time delay before retry n is `retryBaseMs * 2^(n-1)`. @defaultValue 100 */
    retryBaseMs?: number;
    /** Deliveries in flight at once, over all endpoints. @defaultValue 1 (in order) */
    concurrency?: number;
    /** A delivery taking longer counts as failed. @defaultValue 5000 */
    timeoutMs?: number;
  };
  /** Where request and delivery lines go. @defaultValue false (silent) */
  logger?: SimulatorLogger | false;
}

export interface SimulatorLogger {
  info: (...a: unknown[]) => void;
  warn: (...a: unknown[]) => void;
}

export type Fate = 'stuck' | 'canceled' | 'normal';
export type DebitReversalOutcome = 'won' | 'lost';

export interface TreasuryRules {
  /** @defaultValue 1 */
  creditReversalPostAfterDays: number;
  /** @defaultValue 3 */
  debitReversalCompleteAfterDays: number;
  /** Decides each new debit reversal's resolution. Default: metadata.sim_outcome 'lost' → lost, else won. */
  debitReversalOutcome: (dr: {
    id: string;
    amount: number;
    metadata: Record<string, string>;
  }) => DebitReversalOutcome;
  /**
   * 'stuck' never moves; 'canceled' cancels it when it falls due (silently: Stripe has no
   * canceled event for either kind); 'normal' otherwise. Default: metadata.sim_outcome
   * 'stuck' | 'canceled' when present, else 'normal'.
   */
  fate: (obj: {
    kind: 'credit_reversal' | 'debit_reversal';
    id: string;
    metadata: Record<string, string>;
  }) => Fate;
}

export interface ChaosOptions {
  /** Probability that an event is never delivered (it still exists in /v1/events). */
  dropRate?: number;
  /** Probability that an event is delivered twice. */
  duplicateRate?: number;
  /** Events are buffered by N and each full buffer is delivered shuffled. 0/1 = off. */
  reorderWindow?: number;
  /** Real ms to wait before each delivery attempt. */
  delayMs?: number;
}

/**
 * What the simulator does with its (otherwise correct) API key: `active` serves it; `revoked`
 * answers 401 as Stripe does for a rolled or deleted key; `forbidden` answers 403 as for a
 * restricted key lacking a permission — on every path, or only those starting with `paths`.
 */
export type ApiKeyState =
  { state: 'active' } | { state: 'revoked' } | { state: 'forbidden'; paths?: string[] };

export interface SimulatorStats {
  eventsCreated: number;
  deliveriesAttempted: number;
  deliveriesSucceeded: number;
  dropped: number;
  duplicated: number;
  failedPermanently: number;
}

export interface Simulator {
  url: string;
  host: string;
  port: number;
  apiKey: string;
  /** Simulated clock, epoch ms. */
  now(): number;
  /** Moves the clock, applying due Treasury transitions (and emitting their events) in time order. */
  advance(ms: number): Promise<void>;
  advanceDays(days: number): Promise<void>;
  addWebhookEndpoint(e: { url: string; secret: string }): void;
  setChaos(c: ChaosOptions): void;
  /** Revoke the API key (401s) or withhold permissions (403s); `{state: 'active'}` restores it. */
  setApiKeyState(s: ApiKeyState): void;
  /** Resolves once every queued, buffered or retrying webhook delivery has settled. */
  idle(): Promise<void>;
  /** An SDK client pointed at this simulator. */
  stripe(opts?: { stripeAccount?: string }): Stripe;
  stats(): SimulatorStats;
  close(): Promise<void>;
}

/** Objects live per account; the platform (no Stripe-Account header) is `null`. */
export type AccountId = string | null;
