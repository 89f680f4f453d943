import Stripe from 'stripe';
import type { Config } from '../config/config.js';
import { stripeApiErrorsTotal } from '../metrics.js';
import { TokenBucket } from './rate-limit.js';

/**
 * The API version stripe-node 23.1.0 pins (its types describe exactly this version). Pinned
 * explicitly so an SDK upgrade cannot silently change the shapes we project.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive' as const;

export interface StripeClientOptions {
  /** @defaultValue 2 (stripe-node's own default in 23.1.0; retries 409, 5xx and connection errors) */
  maxNetworkRetries?: number;
  /** @defaultValue 20_000 */
  timeoutMs?: number;
}

/**
 * The real `stripe` SDK, pointed at api.stripe.com or — through STRIPE_API_BASE — at the local
 * simulator (`http://127.0.0.1:12111`). Telemetry is off: no latency headers leave the process.
 */
export function createStripeClient(
  config: Pick<Config, 'STRIPE_API_KEY' | 'STRIPE_API_BASE'>,
  opts: StripeClientOptions = {},
): Stripe {
  return newStripe(config, countingStripeErrors(Stripe.createNodeHttpClient()), opts);
}

/**
 * The sweep's (and the lookups') SDK client: the same settings as createStripeClient, with every
 * HTTP request (auto-pagination's follow-up pages and retries included) taking a token from a
 * bucket of RECON_SWEEP_RATE_LIMIT per second, so a sweep never eats the account's API rate
 * limit, and every failed one counted in `recon_stripe_api_errors_total` (countingStripeErrors).
 * `onRequest` counts requests (progress, tests).
 */
export function createSweepStripeClient(
  config: Pick<Config, 'STRIPE_API_KEY' | 'STRIPE_API_BASE' | 'RECON_SWEEP_RATE_LIMIT'>,
  opts: { bucket?: TokenBucket; onRequest?: (method: string, path: string) => void } = {},
): Stripe {
  const bucket = opts.bucket ?? new TokenBucket(config.RECON_SWEEP_RATE_LIMIT);
  const inner = countingStripeErrors(Stripe.createNodeHttpClient());
  const httpClient: typeof inner = Object.assign(Object.create(inner) as typeof inner, {
    getClientName: () => inner.getClientName(),
    makeRequest: async (...args: Parameters<typeof inner.makeRequest>) => {
      await bucket.take();
      opts.onRequest?.(args[3], args[2]);
      return inner.makeRequest(...args);
    },
  });
  return newStripe(config, httpClient);
}

/** The one place the SDK is constructed: version, retries, timeout, telemetry, host. */
function newStripe(
  config: Pick<Config, 'STRIPE_API_KEY' | 'STRIPE_API_BASE'>,
  httpClient: StripeHttpClient,
  opts: StripeClientOptions = {},
): Stripe {
  const base = config.STRIPE_API_BASE ? new URL(config.STRIPE_API_BASE) : undefined;
  const protocol = base?.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(config.STRIPE_API_KEY, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: opts.maxNetworkRetries ?? 2,
    timeout: opts.timeoutMs ?? 20_000,
    telemetry: false,
    httpClient,
    ...(base
      ? {
          host: base.hostname,
          port: base.port ? Number(base.port) : protocol === 'http' ? 80 : 443,
          protocol,
        }
      : {}),
  });
}

type StripeHttpClient = ReturnType<typeof Stripe.createNodeHttpClient>;

/** What `recon_stripe_api_errors_total` calls a failed request: its HTTP status, or why none came. */
export function stripeErrorStatus(outcome: { status: number } | { error: unknown }): string | null {
  if ('status' in outcome) return outcome.status >= 400 ? String(outcome.status) : null;
  const code = (outcome.error as { code?: unknown } | null)?.code;
  return code === 'ETIMEDOUT' ? 'timeout' : 'connection';
}

/**
 * The SDK's HTTP client, counting every failed request in `recon_stripe_api_errors_total` by HTTP
 * status. Counted at this layer, not around SDK calls, so every caller (projection, lookups, the
 * sweep, replays) and each of the SDK's own retries is seen once per request actually made.
 */
export function countingStripeErrors(inner: StripeHttpClient): StripeHttpClient {
  return Object.assign(Object.create(inner) as StripeHttpClient, {
    getClientName: () => inner.getClientName(),
    makeRequest: async (...args: Parameters<StripeHttpClient['makeRequest']>) => {
      let res: Awaited<ReturnType<StripeHttpClient['makeRequest']>>;
      try {
        res = await inner.makeRequest(...args);
      } catch (error) {
        stripeApiErrorsTotal.inc({ status: stripeErrorStatus({ error })! });
        throw error;
      }
      const status = stripeErrorStatus({ status: res.getStatusCode() });
      if (status) stripeApiErrorsTotal.inc({ status });
      return res;
    },
  });
}
