export const DAY_MS = 86_400_000;

/** The simulated clock. It only moves when told to, so runs are deterministic. */
export class SimClock {
  constructor(private ms: number) {}

  now(): number {
    return this.ms;
  }

  /** Unix seconds, what Stripe objects carry. */
  nowSeconds(): number {
    return Math.floor(this.ms / 1000);
  }

  /** Moves forward only: a transition must never be stamped before one already applied. */
  set(ms: number): void {
    if (ms > this.ms) this.ms = ms;
  }
}
