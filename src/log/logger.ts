import { createRequire } from 'node:module';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths that may carry secrets; redacted at the root so no child logger can leak them. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["stripe-signature"]',
  'headers.authorization',
  'headers["stripe-signature"]',
  '*.STRIPE_API_KEY',
  '*.STRIPE_WEBHOOK_SECRET',
  '*.OPERATOR_TOKEN',
  '*.OPERATOR_TOKENS',
  '*.METRICS_TOKEN',
  '*.DATABASE_URL',
  '*.REDIS_URL',
  '*.ALERT_WEBHOOK_SECRET',
  '*.SLACK_WEBHOOK_URL',
  'config',
  'secret',
  'secrets',
  'apiKey',
];

export function createLogger(
  opts: { level?: string; name?: string } = {},
  destination?: DestinationStream,
): Logger {
  const options = {
    name: opts.name ?? 'recon',
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  // Pretty output only when a human asks for it (LOG_PRETTY=1), never keyed on NODE_ENV or a TTY
  // (a container run with `-t` is still read by a log shipper). pino-pretty is a devDependency:
  // in a production install it is absent, and asking for it then gives JSON, not a crash.
  const pretty = process.env.LOG_PRETTY === '1' ? prettyTarget() : null;
  if (pretty) {
    return pino({
      ...options,
      transport: { target: pretty, options: { colorize: Boolean(process.stdout.isTTY) } },
    });
  }
  return pino(options);
}

/** The resolved path of pino-pretty, or null when it is not installed. */
function prettyTarget(): string | null {
  try {
    return createRequire(import.meta.url).resolve('pino-pretty');
  } catch {
    return null;
  }
}
