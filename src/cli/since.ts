import { parseDuration } from '../domain/duration.js';
import { UsageError } from '../errors.js';

/** `--since` accepts ISO-8601, unix seconds, or a duration back from now (`24h`, `3d`). */
export function parseSince(text: string, now = Date.now()): Date {
  if (/^\d{9,11}$/.test(text)) return new Date(Number(text) * 1000);
  if (/^\d+(ms|s|m|h|d)$/.test(text)) return new Date(now - parseDuration(text));
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) {
    throw new UsageError(
      `--since "${text}": use an ISO-8601 time, unix seconds, or a duration like 24h`,
    );
  }
  return d;
}
