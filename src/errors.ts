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
/** Postgres, Redis, Stripe or a port is not there (or refuses us): nothing wrong with the input. */
export class DependencyError extends ReconError {}
/** A command line that makes no sense (a bad option value, options that exclude each other). */
export class UsageError extends ReconError {}
/** A file named on the command line cannot be read. */
export class InputFileError extends ReconError {}

/**
 * The CLI's exit codes (sysexits.h values, so scripts and supervisors can tell a typo from an
 * outage). Documented in `recon --help`.
 */
export const EXIT = {
  /** Anything else: a failed run, a failed migration, planted problems not found by the demo. */
  failure: 1,
  /** Unknown command or option, a bad argument value. */
  usage: 2,
  /** A file named on the command line does not exist or cannot be read. */
  noInput: 66,
  /** Postgres, Redis or Stripe unreachable or refusing us, or the port already in use. */
  unavailable: 69,
  /**
   * A configuration variable is missing, malformed or an example placeholder; or the setup is
   * not ready (the database schema is behind, Redis would evict jobs).
   */
  config: 78,
} as const;

/** The Stripe SDK error in `err` or its causes (by `type`, without importing the SDK). */
function stripeErrorType(err: unknown): string | undefined {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (typeof e.type === 'string' && e.type.startsWith('Stripe')) return e.type;
    e = e.cause as typeof e;
  }
  return undefined;
}

/**
 * The one line the CLI prints for a failure. Stripe's own messages for a rejected key echo part
 * of the key, so those name the variable instead.
 */
export function describeFailure(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  switch (stripeErrorType(err)) {
    case 'StripeAuthenticationError':
      return 'Stripe rejected STRIPE_API_KEY (401): check the key, and that it is a live key for live data or a test key for test data';
    case 'StripePermissionError':
      return 'STRIPE_API_KEY may not do this (403): a restricted key needs read access to transfers, Treasury, accounts and events';
  }
  // A Prisma error's first line is only "Invalid `prisma.…()` invocation:": say what Postgres said.
  return 'clientVersion' in e ? oneLineMessage(e) : e.message.split('\n')[0]!;
}

export function exitCodeFor(err: unknown): number {
  const stripe = stripeErrorType(err);
  if (stripe === 'StripeAuthenticationError' || stripe === 'StripePermissionError')
    return EXIT.config;
  if (stripe === 'StripeConnectionError') return EXIT.unavailable;
  if (err instanceof ConfigError || err instanceof StartupCheckError) return EXIT.config;
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof InputFileError) return EXIT.noInput;
  if (err instanceof DependencyError) return EXIT.unavailable;
  return EXIT.failure;
}

/** An error as stored in a `last_error` column: its class and message, bounded. */
export function errorText(err: unknown): string {
  const msg = err instanceof Error ? `${err.name}: ${oneLineMessage(err)}` : String(err);
  return msg.slice(0, 2_000);
}

/**
 * An error's message on one line. Prisma's own spans several ("Invalid `prisma.$queryRaw()`
 * invocation: … Raw query failed. Code: … Message: …"); what Postgres said is kept in the
 * driver adapter's error, and that is what an operator needs.
 */
export function oneLineMessage(err: unknown): string {
  const e = err as {
    message?: unknown;
    meta?: { driverAdapterError?: { cause?: { originalMessage?: unknown; kind?: unknown } } };
  } | null;
  const cause = e?.meta?.driverAdapterError?.cause;
  const original = typeof cause?.originalMessage === 'string' ? cause.originalMessage : undefined;
  const text = original ?? (typeof e?.message === 'string' ? e.message : String(err));
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** `host:port/database` (and the user) of a Postgres URL — never its password. */
export function describePostgres(url: string): string {
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.slice(1)) || '(default database)';
    return `${u.hostname || 'localhost'}:${u.port || '5432'}/${db}${u.username ? ` as ${decodeURIComponent(u.username)}` : ''}`;
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

/**
 * A Postgres connection failure as one line saying where, never the password. `cause` is kept
 * for RECON_DEBUG.
 */
export function postgresUnavailable(url: string, err: unknown): DependencyError {
  const e = err as { code?: string; message?: string };
  const where = describePostgres(url);
  const reason =
    e.code === '3D000'
      ? `the database does not exist (create it, or fix DATABASE_URL)`
      : e.code === '28P01' || e.code === '28000'
        ? `authentication failed (check the user and password in DATABASE_URL)`
        : (e.message ?? String(err)).split('\n')[0];
  return new DependencyError(`cannot reach Postgres at ${where}: ${reason}`, { cause: err });
}
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
 * The SQLSTATE of a database error, from pg (`code`) or from Prisma (a raw query's driver-adapter
 * error keeps Postgres's code as `originalCode`), or null.
 */
export function sqlState(err: unknown): string | null {
  const e = err as {
    code?: unknown;
    meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } };
    cause?: { originalCode?: unknown };
  } | null;
  if (!e || typeof e !== 'object') return null;
  const fromPrisma = e.meta?.driverAdapterError?.cause?.originalCode ?? e.cause?.originalCode;
  if (typeof fromPrisma === 'string' && /^[0-9A-Z]{5}$/.test(fromPrisma)) return fromPrisma;
  // A Prisma error's own `code` is Prisma's (P1001, P2010…), not Postgres's.
  if ('clientVersion' in e) return null;
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  return null;
}

// Prisma's codes for "could not reach or keep the database": can't reach (P1001), timed out
// (P1002, P1008), server closed the connection (P1017), no pool connection in time (P2024),
// transaction expired or closed under us (P2028).
const TRANSIENT_PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
// The driver adapter's own words for the same, on a raw query (P2010).
const TRANSIENT_ADAPTER_KIND = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TransactionWriteConflict',
]);

/**
 * Whether an error is about the infrastructure (retry the same work later) rather than about the
 * work itself (retrying it unchanged fails again). A batch that fails transiently is retried
 * whole; one that fails otherwise is split until the culprit stands alone.
 */
export function isTransientError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & {
    code?: unknown;
    type?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: { cause?: { kind?: unknown } } };
  };
  const state = sqlState(err);
  if (state && TRANSIENT_SQLSTATE.test(state)) return true;
  if (typeof e.code === 'string' && (TRANSIENT_NET.has(e.code) || TRANSIENT_PRISMA.has(e.code)))
    return true;
  const kind = e.meta?.driverAdapterError?.cause?.kind;
  if (typeof kind === 'string' && TRANSIENT_ADAPTER_KIND.has(kind)) return true;
  if (typeof e.type === 'string' && TRANSIENT_STRIPE.has(e.type)) return true;
  if (TRANSIENT_MESSAGE.test(e.message)) return true;
  return e.cause instanceof Error && e.cause !== err ? isTransientError(e.cause) : false;
}
