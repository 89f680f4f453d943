import Stripe from 'stripe';

export type SignatureFailure =
  'missing_header' | 'bad_header' | 'bad_signature' | 'stale' | 'future';

export type SignatureCheck =
  { ok: true } | { ok: false; reason: SignatureFailure; message: string };

const SIGNATURE = Stripe.webhooks.signature;

/**
 * The `t=` of a `Stripe-Signature` header, or null when there is not exactly one well-formed one.
 * (stripe-node takes the last `t=` and `parseInt`s it, so `t=12abc` would pass as 12 there.)
 */
export function signatureTimestamp(header: string): number | null {
  let t: number | null = null;
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== 't') continue;
    const value = part.slice(eq + 1).trim();
    if (t !== null || !/^\d{1,12}$/.test(value)) return null;
    t = Number(value);
  }
  return t;
}

/**
 * Verifies a `Stripe-Signature` header on the raw body with the stripe SDK, against every secret
 * (during a rotation Stripe signs with each active secret; any match is enough). The SDK only
 * rejects timestamps older than the tolerance; one further than the tolerance in the future is
 * rejected here too, so a captured request cannot be pre-dated for later replay.
 *
 * Failure messages are fixed strings: they never echo the header, the body or a secret.
 */
export function verifyStripeSignature(
  payload: string,
  header: string | string[] | undefined,
  secrets: readonly string[],
  toleranceSec: number,
  nowMs: number = Date.now(),
): SignatureCheck {
  if (header === undefined || header === '') {
    return { ok: false, reason: 'missing_header', message: 'missing Stripe-Signature header' };
  }
  if (typeof header !== 'string') {
    return { ok: false, reason: 'bad_header', message: 'more than one Stripe-Signature header' };
  }
  const t = signatureTimestamp(header);
  if (t === null) {
    return {
      ok: false,
      reason: 'bad_header',
      message: 'Stripe-Signature header has no valid timestamp',
    };
  }
  if (!SIGNATURE) throw new Error('stripe SDK has no webhooks.signature helper');
  let matched = false;
  for (const secret of secrets) {
    try {
      SIGNATURE.verifyHeader(payload, header, secret, toleranceSec, undefined, nowMs);
      matched = true;
      break;
    } catch (err) {
      // The SDK checks the signature before the timestamp, so this message means "signed with this
      // secret, but too old": no point trying the remaining secrets.
      if (err instanceof Error && err.message === 'Timestamp outside the tolerance zone') {
        return {
          ok: false,
          reason: 'stale',
          message: 'signature timestamp outside the tolerance zone',
        };
      }
    }
  }
  if (!matched) {
    return {
      ok: false,
      reason: 'bad_signature',
      message: 'no signature matches the payload for any configured secret',
    };
  }
  if (t - Math.floor(nowMs / 1000) > toleranceSec) {
    return {
      ok: false,
      reason: 'future',
      message: 'signature timestamp outside the tolerance zone',
    };
  }
  return { ok: true };
}
