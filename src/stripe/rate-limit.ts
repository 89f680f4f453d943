/**
 * A small token bucket: `ratePerSec` tokens a second, at most `burst` saved up. `take()` resolves
 * when a token is available; callers are served in order.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly ratePerSec: number,
    readonly burst: number = Math.max(1, ratePerSec),
    private readonly clock: () => number = () => performance.now(),
  ) {
    if (!(ratePerSec > 0)) throw new RangeError('ratePerSec must be > 0');
    this.tokens = this.burst;
    this.last = clock();
  }

  take(): Promise<void> {
    const next = this.queue.then(() => this.wait());
    this.queue = next.catch(() => {});
    return next;
  }

  private async wait(): Promise<void> {
    for (;;) {
      const now = this.clock();
      this.tokens = Math.min(
        this.burst,
        this.tokens + ((now - this.last) / 1000) * this.ratePerSec,
      );
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const ms = ((1 - this.tokens) / this.ratePerSec) * 1000;
      await new Promise((r) => setTimeout(r, Math.ceil(ms)));
    }
  }
}
