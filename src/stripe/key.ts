import type Stripe from 'stripe';
import { ReconError } from '../errors.js';

/** Stripe refused the key itself (401) or a permission (403): retrying cannot help. */
export class StripeKeyError extends ReconError {}

/**
 * The one line to log, alert and print when Stripe refuses the key. It names the variable, not
 * Stripe's message: that one echoes part of the key.
 */
export function stripeKeyFailure(err: unknown): string {
  return classifyStripeError(err) === 'invalid'
    ? 'Stripe rejects STRIPE_API_KEY (401: wrong, rolled or revoked; not retried)'
    : `STRIPE_API_KEY lacks a permission (403; not retried)${requestOf(err)}`;
}

/** ` for GET /v1/…` when the SDK error says which request (it never holds the key). */
function requestOf(err: unknown): string {
  const e = err as { raw?: { requestId?: unknown }; requestId?: unknown } | null;
  const id = e?.requestId ?? e?.raw?.requestId;
  return typeof id === 'string' && id ? ` (request ${id})` : '';
}

/** `sk_live_…` → secret/live; `rk_test_…` → restricted/test. */
export interface StripeKeyKind {
  kind: 'secret' | 'restricted' | 'unknown';
  mode: 'live' | 'test' | 'unknown';
}

export function stripeKeyKind(key: string): StripeKeyKind {
  const m = /^(sk|rk)_(live|test)_/.exec(key);
  if (!m) return { kind: 'unknown', mode: 'unknown' };
  return { kind: m[1] === 'rk' ? 'restricted' : 'secret', mode: m[2] as 'live' | 'test' };
}

/** `rk_live_…`: which kind of key, never any of its secret part. */
export function maskStripeKey(key: string): string {
  const m = /^((?:sk|rk)_(?:live|test)_)/.exec(key);
  return `${m?.[1] ?? ''}…`;
}

/**
 * What Stripe said about the key: `ok`; `invalid` (401: wrong, rolled, revoked or expired);
 * `forbidden` (403: a restricted key without the permission asked for); `unreachable` (no
 * answer, 5xx, rate limited: says nothing about the key).
 */
export type StripeKeyStatus = 'ok' | 'invalid' | 'forbidden' | 'unreachable';

export interface StripeKeyCheck extends StripeKeyKind {
  status: StripeKeyStatus;
  /** One line for a log or an operator; no secret in it. */
  message: string;
  /** When it was checked, ISO-8601. */
  checked_at: string;
}

/** True for Stripe's answers that no retry can change: the key is bad (401) or lacks a permission (403). */
export function isStripeKeyError(err: unknown): boolean {
  const e = err as { type?: unknown; statusCode?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  return (
    e.type === 'StripeAuthenticationError' ||
    e.type === 'StripePermissionError' ||
    e.statusCode === 401 ||
    e.statusCode === 403
  );
}

export function classifyStripeError(err: unknown): Exclude<StripeKeyStatus, 'ok'> {
  const e = err as { type?: unknown; statusCode?: unknown } | null;
  if (e?.type === 'StripeAuthenticationError' || e?.statusCode === 401) return 'invalid';
  if (e?.type === 'StripePermissionError' || e?.statusCode === 403) return 'forbidden';
  return 'unreachable';
}

/**
 * One cheap authenticated read (`GET /v1/events?limit=1`, a permission the sweep needs anyway):
 * does Stripe accept the key? Never throws.
 */
export async function checkStripeKey(stripe: Stripe, key: string): Promise<StripeKeyCheck> {
  const kind = stripeKeyKind(key);
  const checked_at = new Date().toISOString();
  const label = `${kind.kind === 'restricted' ? 'restricted' : 'secret'} ${kind.mode} key ${maskStripeKey(key)}`;
  try {
    await stripe.events.list({ limit: 1 });
    return { ...kind, status: 'ok', message: `Stripe accepts the ${label}`, checked_at };
  } catch (err) {
    const status = classifyStripeError(err);
    // Stripe's own 401/403 messages echo part of the key: name it instead.
    const message =
      status === 'invalid'
        ? `Stripe rejects the ${label} (401: wrong, rolled or revoked)`
        : status === 'forbidden'
          ? `the ${label} may not read events (403)`
          : `could not check the ${label}: ${(err as Error).message.split('\n')[0]}`;
    return { ...kind, status, message, checked_at };
  }
}

/** The last key check of a process, for `/readyz` and the start-up warning. */
export interface StripeKeyMonitor {
  /** The last result, or null before the first check finished. */
  latest(): StripeKeyCheck | null;
  /** Checks now (one request); concurrent callers share it. Never throws. */
  refresh(): Promise<StripeKeyCheck>;
  /** Starts a check if the last one is older than `maxAgeMs` (or none ran); returns at once. */
  refreshIfStale(maxAgeMs: number): void;
  /** Something else learnt the key's fate (a sweep got a 401): keep it. */
  record(check: StripeKeyCheck): void;
}

const monitors = new WeakMap<object, StripeKeyMonitor>();

/**
 * One monitor per runtime (so `recon start`'s server shows what its workers found at start).
 * `client` builds the SDK client on first use (tests pass the simulator's).
 */
export function stripeKeyMonitor(
  owner: object,
  key: string,
  client: () => Stripe,
): StripeKeyMonitor {
  const existing = monitors.get(owner);
  if (existing) return existing;
  let last: StripeKeyCheck | null = null;
  let lastAt = 0;
  let running: Promise<StripeKeyCheck> | null = null;
  let stripe: Stripe | null = null;
  const m: StripeKeyMonitor = {
    latest: () => last,
    refresh() {
      running ??= checkStripeKey((stripe ??= client()), key).then((c) => {
        last = c;
        lastAt = Date.now();
        running = null;
        return c;
      });
      return running;
    },
    refreshIfStale(maxAgeMs) {
      if (!running && (!last || Date.now() - lastAt > maxAgeMs)) void m.refresh();
    },
    record(check) {
      last = check;
      lastAt = Date.now();
    },
  };
  monitors.set(owner, m);
  return m;
}
