import { StripeApiError } from './errors.js';
import type { AccountId } from './types.js';

export interface SavedResponse {
  fingerprint: string;
  status: number;
  body: string;
  requestId: string;
}

/**
 * Stripe's idempotency: the same key with the same request replays the saved response
 * (`Idempotent-Replayed: true`); the same key with different parameters is an
 * `idempotency_error` (400), which the SDK raises as StripeIdempotencyError. Keys are scoped
 * per account, like everything else.
 */
export class IdempotencyStore {
  private readonly saved = new Map<string, SavedResponse>();

  private scope(account: AccountId, key: string): string {
    return `${account ?? ''}\u0000${key}`;
  }

  lookup(account: AccountId, key: string, fingerprint: string): SavedResponse | undefined {
    const hit = this.saved.get(this.scope(account, key));
    if (!hit) return undefined;
    if (hit.fingerprint !== fingerprint) {
      throw new StripeApiError(
        400,
        'idempotency_error',
        `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        undefined,
        undefined,
        true,
      );
    }
    return hit;
  }

  save(account: AccountId, key: string, response: SavedResponse): void {
    this.saved.set(this.scope(account, key), response);
  }
}
