/**
 * Stripe error bodies: `{"error":{"type","code","message","param"}}`. The SDK picks its error class
 * from the HTTP status (400/404 → StripeInvalidRequestError, or StripeIdempotencyError when
 * `type` is `idempotency_error`; 401 → StripeAuthenticationError; 403 → StripePermissionError).
 */
export type StripeErrorType = 'invalid_request_error' | 'idempotency_error' | 'api_error';

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly code?: string,
    readonly param?: string,
    /** Validation failures are not saved under an idempotency key, as in Stripe. */
    readonly beforeExecution = false,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toJSON(): { error: Record<string, string> } {
    const error: Record<string, string> = { type: this.type, message: this.message };
    if (this.code) error.code = this.code;
    if (this.param) error.param = this.param;
    return { error };
  }
}

export function invalidRequest(message: string, opts: { code?: string; param?: string } = {}) {
  return new StripeApiError(400, 'invalid_request_error', message, opts.code, opts.param);
}

/** A malformed or unknown parameter: rejected before execution, never saved for idempotency. */
export function invalidParam(message: string, param: string, code = 'parameter_invalid') {
  return new StripeApiError(400, 'invalid_request_error', message, code, param, true);
}

/** `No such transfer: 'tr_123'`, 404 with `resource_missing`, like Stripe. */
export function noSuch(resource: string, id: string, param = 'id') {
  return new StripeApiError(
    404,
    'invalid_request_error',
    `No such ${resource}: '${id}'`,
    'resource_missing',
    param,
    true,
  );
}

export function unauthorized(message: string) {
  return new StripeApiError(401, 'invalid_request_error', message, undefined, undefined, true);
}
