import { dependencyUp } from '../metrics.js';
import type { Logger } from './logger.js';

/** How often an outage that goes on is logged again. */
const REPEAT_MS = 60_000;

/**
 * One log line when an outage of a dependency starts, one a minute while it lasts, one when it
 * ends — instead of a line (or a stack trace) per failed attempt, which during an outage is
 * hundreds a second and buries everything else. Also drives `recon_dependency_up`.
 * One instance per dependency and component; cheap to call on every attempt.
 */
export class OutageLog {
  #since: number | null = null;
  #lastLogged = 0;
  #failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly dependency: 'postgres' | 'redis' | 'stripe',
    private readonly what: string,
  ) {}

  get ongoing(): boolean {
    return this.#since !== null;
  }

  /** An attempt failed for an infrastructure reason. */
  failure(err: unknown): void {
    const now = Date.now();
    const reason = err instanceof Error ? err.message : String(err);
    this.#failures++;
    dependencyUp.set({ dependency: this.dependency }, 0);
    if (this.#since === null) {
      this.#since = now;
      this.#lastLogged = now;
      this.#failures = 1;
      this.log.warn(
        { dependency: this.dependency, reason },
        `${this.dependency} unavailable: ${this.what}; retrying (logged again each minute while it lasts)`,
      );
    } else if (now - this.#lastLogged >= REPEAT_MS) {
      this.#lastLogged = now;
      this.log.warn(
        {
          dependency: this.dependency,
          reason,
          seconds: Math.round((now - this.#since) / 1_000),
          failures: this.#failures,
        },
        `${this.dependency} still unavailable: ${this.what}`,
      );
    }
  }

  /** An attempt succeeded: ends the outage, if there was one. */
  success(): void {
    if (this.#since === null) return;
    const seconds = Math.round((Date.now() - this.#since) / 1_000);
    this.log.info(
      { dependency: this.dependency, seconds, failures: this.#failures },
      `${this.dependency} is back after ${seconds} s: ${this.what}`,
    );
    this.#since = null;
    dependencyUp.set({ dependency: this.dependency }, 1);
  }
}
