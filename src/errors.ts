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
