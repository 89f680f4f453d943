import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Generic-webhook alerts are signed like Stripe signs its webhooks, so receivers can reuse the
 * same habit: `Recon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed
 * with ALERT_WEBHOOK_SECRET. The timestamp inside the MAC stops an old delivery being replayed.
 */

export function computeSignature(secret: string, timestampSec: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampSec}.${body}`, 'utf8').digest('hex');
}

/** The header value for `body` signed at `timestampSec`. */
export function signatureHeader(secret: string, body: string, timestampSec: number): string {
  return `t=${timestampSec},v1=${computeSignature(secret, timestampSec, body)}`;
}

export interface VerifyOptions {
  /** Seconds the timestamp may be away from `nowSec`, either way. @defaultValue 300 */
  toleranceSec?: number;
  /** @defaultValue the current time */
  nowSec?: number;
}

/**
 * What a receiver of our alerts runs: true when one `v1` of the header is the HMAC of
 * `${t}.${body}` and `t` is within the tolerance. Constant-time comparison.
 */
export function verifySignature(
  header: string | undefined,
  body: string,
  secret: string,
  opts: VerifyOptions = {},
): boolean {
  if (!header) return false;
  const parts = header.split(',').map((p) => p.trim().split('=') as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isSafeInteger(t)) return false;
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSec ?? 300)) return false;
  const want = Buffer.from(computeSignature(secret, t, body), 'hex');
  return parts
    .filter(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]+$/i.test(v))
    .some(([, v]) => {
      const got = Buffer.from(v!, 'hex');
      return got.length === want.length && timingSafeEqual(got, want);
    });
}
