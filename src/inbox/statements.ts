import type { PoolClient } from '../db/pool.js';
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

type Db = Pick<PoolClient, 'query'>;

export const INBOX = {
  /**
   * The receiver's flush: one statement inserts the whole batch (unnest of column arrays, so the
   * text is constant and prepared once per connection) and, being a single statement, commits on
   * return. ON CONFLICT DO NOTHING + RETURNING tells which ids were new; the rest are duplicates.
   * It also stamps `enqueued_at` on earlier events whose jobs were added since the last flush
   * ($10), so under load marking them costs no extra commit (a WAL flush each).
   */
  insertBatch: `
WITH marked AS (
  UPDATE stripe_events SET enqueued_at = now()
   WHERE id = ANY($10::text[]) AND enqueued_at IS NULL
)
INSERT INTO stripe_events (id, type, account, livemode, api_version, created, payload, status, source)
SELECT u.id, u.type, u.account, u.livemode, u.api_version, u.created, u.payload, u.status, $9
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::int8[], $7::text[], $8::text[])
       AS u(id, type, account, livemode, api_version, created, payload, status)
ON CONFLICT (id) DO NOTHING
RETURNING id`,
  /** When no insert is coming to carry them. Only rows still unmarked: the relay may have stamped them. */
  markEnqueued: `UPDATE stripe_events SET enqueued_at = now() WHERE id = ANY($1::text[]) AND enqueued_at IS NULL`,
  /** The relay's page: pending rows never enqueued (older than $1 ms) or enqueued over $2 ms ago. */
  relayClaim: `
SELECT id, enqueued_at IS NOT NULL AS stuck
  FROM stripe_events
 WHERE status = 'pending'
   AND ((enqueued_at IS NULL AND received_at < now() - make_interval(secs => $1::float8 / 1000))
        OR enqueued_at < now() - make_interval(secs => $2::float8 / 1000))
 ORDER BY received_at
 LIMIT $3
   FOR UPDATE SKIP LOCKED`,
  relayMark: `UPDATE stripe_events SET enqueued_at = now() WHERE id = ANY($1::text[])`,
  /** `recon replay --inbox`: a page of rows received since $1, keyset-paged. */
  replayPage: `SELECT id, received_at
         FROM stripe_events
        WHERE received_at >= $1
          AND ($2::bool OR status <> 'ignored')
          AND ($3::timestamptz IS NULL OR (received_at, id) > ($3::timestamptz, $4::text))
        ORDER BY received_at, id
        LIMIT $5`,
  /** Rows of a replay go back to pending with a fresh enqueued_at. */
  requeue: `UPDATE stripe_events SET status = 'pending', enqueued_at = now()
             WHERE id = ANY($1::text[]) AND status <> 'ignored'`,
  /** In the projection's transaction: the events are projected (or ignored), with it. */
  markApplied: `UPDATE "stripe_events"
                   SET "status" = CASE WHEN "id" = ANY($2::text[]) THEN 'ignored' ELSE 'processed' END,
                       "processed_at" = now(), "attempts" = "attempts" + 1, "last_error" = NULL
                 WHERE "id" = ANY($1::text[])`,
  payloads: `SELECT "id", "payload" FROM "stripe_events" WHERE "id" = ANY($1::text[])`,
} as const;

/** Rows that can never be projected as they are: `failed`, with the reason. */
export async function markFailed(db: Db, ids: readonly string[], err: unknown): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE "stripe_events" SET "status" = 'failed', "last_error" = $2, "attempts" = "attempts" + 1
      WHERE "id" = ANY($1::text[])`,
    [ids, errorText(err)],
  );
}

/** A failed attempt that will be retried: counted and explained, the status left as it is. */
export async function noteAttempt(db: Db, ids: readonly string[], err: unknown): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE "stripe_events" SET "attempts" = "attempts" + 1, "last_error" = $2
      WHERE "id" = ANY($1::text[]) AND "status" <> 'processed'`,
    [ids, errorText(err)],
  );
}

/** The raw JSON of the events, by id, in one query. */
export async function loadPayloads(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; payload: string }>({
    name: 'inbox_payloads_v1',
    text: INBOX.payloads,
    values: [ids],
  });
  return new Map(rows.map((r) => [r.id, r.payload]));
}

/** Events fetched from Stripe by a sweep or a replay, stored as pending; returns the new ids. */
export async function insertFetched(
  db: Db,
  events: ReadonlyArray<{
    id: string;
    type: string;
    account: string | null;
    livemode: boolean;
    api_version: string | null;
    created: number;
    payload: string;
  }>,
  source: string,
): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO stripe_events (id, type, account, livemode, api_version, created, payload, source, status, enqueued_at)
     SELECT e.id, e.type, e.account, e.livemode, e.api_version, e.created, e.payload, $2, 'pending', now()
       FROM jsonb_to_recordset($1::jsonb) AS e(id text, type text, account text, livemode boolean,
            api_version text, created bigint, payload text)
     ON CONFLICT (id) DO NOTHING
     RETURNING id`,
    [JSON.stringify(events), source],
  );
  return new Set(rows.map((r) => r.id));
}
