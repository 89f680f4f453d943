import { randomBytes } from 'node:crypto';
import type { Prisma } from '../db/prisma.js';
import { sqlState, type Db } from '../db/prisma.js';
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

/** A `sweep_runs` row as Prisma returns it (the model, or `RETURNING *` through $queryRaw). */
type Row = Omit<SweepRun, 'status' | 'trigger' | 'cursor'> & {
  status: string;
  trigger: string;
  cursor: unknown;
};

function normalise(row: Row): SweepRun {
  return {
    ...(row as SweepRun),
    cursor: { ...initialCursor(), ...((row.cursor ?? {}) as Partial<SweepCursor>) },
  };
}

export async function getSweepRun(db: Db, id: string): Promise<SweepRun | null> {
  const row = await db.sweepRun.findUnique({ where: { id } });
  return row ? normalise(row) : null;
}

/** The queued or running sweep, if any (at most one: a partial unique index says so). */
export async function activeSweepRun(db: Db): Promise<SweepRun | null> {
  const row = await db.sweepRun.findFirst({
    where: { status: { in: ['queued', 'running'] } },
    orderBy: { created_at: 'asc' },
  });
  return row ? normalise(row) : null;
}

export async function latestSweepRuns(db: Db, limit = 20): Promise<SweepRun[]> {
  const rows = await db.sweepRun.findMany({
    orderBy: { created_at: 'desc' },
    take: limit,
  });
  return rows.map(normalise);
}

/**
 * Creates a queued sweep, or returns the active one: the insert races safely against any other
 * process, because the partial unique index admits only one queued/running row.
 */
export async function createOrGetActiveSweep(
  db: Db,
  input: { trigger: SweepTrigger; account?: string | null; since?: Date | null },
): Promise<{ run: SweepRun; created: boolean }> {
  const prisma = db;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const row = await prisma.sweepRun.create({
        data: {
          id: newSweepId(),
          status: 'queued',
          trigger: input.trigger,
          account: input.account ?? null,
          since: input.since ?? null,
          cursor: initialCursor() as unknown as Prisma.InputJsonObject,
        },
      });
      return { run: normalise(row), created: true };
    } catch (err) {
      if (sqlState(err) !== '23505') throw err;
      const active = await activeSweepRun(prisma);
      if (active) return { run: active, created: false };
      // It finished between our insert and our read: try again.
    }
  }
  throw new Error('could not create a sweep run: the active one keeps changing');
}

/** Timestamps below are the database clock (`now()`), as the reports' boundaries are. */
export async function markRunning(db: Db, id: string): Promise<SweepRun | null> {
  const rows = await db.$queryRaw<Row[]>`
    UPDATE sweep_runs SET status = 'running', started_at = COALESCE(started_at, now()), heartbeat_at = now(), error = NULL
     WHERE id = ${id} AND status IN ('queued', 'running') RETURNING *`;
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
  db: Db,
  id: string,
  cursor: SweepCursor,
  d: ProgressDelta = {},
): Promise<SweepRun> {
  const rows = await db.$queryRaw<Row[]>`
    UPDATE sweep_runs SET cursor = ${JSON.stringify(cursor)}::jsonb,
        pages_fetched = pages_fetched + ${d.pages ?? 0}::int,
        objects_fetched = objects_fetched + ${d.objects ?? 0}::int,
        events_recovered = events_recovered + ${d.events ?? 0}::int,
        units_total = COALESCE(${d.unitsTotal ?? null}::int, units_total),
        units_done = COALESCE(${d.unitsDone ?? null}::int, units_done),
        mismatches_opened = mismatches_opened + ${d.opened ?? 0}::int,
        mismatches_resolved = mismatches_resolved + ${d.resolved ?? 0}::int,
        heartbeat_at = now()
      WHERE id = ${id} RETURNING *`;
  return normalise(rows[0]!);
}

export async function finishRun(
  db: Db,
  id: string,
  outcome:
    | { status: 'completed'; reportId: string; cursor: SweepCursor }
    | { status: 'failed'; error: string },
): Promise<SweepRun> {
  const prisma = db;
  const rows =
    outcome.status === 'completed'
      ? await prisma.$queryRaw<Row[]>`
          UPDATE sweep_runs SET status = 'completed', finished_at = now(), heartbeat_at = now(),
                 report_id = ${outcome.reportId}, cursor = ${JSON.stringify(outcome.cursor)}::jsonb,
                 error = NULL
           WHERE id = ${id} RETURNING *`
      : await prisma.$queryRaw<Row[]>`
          UPDATE sweep_runs SET status = 'failed', finished_at = now(), error = ${outcome.error.slice(0, 2000)}
           WHERE id = ${id} RETURNING *`;
  const run = normalise(rows[0]!);
  // Observed where the run ends, by the process that ended it (the scrape-time gauges in
  // src/scrape-metrics.ts report the last completed run from every replica).
  if (run.started_at && run.finished_at) {
    const seconds = (+new Date(run.finished_at) - +new Date(run.started_at)) / 1000;
    sweepDurationSeconds.observe({ result: run.status }, Math.max(0, seconds));
  }
  return run;
}

export async function noteError(db: Db, id: string, error: string): Promise<void> {
  await db.sweepRun.updateMany({
    where: { id },
    data: { error: error.slice(0, 2000) },
  });
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
