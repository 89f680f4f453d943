import 'dotenv/config';
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';
import { MISMATCH_KINDS, SEVERITIES, type MismatchKind, type Severity } from '../domain/types.js';
import { ConfigError } from '../errors.js';

// Parsed once into a frozen object; nothing else reads process.env. Messages name the variable
// and never echo its value (it may be a secret).

const list = z.string().transform((s) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean),
);

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s, ctx) => {
      try {
        return parseDuration(s);
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: 'must be a number and a unit, e.g. 90s, 15m, 36h, 5d',
        });
        return z.NEVER;
      }
    });

const int = (fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** An optional bearer token: blank means unset; set, it must be at least 16 characters. */
const secretToken = z
  .string()
  .optional()
  .transform((s) => (s && s.trim() ? s.trim() : undefined))
  .pipe(z.string().min(16, 'must be at least 16 characters').optional());

const postgresUrl = z
  .string()
  .url()
  .refine((u) => /^postgres(ql)?:\/\//.test(u), 'must be a postgresql:// URL');
const redisUrl = z
  .string()
  .url()
  .refine((u) => /^rediss?:\/\//.test(u), 'must be a redis:// URL');
const optionalUrl = z
  .string()
  .optional()
  .transform((s) => (s && s.trim() ? s.trim() : undefined))
  .pipe(z.string().url().optional());

const Env = z.object({
  DATABASE_URL: postgresUrl,
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  STRIPE_WEBHOOK_SECRET: list.pipe(
    z
      .array(z.string().startsWith('whsec_', 'each secret must start with whsec_'))
      .min(1, 'is required'),
  ),
  /** Signature timestamp tolerance in seconds, applied to the past and the future. */
  STRIPE_WEBHOOK_TOLERANCE: int(300, 1, 86_400),
  STRIPE_API_KEY: z
    .string({ error: 'is required' })
    .regex(/^(sk|rk)_(test|live)_/, 'must be a secret or restricted key (sk_… or rk_…)'),
  STRIPE_API_BASE: optionalUrl,
  PORT: int(3000, 0, 65_535),
  HOST: z.string().default('0.0.0.0'),
  /**
   * Port of the probe server every role runs: `/healthz`, `/readyz` and `/metrics` for
   * orchestrators and Prometheus, also for `recon worker`, which serves nothing else. 0 disables
   * it; for `serve`/`start` the same routes stay on PORT as well.
   */
  METRICS_PORT: int(9464, 0, 65_535),
  /** The operator's bearer token; named `operator`. Optional when OPERATOR_TOKENS is set. */
  OPERATOR_TOKEN: secretToken,
  /**
   * Named operator tokens, `name:token[:read]` (comma-separated): who acknowledged what is
   * recorded by name; `:read` tokens may only read.
   */
  OPERATOR_TOKENS: list.default([]).transform((items, ctx) => {
    const out: Array<{ name: string; token: string; access: 'read' | 'write' }> = [];
    for (const [i, item] of items.entries()) {
      const [name = '', token = '', access = 'write', ...rest] = item.split(':');
      if (
        !/^[A-Za-z0-9_.-]{1,64}$/.test(name) ||
        token.length < 16 ||
        (access !== 'read' && access !== 'write') ||
        rest.length > 0
      ) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${i + 1} must be name:token or name:token:read (a name of letters, digits, _.-; a token of at least 16 characters without : or ,)`,
        });
        return z.NEVER;
      }
      if (out.some((o) => o.name === name || o.token === token)) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} repeats a name or a token` });
        return z.NEVER;
      }
      out.push({ name, token, access });
    }
    return out;
  }),
  /**
   * Longest a graceful stop (SIGTERM) may take before the process exits anyway (non-zero, naming
   * what it abandoned); below Kubernetes' default 30 s grace period.
   */
  SHUTDOWN_TIMEOUT: duration('25s'),
  /**
   * How long a worker holds a job before BullMQ may hand it to another worker; also how often
   * stalled jobs are looked for. A worker killed while holding jobs delays them by about this.
   */
  JOB_LOCK_DURATION: duration('30s').refine((ms) => ms >= 1_000, 'must be at least 1s'),
  /** When set, /metrics needs this bearer token (or an operator's). */
  METRICS_TOKEN: secretToken,
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+$/, 'may hold letters, digits and _.:- only')
    .default('recon'),
  WEBHOOK_MAX_BODY_BYTES: int(1_048_576, 1_024, 64 * 1_048_576),
  PROJECTION_CONCURRENCY: int(1_000, 1, 10_000),
  RECONCILE_CONCURRENCY: int(400, 1, 10_000),
  JOB_ATTEMPTS: int(10, 1, 100),
  JOB_BACKOFF: duration('1s'),
  RELAY_INTERVAL: duration('5s'),
  RELAY_STUCK_AFTER: duration('2m'),
  PG_POOL_SIZE: int(10, 1, 200),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ALERT_WEBHOOK_URL: optionalUrl,
  ALERT_WEBHOOK_SECRET: z.string().optional(),
  SLACK_WEBHOOK_URL: optionalUrl,
  ALERT_LOG: bool(true),
  RECON_GRACE_PERIOD: duration('15m'),
  RECON_STUCK_AFTER_CREDIT_REVERSAL: duration('5d'),
  RECON_STUCK_AFTER_DEBIT_REVERSAL: duration('14d'),
  RECON_MATCH_WINDOW: duration('7d'),
  RECON_MATCH_METADATA_KEY: z.string().min(1).default('ledger_entry_id'),
  /** The nightly sweep's cron pattern (BullMQ's parser); empty: no scheduled sweep. */
  RECON_SWEEP_CRON: z
    .string()
    .default('0 3 * * *')
    .transform((s) => s.trim())
    .superRefine((s, ctx) => {
      if (s === '') return;
      try {
        CronExpressionParser.parse(s);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: `not a cron expression (${(err as Error).message}), e.g. "0 3 * * *"`,
        });
      }
    }),
  RECON_SWEEP_ACCOUNTS: list.default([]),
  RECON_SWEEP_RATE_LIMIT: int(25, 1, 10_000),
  /**
   * Confirm before raising: look a ledger entry's Stripe id (or parent) up in Stripe before
   * calling it missing_in_stripe. Off: raised once past grace without asking.
   */
  RECON_CONFIRM_MISSING: bool(true),
  /** Stripe requests per second for those lookups (the sweep's token bucket, its own budget). */
  RECON_LOOKUP_RATE_LIMIT: int(10, 1, 10_000),
  /** Units reconciled per batch at the end of a sweep. */
  RECON_SWEEP_BATCH_SIZE: int(1_000, 1, 10_000),
  /** Reports kept in the `reports` table; older ones are pruned after each sweep. */
  REPORTS_KEEP: int(400, 1, 100_000),
  /** Mismatch kinds that raise alerts (comma-separated). */
  ALERT_KINDS: list
    .pipe(
      z.array(
        z.enum(MISMATCH_KINDS, { error: `each kind must be one of ${MISMATCH_KINDS.join(', ')}` }),
      ),
    )
    .default([
      'reversal_lost',
      'reversal_canceled',
      'stuck_processing',
      'missing_in_stripe',
      'missing_in_ledger',
      'amount_mismatch',
      'over_reversed',
      'transfer_total_drift',
    ]),
  /**
   * Per-kind severity overrides, `kind:severity` pairs (comma-separated), e.g.
   * `stuck_processing:high,transfer_total_drift:low`. Unlisted kinds keep their defaults.
   */
  RECON_SEVERITY: list.default([]).transform((pairs, ctx) => {
    const out: Partial<Record<MismatchKind, Severity>> = {};
    for (const [i, pair] of pairs.entries()) {
      const [kind, severity, ...rest] = pair.split(':').map((x) => x.trim());
      const k = MISMATCH_KINDS.find((m) => m === kind);
      const sev = SEVERITIES.find((w) => w === severity);
      if (!k || !sev || rest.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${i + 1} must be kind:severity, with a kind among ${MISMATCH_KINDS.join(', ')} and a severity among ${SEVERITIES.join(', ')}`,
        });
        return z.NEVER;
      }
      out[k] = sev;
    }
    return out;
  }),
  /** Mismatches below this severity never alert. */
  ALERT_MIN_SEVERITY: z.enum(SEVERITIES).default('low'),
  /** New mismatches are collected this long and sent as one message. */
  ALERT_GROUP_WINDOW: duration('2s'),
  /** Delivery attempts per sink and message before it stays in the failed (dead-letter) set. */
  ALERT_ATTEMPTS: int(8, 1, 100),
  /** First retry delay of an alert delivery; doubles each attempt. */
  ALERT_BACKOFF: duration('5s'),
  /** A sink taking longer than this to answer counts as a failed attempt. */
  ALERT_TIMEOUT: duration('10s'),
  LEDGER_SQL_VIEW: z
    .string()
    .optional()
    .transform((s) => (s && s.trim() ? s.trim() : undefined))
    .pipe(
      z
        .string()
        .regex(
          /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/,
          'must be a [schema.]name identifier',
        )
        .optional(),
    ),
});

export type Config = Readonly<z.output<typeof Env>>;

/**
 * `.env.example`'s stand-ins (`whsec_replace_me`, `change-me-to-a-long-random-string`, …) pass
 * every format check, so a copied file would start and accept a token anyone can read in this
 * repository. Any secret still carrying a replace-me / change-me marker is refused.
 */
const PLACEHOLDER = /replace[-_]?me|change[-_]?me/i;

function secretsLeftAsPlaceholders(c: z.output<typeof Env>): string[] {
  const secrets: Array<[string, Array<string | undefined>]> = [
    ['STRIPE_WEBHOOK_SECRET', c.STRIPE_WEBHOOK_SECRET],
    ['STRIPE_API_KEY', [c.STRIPE_API_KEY]],
    ['OPERATOR_TOKEN', [c.OPERATOR_TOKEN]],
    ['OPERATOR_TOKENS', c.OPERATOR_TOKENS.map((t) => t.token)],
    ['METRICS_TOKEN', [c.METRICS_TOKEN]],
    ['ALERT_WEBHOOK_SECRET', [c.ALERT_WEBHOOK_SECRET]],
  ];
  return secrets.filter(([, vs]) => vs.some((v) => v && PLACEHOLDER.test(v))).map(([n]) => n);
}

/** Reads the environment (and .env) once. Throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const r = Env.safeParse(env);
  if (!r.success) {
    const why = r.error.issues.map((i) => {
      const name = i.path.join('.') || '(environment)';
      const msg = i.code === 'invalid_type' && env[name] === undefined ? 'is required' : i.message;
      return `${name}: ${msg}`;
    });
    throw new ConfigError(`invalid configuration: ${why.join('; ')}`);
  }
  const placeholders = secretsLeftAsPlaceholders(r.data);
  if (placeholders.length > 0) {
    throw new ConfigError(
      `invalid configuration: ${placeholders.map((n) => `${n}: is still the placeholder from .env.example; set a real value`).join('; ')}`,
    );
  }
  if (!r.data.OPERATOR_TOKEN && r.data.OPERATOR_TOKENS.length === 0) {
    throw new ConfigError(
      'invalid configuration: OPERATOR_TOKEN: is required (or name tokens in OPERATOR_TOKENS)',
    );
  }
  return Object.freeze(r.data);
}
