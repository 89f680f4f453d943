import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { TokenBucket } from '../../src/stripe/rate-limit.js';
import { createSweepStripeClient } from '../../src/stripe/client.js';

/** The sweep's client-side rate limit: a token bucket every SDK request goes through. */

describe('TokenBucket', () => {
  afterEach(() => void vi.useRealTimers());

  it('lets a burst through, then spaces takes at the rate, in order', async () => {
    vi.useFakeTimers();
    const bucket = new TokenBucket(10, 2, () => Date.now());
    const t0 = Date.now();
    const at: number[] = [];
    const all = Array.from({ length: 5 }, () => bucket.take().then(() => at.push(Date.now() - t0)));
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(all);
    expect(at).toEqual([0, 0, 100, 200, 300]);
  });

  it('refills while idle, up to the burst only', async () => {
    vi.useFakeTimers();
    const bucket = new TokenBucket(10, 3, () => Date.now());
    for (let i = 0; i < 3; i++) await bucket.take();
    await vi.advanceTimersByTimeAsync(10_000); // long idle: still only 3 saved up
    const t0 = Date.now();
    const at: number[] = [];
    const all = Array.from({ length: 4 }, () => bucket.take().then(() => at.push(Date.now() - t0)));
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(all);
    expect(at).toEqual([0, 0, 0, 100]);
  });
});

describe('the sweep SDK client', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await createSimulator({ seed: 3 });
    const s = sim.stripe();
    for (let i = 0; i < 7; i++)
      await s.transfers.create({
        amount: 100 + i,
        currency: 'usd',
        destination: 'acct_1RateLimit',
      });
  });
  afterAll(() => sim?.close());

  it('takes a token for every request, auto-pagination pages included', async () => {
    let taken = 0;
    const bucket = new TokenBucket(1_000);
    const take = bucket.take.bind(bucket);
    bucket.take = () => {
      taken++;
      return take();
    };
    const requests: string[] = [];
    const stripe = createSweepStripeClient(
      { STRIPE_API_KEY: sim.apiKey, STRIPE_API_BASE: sim.url, RECON_SWEEP_RATE_LIMIT: 1_000 },
      { bucket, onRequest: (method, path) => requests.push(`${method} ${path.split('?')[0]}`) },
    );
    const ids: string[] = [];
    for await (const t of stripe.transfers.list({ limit: 3 })) ids.push(t.id);
    expect(ids).toHaveLength(7);
    expect(requests).toEqual(['GET /v1/transfers', 'GET /v1/transfers', 'GET /v1/transfers']);
    expect(taken).toBe(3);
  });
});
