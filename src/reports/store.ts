import type { Pool } from '../db/pool.js';
import { buildReportBody, type BuildReportOptions } from './build.js';
import { ReportBody } from './schema.js';

export interface StoredReport {
  id: string;
  sweep_run_id: string | null;
  created_at: Date;
  body: ReportBody;
}

/** Builds a report from the current mismatches and stores it. */
export async function createReport(
  pool: Pool,
  opts: BuildReportOptions = {},
): Promise<StoredReport> {
  const body = await buildReportBody(pool, opts);
  const { rows } = await pool.query<{ created_at: Date }>(
    `INSERT INTO reports (id, sweep_run_id, created_at, body) VALUES ($1, $2, $3, $4) RETURNING created_at`,
    [body.id, body.sweep_run_id, body.created_at, JSON.stringify(body)],
  );
  return { id: body.id, sweep_run_id: body.sweep_run_id, created_at: rows[0]!.created_at, body };
}

/** A report by id, or the newest one for `'latest'`; null when there is none. */
export async function loadReport(pool: Pool, id: string): Promise<StoredReport | null> {
  const { rows } = await pool.query<{
    id: string;
    sweep_run_id: string | null;
    created_at: Date;
    body: unknown;
  }>(
    id === 'latest'
      ? 'SELECT id, sweep_run_id, created_at, body FROM reports ORDER BY created_at DESC, id DESC LIMIT 1'
      : 'SELECT id, sweep_run_id, created_at, body FROM reports WHERE id = $1',
    id === 'latest' ? [] : [id],
  );
  const row = rows[0];
  if (!row) return null;
  return { ...row, body: ReportBody.parse(row.body) };
}

/** Keeps the newest `keep` reports. Returns how many were deleted. */
export async function pruneReports(pool: Pool, keep: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM reports WHERE id IN (
       SELECT id FROM reports ORDER BY created_at DESC, id DESC OFFSET $1)`,
    [keep],
  );
  return rowCount ?? 0;
}
