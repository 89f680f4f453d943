import { isHandledEventType } from '../domain/event-types.js';
import { ReconError } from '../errors.js';
import type { InboxEvent } from './statements.js';

/**
 * The one check of a Stripe event's envelope (`id`, `type`, `created`, `account`, `data.object`,
 * …), at two levels:
 *
 * - **admit** (`parseEventEnvelope`): what may enter the inbox now — a webhook the receiver
 *   verified, an event the sweep or `recon replay --stripe-events` fetched. Strict: Stripe never
 *   sends anything else, so a body that fails is a misconfigured sender (the receiver answers 400).
 * - **stored** (`parseEvent`): what the projection needs of a row it reads from the inbox. Only
 *   the rules the projection relies on, so a row stored under older, looser rules (or by a sweep
 *   before it was checked) does not turn into poison when it is projected or replayed.
 *
 * Admit runs every stored rule and adds its own, so every event admitted is one the projection
 * accepts.
 */
type Level = 'admit' | 'stored';

/** An event that can never be projected (malformed JSON or object): a poison job. */
export class InvalidEventError extends ReconError {
  constructor(
    message: string,
    readonly eventId: string | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The minimal event shape the projection relies on; checked by `parseEvent`. */
export interface EventLike {
  id: string;
  type: string;
  created: number;
  account?: string | null;
  data: { object: unknown };
}

// Stripe ids are `evt_` plus letters and digits. Being strict keeps every id usable as a BullMQ job
// id (no `:`, not an integer) and free of bytes Postgres TEXT refuses (NUL).
const ID = /^[A-Za-z][A-Za-z0-9_]{2,254}$/;
const TYPE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
const ACCOUNT = /^acct_[A-Za-z0-9]{1,250}$/;
const SAFE_TEXT = /^[\x20-\x7e]{1,100}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Problem {
  message: string;
  eventId: string | null;
}

/** What is wrong with the envelope of `e` at `level`, or null. */
function envelopeProblem(e: unknown, level: Level): Problem | null {
  const admit = level === 'admit';
  if (!isObject(e)) return { message: 'not a Stripe event object', eventId: null };
  if (admit && e.object !== undefined && e.object !== 'event') {
    return { message: 'not a Stripe event object (object is not "event")', eventId: null };
  }
  const { id, type, created, account, data } = e;
  if (typeof id !== 'string' || !id || (admit && !ID.test(id))) {
    return { message: 'event has no valid id', eventId: null };
  }
  const bad = (what: string): Problem => ({ message: `event ${id}: ${what}`, eventId: id });
  if (typeof type !== 'string' || (admit && (!TYPE.test(type) || type.length > 255))) {
    return bad('no valid type');
  }
  if (typeof created !== 'number' || !Number.isSafeInteger(created) || (admit && created < 0)) {
    return bad('created must be unix seconds');
  }
  // The projection reads data.object of the types it handles; the inbox admits none without it.
  if ((admit || isHandledEventType(type)) && (!isObject(data) || !isObject(data.object))) {
    return bad('no data.object');
  }
  if (account != null && (typeof account !== 'string' || (admit && !ACCOUNT.test(account)))) {
    return bad('account is not a Connect account id');
  }
  if (!admit) return null;
  if (e.livemode !== undefined && typeof e.livemode !== 'boolean') {
    return bad('livemode is not a boolean');
  }
  const apiVersion = e.api_version;
  if (apiVersion != null && (typeof apiVersion !== 'string' || !SAFE_TEXT.test(apiVersion))) {
    return bad('api_version is not a version string');
  }
  return null;
}

export type EnvelopeResult = { ok: true; event: InboxEvent } | { ok: false; message: string };

/**
 * Admits an event into the inbox: parses a body (a verified webhook, or an event the sweep or a
 * replay fetched, serialised) into the row the inbox stores, or says why it is refused. The
 * payload is kept verbatim (what the signature covered).
 */
export function parseEventEnvelope(payload: string): EnvelopeResult {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return { ok: false, message: 'payload is not valid JSON' };
  }
  const problem = envelopeProblem(v, 'admit');
  if (problem) return { ok: false, message: problem.message };
  const e = v as Record<string, unknown> & EventLike;
  return {
    ok: true,
    event: {
      id: e.id,
      type: e.type,
      account: e.account ?? null,
      livemode: e.livemode === true,
      apiVersion: (e.api_version as string | null | undefined) ?? null,
      created: e.created,
      payload,
      status: isHandledEventType(e.type) ? 'pending' : 'ignored',
    },
  };
}

/**
 * Parses one stored event (its JSON, or the object) for the projection; throws InvalidEventError
 * (with the event id when it has one) if it is not an event the projection can read.
 */
export function parseEvent(payload: string | unknown): EventLike {
  let e: unknown = payload;
  if (typeof payload === 'string') {
    try {
      e = JSON.parse(payload);
    } catch (err) {
      throw new InvalidEventError('event payload is not valid JSON', null, { cause: err });
    }
  }
  const problem = envelopeProblem(e, 'stored');
  if (problem) throw new InvalidEventError(problem.message, problem.eventId);
  // The object itself is checked when a batch maps it: applyEvents throws InvalidEventError
  // naming the event, before it writes anything, and the worker takes that event out.
  return e as EventLike;
}
