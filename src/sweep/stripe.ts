import Stripe from 'stripe';
import type { Config } from '../config/config.js';
import { STRIPE_API_VERSION, countingStripeErrors } from '../stripe-client.js';
import { TokenBucket } from './rate-limit.js';

/**
 * The sweep's own SDK client: the same settings as createStripeClient, with every HTTP request
 * (auto-pagination's follow-up pages and retries included) taking a token from a bucket of
 * RECON_SWEEP_RATE_LIMIT per second, so a sweep never eats the account's API rate limit, and every
 * failed one counted in `recon_stripe_api_errors_total` (countingStripeErrors).
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
  const base = config.STRIPE_API_BASE ? new URL(config.STRIPE_API_BASE) : undefined;
  const protocol = base?.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(config.STRIPE_API_KEY, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 2,
    timeout: 20_000,
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
