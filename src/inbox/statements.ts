import { Prisma, rawExecute, rawRows, type AnyDb } from '../db/prisma.js';
import { errorText } from '../errors.js';

/**
 * The inbox, `stripe_events`: every Stripe event this installation stored, keyed by event id. This
 * module is its owner: the statuses and every statement that reads or writes the table live here;
 * the receiver, the relay, the projection worker, the sweep and the replay commands call them.
 *
 *   pending    stored, not projected yet (enqueued or waiting for the relay)
 *   processed  projected (its projections committed with this status)
 *   ignored    a type no projection handles; kept for the record and for replays
 *   failed     could not be projected (poison, or retries exhausted for a reason of its own);
 *              `last_error` says why; `recon replay --dead-letter` or `--inbox` tries again
 *
 * @public The statuses' one list, for readers of the table (no code branches on the list).
 */
export const INBOX_STATUSES = ['pending', 'processed', 'ignored', 'failed'] as const;
type InboxStatus = (typeof INBOX_STATUSES)[number];

/** One verified event as the inbox stores it (the receiver builds it from the request). */
export interface InboxEvent {
  id: string;
  type: string;
  account: string | null;
  livemode: boolean;
  apiVersion: string | null;
  created: number;
  /** The body exactly as received (what the signature covered). */
  payload: string;
  /** `pending` for types the workers handle, `ignored` for the rest (stored, never enqueued). */
  status: Extract<InboxStatus, 'pending' | 'ignored'>;
}

/**
 * The receiver's flush: one statement inserts the whole batch (unnest of column arrays) and,
 * being a single statement, commits on return. ON CONFLICT DO NOTHING + RETURNING tells which ids
 * were new; the rest are duplicates. It also stamps `enqueued_at` on earlier events whose jobs were
 * added since the last flush (`marks`), so under load marking them costs no extra commit (a WAL
 * flush each). Returns the ids inserted.
 */
export async function insertBatch(
  db: AnyDb,
  items: readonly InboxEvent[],
  source: string,
  marks: readonly string[],
): Promise<Set<string>> {
  const col = <T>(f: (e: InboxEvent) => T) => items.map(f);
  const rows = await rawRows<{ id: string }>(
    db,
    Prisma.sql`
WITH marked AS (
  UPDATE stripe_events SET enqueued_at = now()
   WHERE id = ANY(${marks}::text[]) AND enqueued_at IS NULL
)
INSERT INTO stripe_events (id, type, account, livemode, api_version, created, payload, status, source)
SELECT u.id, u.type, u.account, u.livemode, u.api_version, u.created, u.payload, u.status, ${source}
  FROM unnest(${col((e) => e.id)}::text[], ${col((e) => e.type)}::text[],
              ${col((e) => e.account)}::text[], ${col((e) => e.livemode)}::bool[],
              ${col((e) => e.apiVersion)}::text[], ${col((e) => e.created)}::int8[],
              ${col((e) => e.payload)}::text[], ${col((e) => e.status)}::text[])
       AS u(id, type, account, livemode, api_version, created, payload, status)
ON CONFLICT (id) DO NOTHING
RETURNING id`,
  );
  return new Set(rows.map((r) => r.id));
}

/** When no insert is coming to carry them. Only rows still unmarked: the relay may have stamped them. */
export async function markEnqueued(db: AnyDb, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await rawExecute(
    db,
    Prisma.sql`UPDATE stripe_events SET enqueued_at = now()
                WHERE id = ANY(${ids}::text[]) AND enqueued_at IS NULL`,
  );
}

export interface RelayRow {
  id: string;
  /** Enqueued before, yet still pending: its job may have been lost. */
  stuck: boolean;
}

/**
 * The relay's page, in the caller's transaction (rows stay locked until it commits): pending rows
 * never enqueued (older than `minAgeMs`) or enqueued over `stuckAfterMs` ago.
 */
export function relayClaim(
  db: AnyDb,
  minAgeMs: number,
  stuckAfterMs: number,
  limit: number,
): Promise<RelayRow[]> {
  return rawRows<RelayRow>(
    db,
    Prisma.sql`
SELECT id, enqueued_at IS NOT NULL AS stuck
  FROM stripe_events
 WHERE status = 'pending'
   AND ((enqueued_at IS NULL AND received_at < now() - make_interval(secs => ${minAgeMs}::float8 / 1000))
        OR enqueued_at < now() - make_interval(secs => ${stuckAfterMs}::float8 / 1000))
 ORDER BY received_at
 LIMIT ${limit}
   FOR UPDATE SKIP LOCKED`,
  );
}

/** The relay enqueued these rows. */
export async function relayMark(db: AnyDb, ids: readonly string[]): Promise<void> {
  await rawExecute(
    db,
    Prisma.sql`UPDATE stripe_events SET enqueued_at = now() WHERE id = ANY(${ids}::text[])`,
  );
}

export interface ReplayRow {
  id: string;
  received_at: Date;
}

/** `recon replay --inbox`: a page of rows received since `since`, keyset-paged after `after`. */
export function replayPage(
  db: AnyDb,
  opts: {
    since: Date;
    includeIgnored: boolean;
    after: { at: Date; id: string } | null;
    limit: number;
  },
): Promise<ReplayRow[]> {
  const after = opts.after
    ? Prisma.sql`AND (received_at, id) > (${opts.after.at}::timestamptz, ${opts.after.id}::text)`
    : Prisma.empty;
  return rawRows<ReplayRow>(
    db,
    Prisma.sql`SELECT id, received_at
         FROM stripe_events
        WHERE received_at >= ${opts.since}::timestamptz
          AND (${opts.includeIgnored}::bool OR status <> 'ignored')
          ${after}
        ORDER BY received_at, id
        LIMIT ${opts.limit}`,
  );
}

/** Rows of a replay go back to pending with a fresh enqueued_at. */
export async function requeue(db: AnyDb, ids: readonly string[]): Promise<void> {
  await rawExecute(
    db,
    Prisma.sql`UPDATE stripe_events SET status = 'pending', enqueued_at = now()
                WHERE id = ANY(${ids}::text[]) AND status <> 'ignored'`,
  );
}

/** In the projection's transaction: the events are projected (or ignored), with it. */
export async function markApplied(
  db: AnyDb,
  ids: readonly string[],
  ignoredIds: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  await rawExecute(
    db,
    Prisma.sql`UPDATE "stripe_events"
                  SET "status" = CASE WHEN "id" = ANY(${ignoredIds}::text[]) THEN 'ignored' ELSE 'processed' END,
                      "processed_at" = now(), "attempts" = "attempts" + 1, "last_error" = NULL
                WHERE "id" = ANY(${ids}::text[])`,
  );
}

/** Rows that can never be projected as they are: `failed`, with the reason. */
export async function markFailed(db: AnyDb, ids: readonly string[], err: unknown): Promise<void> {
  if (ids.length === 0) return;
  await rawExecute(
    db,
    Prisma.sql`UPDATE "stripe_events" SET "status" = 'failed', "last_error" = ${errorText(err)},
                      "attempts" = "attempts" + 1
                WHERE "id" = ANY(${ids}::text[])`,
  );
}

/** A failed attempt that will be retried: counted and explained, the status left as it is. */
export async function noteAttempt(db: AnyDb, ids: readonly string[], err: unknown): Promise<void> {
  if (ids.length === 0) return;
  await rawExecute(
    db,
    Prisma.sql`UPDATE "stripe_events" SET "attempts" = "attempts" + 1, "last_error" = ${errorText(err)}
                WHERE "id" = ANY(${ids}::text[]) AND "status" <> 'processed'`,
  );
}

/** The raw JSON of the events, by id, in one query. */
export async function loadPayloads(
  db: AnyDb,
  ids: readonly string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await rawRows<{ id: string; payload: string }>(
    db,
    Prisma.sql`SELECT "id", "payload" FROM "stripe_events" WHERE "id" = ANY(${ids}::text[])`,
  );
  return new Map(rows.map((r) => [r.id, r.payload]));
}

/**
 * Events fetched from Stripe by a sweep or a replay, admitted by `parseEventEnvelope` (the
 * receiver's check), stored as pending: the caller projects them at once, which marks the types no
 * projection handles ignored. Returns the new ids.
 */
export async function insertFetched(
  db: AnyDb,
  admitted: readonly InboxEvent[],
  source: string,
): Promise<Set<string>> {
  if (admitted.length === 0) return new Set();
  const events = admitted.map((e) => ({
    id: e.id,
    type: e.type,
    account: e.account,
    livemode: e.livemode,
    api_version: e.apiVersion,
    created: e.created,
    payload: e.payload,
  }));
  const rows = await rawRows<{ id: string }>(
    db,
    Prisma.sql`INSERT INTO stripe_events (id, type, account, livemode, api_version, created, payload, source, status, enqueued_at)
     SELECT e.id, e.type, e.account, e.livemode, e.api_version, e.created, e.payload, ${source}, 'pending', now()
       FROM jsonb_to_recordset(${JSON.stringify(events)}::jsonb) AS e(id text, type text, account text, livemode boolean,
            api_version text, created bigint, payload text)
     ON CONFLICT (id) DO NOTHING
     RETURNING id`,
  );
  return new Set(rows.map((r) => r.id));
}
