import { randomBytes } from 'node:crypto';
import type { Pool } from '../db/pool.js';
import { sweepDurationSeconds } from '../metrics.js';

export const SWEEP_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
export const SWEEP_TRIGGERS = ['cron', 'api', 'cli', 'backfill'] as const;
export type SweepTrigger = (typeof SWEEP_TRIGGERS)[number];

export const SWEEP_PHASES = ['objects', 'events', 'reconcile', 'report', 'done'] as const;
export type SweepPhase = (typeof SWEEP_PHASES)[number];
export const OBJECT_STEPS = ['transfers', 'treasury'] as const;
export type ObjectStep = (typeof OBJECT_STEPS)[number];
export const TREASURY_LISTS = [
  'received_credits',
  'received_debits',
  'credit_reversals',
  'debit_reversals',
] as const;
export type TreasuryList = (typeof TREASURY_LISTS)[number];

/**
 * Where a sweep is, saved after every page so a crashed sweep continues from its last page.
 * Plain JSON (stored in `sweep_runs.cursor`).
 */
export interface SweepCursor {
  phase: SweepPhase;
  /** Accounts to sweep, fixed when the sweep starts (null = the platform). */
  accounts: (string | null)[] | null;
  account_index: number;
  step: ObjectStep;
  /** Treasury: the last financial account finished (starting_after for the FA list). */
  fa_after: string | null;
  /** Treasury: the financial account in progress, and which of its lists. */
  fa: string | null;
  fa_list_index: number;
  /** starting_after of the list in progress (last object id applied). */
  after: string | null;
}

export const initialCursor = (): SweepCursor => ({
  phase: 'objects',
  accounts: null,
  account_index: 0,
  step: 'transfers',
  fa_after: null,
  fa: null,
  fa_list_index: 0,
  after: null,
});

export interface SweepRun {
  id: string;
  status: SweepStatus;
  trigger: SweepTrigger;
  account: string | null;
  since: Date | null;
  cursor: SweepCursor;
  pages_fetched: number;
  objects_fetched: number;
  events_recovered: number;
  units_total: number;
  units_done: number;
  mismatches_opened: number;
  mismatches_resolved: number;
  created_at: Date;
  started_at: Date | null;
  heartbeat_at: Date | null;
  finished_at: Date | null;
  error: string | null;
  report_id: string | null;
}

export const newSweepId = () => `sweep_${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;

function normalise(row: SweepRun): SweepRun {
  return { ...row, cursor: { ...initialCursor(), ...(row.cursor ?? {}) } };
}

export async function getSweepRun(pool: Pool, id: string): Promise<SweepRun | null> {
  const { rows } = await pool.query<SweepRun>('SELECT * FROM sweep_runs WHERE id = $1', [id]);
  return rows[0] ? normalise(rows[0]) : null;
}

/** The queued or running sweep, if any (at most one: a partial unique index says so). */
export async function activeSweepRun(pool: Pool): Promise<SweepRun | null> {
  const { rows } = await pool.query<SweepRun>(
    `SELECT * FROM sweep_runs WHERE status IN ('queued', 'running') ORDER BY created_at LIMIT 1`,
  );
  return rows[0] ? normalise(rows[0]) : null;
}

export async function latestSweepRuns(pool: Pool, limit = 20): Promise<SweepRun[]> {
  const { rows } = await pool.query<SweepRun>(
    'SELECT * FROM sweep_runs ORDER BY created_at DESC LIMIT $1',
    [limit],
  );
  return rows.map(normalise);
}

/**
 * Creates a queued sweep, or returns the active one: the insert races safely against any other
 * process, because the partial unique index admits only one queued/running row.
 */
export async function createOrGetActiveSweep(
  pool: Pool,
  input: { trigger: SweepTrigger; account?: string | null; since?: Date | null },
): Promise<{ run: SweepRun; created: boolean }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const { rows } = await pool.query<SweepRun>(
        `INSERT INTO sweep_runs (id, status, trigger, account, since, cursor)
         VALUES ($1, 'queued', $2, $3, $4, $5) RETURNING *`,
        [
          newSweepId(),
          input.trigger,
          input.account ?? null,
          input.since ?? null,
          JSON.stringify(initialCursor()),
        ],
      );
      return { run: normalise(rows[0]!), created: true };
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      const active = await activeSweepRun(pool);
      if (active) return { run: active, created: false };
      // It finished between our insert and our read: try again.
    }
  }
  throw new Error('could not create a sweep run: the active one keeps changing');
}

export async function markRunning(pool: Pool, id: string): Promise<SweepRun | null> {
  const { rows } = await pool.query<SweepRun>(
    `UPDATE sweep_runs SET status = 'running', started_at = COALESCE(started_at, now()), heartbeat_at = now(), error = NULL
      WHERE id = $1 AND status IN ('queued', 'running') RETURNING *`,
    [id],
  );
  return rows[0] ? normalise(rows[0]) : null;
}

export interface ProgressDelta {
  pages?: number;
  objects?: number;
  events?: number;
  unitsTotal?: number;
  unitsDone?: number;
  opened?: number;
  resolved?: number;
}

/** Saves the cursor and adds the counters of one page, in one statement (they move together). */
export async function saveProgress(
  pool: Pool,
  id: string,
  cursor: SweepCursor,
  d: ProgressDelta = {},
): Promise<SweepRun> {
  const { rows } = await pool.query<SweepRun>(
    `UPDATE sweep_runs SET cursor = $2,
        pages_fetched = pages_fetched + $3, objects_fetched = objects_fetched + $4,
        events_recovered = events_recovered + $5,
        units_total = COALESCE($6, units_total), units_done = COALESCE($7, units_done),
        mismatches_opened = mismatches_opened + $8, mismatches_resolved = mismatches_resolved + $9,
        heartbeat_at = now()
      WHERE id = $1 RETURNING *`,
    [
      id,
      JSON.stringify(cursor),
      d.pages ?? 0,
      d.objects ?? 0,
      d.events ?? 0,
      d.unitsTotal ?? null,
      d.unitsDone ?? null,
      d.opened ?? 0,
      d.resolved ?? 0,
    ],
  );
  return normalise(rows[0]!);
}

export async function finishRun(
  pool: Pool,
  id: string,
  outcome:
    | { status: 'completed'; reportId: string; cursor: SweepCursor }
    | { status: 'failed'; error: string },
): Promise<SweepRun> {
  const { rows } =
    outcome.status === 'completed'
      ? await pool.query<SweepRun>(
          `UPDATE sweep_runs SET status = 'completed', finished_at = now(), heartbeat_at = now(), report_id = $2,
                  cursor = $3, error = NULL
            WHERE id = $1 RETURNING *`,
          [id, outcome.reportId, JSON.stringify(outcome.cursor)],
        )
      : await pool.query<SweepRun>(
          `UPDATE sweep_runs SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1 RETURNING *`,
          [id, outcome.error.slice(0, 2000)],
        );
  const run = normalise(rows[0]!);
  // Observed where the run ends, by the process that ended it (the scrape-time gauges in
  // src/scrape-metrics.ts report the last completed run from every replica).
  if (run.started_at && run.finished_at) {
    const seconds = (+new Date(run.finished_at) - +new Date(run.started_at)) / 1000;
    sweepDurationSeconds.observe({ result: run.status }, Math.max(0, seconds));
  }
  return run;
}

export async function noteError(pool: Pool, id: string, error: string): Promise<void> {
  await pool.query('UPDATE sweep_runs SET error = $2 WHERE id = $1', [id, error.slice(0, 2000)]);
}

/** The run as `GET /api/reconcile/runs/:id` shows it. */
export function sweepRunJson(r: SweepRun) {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    id: r.id,
    object: 'sweep_run' as const,
    status: r.status,
    trigger: r.trigger,
    account: r.account,
    since: iso(r.since),
    phase: r.cursor.phase,
    cursor: r.cursor,
    progress: {
      pages_fetched: r.pages_fetched,
      objects_fetched: r.objects_fetched,
      events_recovered: r.events_recovered,
      units_total: r.units_total,
      units_done: r.units_done,
      mismatches_opened: r.mismatches_opened,
      mismatches_resolved: r.mismatches_resolved,
    },
    created_at: iso(r.created_at),
    started_at: iso(r.started_at),
    heartbeat_at: iso(r.heartbeat_at),
    finished_at: iso(r.finished_at),
    error: r.error,
    report_id: r.report_id,
  };
}
