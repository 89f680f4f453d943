import { Prisma, rawRows, type Db } from '../db/prisma.js';
import { SEVERITIES, type MismatchKind, type Severity } from '../domain/types.js';
import type { MismatchRow } from './mismatch-record.js';

/**
 * Every statement that writes `mismatches`, but the reconciler's own verdicts (`persist.ts`): the
 * operator's acknowledgements (called by the API) and the alert claims on `notified_severity`
 * (called by the alert check). The reconciliation feature is the one owner of the table.
 */

/**
 * Acknowledging silences alerts for this occurrence; a reopened mismatch is a new one and loses
 * its acknowledgement (see persistMismatches). A second acknowledge keeps the first (the alert was
 * silenced then, by that person) and is only recorded in the trail (`mismatch_acknowledgements`).
 * One statement, so the state and its trail cannot disagree. The caller checks that `id` exists.
 */
export async function acknowledgeMismatch(
  db: Db,
  id: string,
  ack: { note: string; actor: string },
): Promise<void> {
  await db.$executeRaw`
      WITH upd AS (
        UPDATE mismatches SET acknowledged_at = now(), acknowledged_note = ${ack.note}, updated_at = now()
         WHERE id = ${id} AND acknowledged_at IS NULL RETURNING id)
      INSERT INTO mismatch_acknowledgements (mismatch_id, action, note, actor)
      VALUES (${id}, 'acknowledge', ${ack.note}, ${ack.actor})`;
}

/**
 * Clears the acknowledgement and records it in the trail, in one statement. The caller checks
 * that `id` exists and is acknowledged. An empty note is stored as null.
 */
export async function unacknowledgeMismatch(
  db: Db,
  id: string,
  ack: { note?: string | undefined; actor: string },
): Promise<void> {
  await db.$executeRaw`
      WITH upd AS (
        UPDATE mismatches SET acknowledged_at = NULL, acknowledged_note = NULL, updated_at = now()
         WHERE id = ${id} RETURNING id)
      INSERT INTO mismatch_acknowledgements (mismatch_id, action, note, actor)
      VALUES (${id}, 'unacknowledge', ${ack.note || null}, ${ack.actor})`;
}

/*
 * The atomic half of "one alert per mismatch": each claim is one UPDATE … RETURNING over rows
 * locked with SKIP LOCKED, so two workers checking at once split the rows between them and no
 * mismatch is announced twice. `notified_severity` records the severity last announced; a claim
 * takes rows never announced (opened) or announced at a lower severity (escalated).
 *
 * Run inside the transaction that also enqueues the deliveries: if enqueueing fails, the claim
 * rolls back and the next check tries again.
 */

export interface ClaimedMismatch extends MismatchRow {
  /** What had been announced before this claim (null: never). */
  prev_notified: Severity | null;
}

export async function claimOpenMismatches(
  tx: Db,
  opts: { kinds: readonly MismatchKind[]; minSeverity: Severity; limit: number },
): Promise<ClaimedMismatch[]> {
  const kinds = [...opts.kinds];
  const severities = [...SEVERITIES];
  const rows = await rawRows<ClaimedMismatch>(
    tx,
    Prisma.sql`WITH c AS (
       SELECT id, notified_severity AS prev
         FROM mismatches
        WHERE status = 'open'
          AND acknowledged_at IS NULL
          AND kind = ANY(${kinds}::text[])
          AND array_position(${severities}::text[], severity)
              >= array_position(${severities}::text[], ${opts.minSeverity}::text)
          AND (notified_severity IS NULL
               OR array_position(${severities}::text[], severity)
                  > array_position(${severities}::text[], notified_severity))
        ORDER BY first_seen_at, id
        LIMIT ${opts.limit}
        FOR UPDATE SKIP LOCKED)
     UPDATE mismatches m SET notified_severity = m.severity
       FROM c
      WHERE m.id = c.id
     RETURNING m.*, c.prev AS prev_notified`,
  );
  return rows.sort(byFirstSeen);
}

/**
 * Resolved mismatches that had been announced. Clearing `notified_severity` records that the
 * resolution notice went out, and lets a later reopening be announced afresh.
 */
export async function claimResolvedMismatches(
  tx: Db,
  opts: { limit: number },
): Promise<MismatchRow[]> {
  const rows = await rawRows<MismatchRow>(
    tx,
    Prisma.sql`WITH c AS (
       SELECT id FROM mismatches
        WHERE status = 'resolved' AND notified_severity IS NOT NULL
        ORDER BY resolved_at, id
        LIMIT ${opts.limit}
        FOR UPDATE SKIP LOCKED)
     UPDATE mismatches m SET notified_severity = NULL
       FROM c
      WHERE m.id = c.id
     RETURNING m.*`,
  );
  return rows.sort(byFirstSeen);
}

function byFirstSeen(a: MismatchRow, b: MismatchRow): number {
  return (
    new Date(a.first_seen_at).getTime() - new Date(b.first_seen_at).getTime() ||
    a.id.localeCompare(b.id)
  );
}
