import type { Prisma } from '../db/prisma.js';
import type { Db, PrismaClient } from '../db/prisma.js';
import { buildReportBody, type BuildReportOptions } from './build.js';
import { ReportBody } from './schema.js';

export interface StoredReport {
  id: string;
  sweep_run_id: string | null;
  created_at: Date;
  body: ReportBody;
}

/**
 * Builds a report from the current mismatches and stores it.
 */
export async function createReport(
  prisma: PrismaClient,
  opts: BuildReportOptions = {},
): Promise<StoredReport> {
  const body = await buildReportBody(prisma, opts);
  const row = await prisma.report.create({
    data: {
      id: body.id,
      sweep_run_id: body.sweep_run_id,
      created_at: body.created_at,
      body: body as unknown as Prisma.InputJsonObject,
    },
    select: { created_at: true },
  });
  return { id: body.id, sweep_run_id: body.sweep_run_id, created_at: row.created_at, body };
}

/** A report by id, or the newest one for `'latest'`; null when there is none. */
export async function loadReport(prisma: Db, id: string): Promise<StoredReport | null> {
  const select = { id: true, sweep_run_id: true, created_at: true, body: true } as const;
  const row =
    id === 'latest'
      ? await prisma.report.findFirst({
          select,
          orderBy: [{ created_at: 'desc' }, { id: 'desc' }],
        })
      : await prisma.report.findUnique({ select, where: { id } });
  if (!row) return null;
  return { ...row, body: ReportBody.parse(row.body) };
}

/** Keeps the newest `keep` reports. Returns how many were deleted. */
export async function pruneReports(db: Db, keep: number): Promise<number> {
  return db.$executeRaw`
    DELETE FROM reports WHERE id IN (
      SELECT id FROM reports ORDER BY created_at DESC, id DESC OFFSET ${keep})`;
}
