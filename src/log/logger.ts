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
  // Pretty output only for a human at a terminal, never keyed on NODE_ENV.
  if (process.stdout.isTTY) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino(options);
}
