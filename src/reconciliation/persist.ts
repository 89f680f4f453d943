import { Prisma, rawRows, transaction, type AnyDb, type Db } from '../db/prisma.js';
import { severityRank } from '../domain/severity.js';
import { SEVERITIES, type Mismatch, type MismatchKind, type Severity } from '../domain/types.js';
import type { Runtime } from '../runtime.js';
import { newMismatchId, type MismatchRow } from './mismatch-record.js';

/** A mismatch with the unit that produced it (needed when several units are persisted at once). */
export type UnitMismatch = Mismatch & { unitKey?: string };

export interface OpenedMismatch {
  row: MismatchRow;
  /** True when this fingerprint had been resolved before and is true again. */
  reopened: boolean;
}

export interface EscalatedMismatch {
  row: MismatchRow;
  previousSeverity: Severity;
}

/**
 * What changed, for alerting: a new or reopened problem, a severity that rose, a problem that
 * cleared. Mismatches merely seen again (same or lower severity) are not changes.
 */
export interface MismatchChanges {
  opened: OpenedMismatch[];
  escalated: EscalatedMismatch[];
  resolved: MismatchRow[];
}

export function emptyChanges(): MismatchChanges {
  return { opened: [], escalated: [], resolved: [] };
}

const RESOLUTION_REASON: Partial<Record<MismatchKind, string>> = {
  missing_in_ledger: 'no longer detected: the ledger now has a matching entry',
  missing_in_stripe: 'no longer detected: Stripe now has the reversal (or the entry was withdrawn)',
  stuck_processing: 'no longer detected: the reversal left processing',
};
const DEFAULT_REASON = 'no longer detected: ledger and Stripe agree';

/**
 * Writes the reconciler's verdict for some units in one transaction. See `persistMismatchesWith`.
 * `unitKeys` must list every unit that was reconciled — including those that produced nothing —
 * because "not produced any more" is what resolves a mismatch.
 */
export async function persistMismatches(
  rt: Pick<Runtime, 'prisma'>,
  unitKeys: readonly string[],
  mismatches: readonly UnitMismatch[],
  now: number,
): Promise<MismatchChanges> {
  return transaction(rt.prisma, (tx) => persistMismatchesWith(tx, unitKeys, mismatches, now));
}

/**
 * - a new fingerprint is inserted `open` (first_seen_at = last_seen_at = now);
 * - a known one is updated (last_seen_at, severity, message, amounts, expected/actual);
 * - a resolved one that is true again is reopened: `open`, reopened_count + 1, resolved_at and
 *   resolution_reason cleared, and its acknowledgement and notified severity cleared (it is a new
 *   occurrence: the operator and the alerts see it afresh);
 * - every `open` mismatch of these units whose fingerprint was not produced is resolved.
 * Must run inside a transaction (the caller's), after the units were locked.
 */
export async function persistMismatchesWith(
  c: AnyDb,
  unitKeys: readonly string[],
  mismatches: readonly UnitMismatch[],
  now: number,
): Promise<MismatchChanges> {
  const changes = emptyChanges();
  const byFp = new Map<string, UnitMismatch & { unitKey: string }>();
  for (const m of mismatches) {
    const unitKey = m.unitKey ?? (unitKeys.length === 1 ? unitKeys[0] : undefined);
    if (unitKey === undefined) {
      throw new Error(
        `mismatch ${m.fingerprint} has no unitKey and ${unitKeys.length} units were given`,
      );
    }
    if (!byFp.has(m.fingerprint)) byFp.set(m.fingerprint, { ...m, unitKey });
  }
  const list = [...byFp.values()].sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : 1));
  const fps = list.map((m) => m.fingerprint);
  const at = new Date(now);

  if (list.length > 0) {
    const prior = await rawRows<{ fingerprint: string; status: string; severity: Severity }>(
      c,
      Prisma.sql`SELECT fingerprint, status, severity FROM mismatches
       WHERE fingerprint = ANY(${fps}::text[]) ORDER BY fingerprint FOR UPDATE`,
    );
    const before = new Map(prior.map((r) => [r.fingerprint, r]));
    const col = <T>(f: (m: (typeof list)[number]) => T) => list.map(f);
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    const rows = await rawRows<MismatchRow>(
      c,
      Prisma.sql`INSERT INTO mismatches AS m
         (id, fingerprint, kind, severity, status, unit_key, object_type, object_id, ledger_entry_id,
          account, currency, amount_at_risk, expected, actual, message, first_seen_at, last_seen_at,
          updated_at)
       SELECT u.id, u.fingerprint, u.kind, u.severity, 'open', u.unit_key, u.object_type, u.object_id,
              u.ledger_entry_id, u.account, u.currency, u.amount_at_risk, u.expected::jsonb,
              u.actual::jsonb, u.message, ${at}, ${at}, ${at}
       FROM unnest(${col(() => newMismatchId(now))}::text[], ${fps}::text[],
                   ${col((m) => m.kind)}::text[], ${col((m) => m.severity)}::text[],
                   ${col((m) => m.unitKey)}::text[], ${col((m) => m.objectType)}::text[],
                   ${col((m) => m.objectId)}::text[], ${col((m) => m.ledgerEntryId)}::text[],
                   ${col((m) => m.account)}::text[], ${col((m) => m.currency)}::text[],
                   ${col((m) => m.amountAtRisk)}::bigint[], ${col((m) => json(m.expected))}::text[],
                   ${col((m) => json(m.actual))}::text[], ${col((m) => m.message)}::text[])
            AS u(id, fingerprint, kind, severity, unit_key, object_type, object_id, ledger_entry_id,
                 account, currency, amount_at_risk, expected, actual, message)
       ON CONFLICT (fingerprint) DO UPDATE SET
         kind = EXCLUDED.kind,
         severity = EXCLUDED.severity,
         unit_key = EXCLUDED.unit_key,
         object_type = EXCLUDED.object_type,
         object_id = EXCLUDED.object_id,
         ledger_entry_id = EXCLUDED.ledger_entry_id,
         account = EXCLUDED.account,
         currency = EXCLUDED.currency,
         amount_at_risk = EXCLUDED.amount_at_risk,
         expected = EXCLUDED.expected,
         actual = EXCLUDED.actual,
         message = EXCLUDED.message,
         last_seen_at = EXCLUDED.last_seen_at,
         status = 'open',
         resolved_at = NULL,
         resolution_reason = NULL,
         reopened_count = m.reopened_count + (CASE WHEN m.status = 'resolved' THEN 1 ELSE 0 END),
         acknowledged_at = CASE WHEN m.status = 'resolved' THEN NULL ELSE m.acknowledged_at END,
         acknowledged_note = CASE WHEN m.status = 'resolved' THEN NULL ELSE m.acknowledged_note END,
         notified_severity = CASE WHEN m.status = 'resolved' THEN NULL ELSE m.notified_severity END,
         updated_at = EXCLUDED.updated_at
       RETURNING m.*`,
    );
    for (const row of rows) {
      const was = before.get(row.fingerprint);
      if (!was) changes.opened.push({ row, reopened: false });
      else if (was.status === 'resolved') changes.opened.push({ row, reopened: true });
      else if (severityRank(row.severity) > severityRank(was.severity)) {
        changes.escalated.push({ row, previousSeverity: was.severity });
      }
    }
  }

  if (unitKeys.length > 0) {
    const rows = await rawRows<MismatchRow>(
      c,
      Prisma.sql`UPDATE mismatches SET status = 'resolved', resolved_at = ${at}, updated_at = ${at},
              resolution_reason = COALESCE((${JSON.stringify(RESOLUTION_REASON)}::jsonb ->> kind), ${DEFAULT_REASON})
       WHERE status = 'open' AND unit_key = ANY(${[...new Set(unitKeys)]}::text[])
         AND NOT (fingerprint = ANY(${fps}::text[]))
       RETURNING *`,
    );
    changes.resolved.push(...rows);
  }
  return changes;
}

// The other statements that write `mismatches`: the operator's acknowledgements (called by the
// API) and the alert claims on `notified_severity` (called by the alert check). This file is the
// table's one owner.

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
