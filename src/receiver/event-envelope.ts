import { isHandledEventType } from '../domain/event-types.js';
import type { InboxEvent } from '../inbox/statements.js';

export type { InboxEvent };

export type EnvelopeResult = { ok: true; event: InboxEvent } | { ok: false; message: string };

// Stripe ids are `evt_` plus letters and digits. Being strict keeps every id usable as a BullMQ job
// id (no `:`, not an integer) and free of bytes Postgres TEXT refuses (NUL).
const ID = /^[A-Za-z][A-Za-z0-9_]{2,254}$/;
const TYPE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
const ACCOUNT = /^acct_[A-Za-z0-9]{1,250}$/;
const SAFE_TEXT = /^[\x20-\x7e]{1,100}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses a verified body into what the inbox needs. A signed body that is not JSON, or not a
 * snapshot event (`id`, `type`, integer `created`, `data.object`), is refused: Stripe never sends
 * one, so it is a misconfigured sender and a 400 tells it so.
 */
export function parseEventEnvelope(payload: string): EnvelopeResult {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return { ok: false, message: 'body is not valid JSON' };
  }
  if (!isObject(v)) return { ok: false, message: 'body is not a Stripe event object' };
  const { id, type, created, object, account, livemode, api_version: apiVersion, data } = v;
  if (object !== undefined && object !== 'event') {
    return { ok: false, message: 'body is not a Stripe event object (object is not "event")' };
  }
  if (typeof id !== 'string' || !ID.test(id)) {
    return { ok: false, message: 'event has no valid id' };
  }
  if (typeof type !== 'string' || !TYPE.test(type) || type.length > 255) {
    return { ok: false, message: 'event has no valid type' };
  }
  if (typeof created !== 'number' || !Number.isSafeInteger(created) || created < 0) {
    return { ok: false, message: 'event has no valid created timestamp' };
  }
  if (!isObject(data) || !isObject(data.object)) {
    return { ok: false, message: 'event has no data.object' };
  }
  if (account != null && (typeof account !== 'string' || !ACCOUNT.test(account))) {
    return { ok: false, message: 'event account is not a Connect account id' };
  }
  if (livemode !== undefined && typeof livemode !== 'boolean') {
    return { ok: false, message: 'event livemode is not a boolean' };
  }
  if (apiVersion != null && (typeof apiVersion !== 'string' || !SAFE_TEXT.test(apiVersion))) {
    return { ok: false, message: 'event api_version is not a version string' };
  }
  return {
    ok: true,
    event: {
      id,
      type,
      account: (account as string | null | undefined) ?? null,
      livemode: livemode === true,
      apiVersion: (apiVersion as string | null | undefined) ?? null,
      created,
      payload,
      status: isHandledEventType(type) ? 'pending' : 'ignored',
    },
  };
}
