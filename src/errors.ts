/** Operational failures are typed so one error handler can map them to status codes. */
export class ReconError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
export class ConfigError extends ReconError {}
/** The inbox could not be written: the receiver answers 503 so Stripe retries. */
export class InboxUnavailableError extends ReconError {}
export class MigrationError extends ReconError {}
export class StartupCheckError extends ReconError {}
export class NotFoundError extends ReconError {}
/** Client input that fails validation; `details` is safe to return. */
export class ValidationError extends ReconError {
  constructor(
    message: string,
    readonly details: unknown = undefined,
  ) {
    super(message);
  }
}

// SQLSTATE classes and codes that say "the database, not this data": connection exceptions (08),
// serialization failure / deadlock (40), insufficient resources (53), lock not available (55P03),
// operator intervention such as a shutdown or a terminated backend (57), system errors (58).
const TRANSIENT_SQLSTATE = /^(08|40|53|57|58)|^55P03$/;
const TRANSIENT_NET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
// node-postgres reports a lost or refused connection with these messages and no SQLSTATE.
const TRANSIENT_MESSAGE =
  /connection terminated|connection timeout|timeout exceeded when trying to connect|client has encountered a connection error|connection ended|cannot use a pool after calling end|is not connected|timed out after/i;
const TRANSIENT_STRIPE = new Set([
  'StripeConnectionError',
  'StripeAPIError',
  'StripeRateLimitError',
]);

/**
 * Whether an error is about the infrastructure (retry the same work later) rather than about the
 * work itself (retrying it unchanged fails again). A batch that fails transiently is retried
 * whole; one that fails otherwise is split until the culprit stands alone.
 */
export function isTransientError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown; type?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && (TRANSIENT_SQLSTATE.test(e.code) || TRANSIENT_NET.has(e.code)))
    return true;
  if (typeof e.type === 'string' && TRANSIENT_STRIPE.has(e.type)) return true;
  if (TRANSIENT_MESSAGE.test(e.message)) return true;
  return e.cause instanceof Error && e.cause !== err ? isTransientError(e.cause) : false;
}
