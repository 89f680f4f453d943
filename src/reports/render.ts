import { NotFoundError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { renderCsv } from './render-csv.js';
import { renderHtml } from './render-html.js';
import { renderMarkdown } from './render-markdown.js';
import { CONTENT_TYPES, type ReportBody, type ReportFormat } from './schema.js';
import { loadReport } from './store.js';

/** A report body in one format (pure). */
export function renderBody(body: ReportBody, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(body, null, 2)}\n`;
    case 'csv':
      return renderCsv(body);
    case 'md':
      return renderMarkdown(body);
    case 'html':
      return renderHtml(body);
  }
}

export interface RenderedReport {
  id: string;
  format: ReportFormat;
  contentType: string;
  /** A suggested file name, e.g. `recon-report-2026-11-22-rpt_….md`. */
  filename: string;
  content: string;
  body: ReportBody;
}

/**
 * What `recon report [--format] [--out]` and `GET /api/reports/:id` call. Throws NotFoundError
 * when the report (or, for 'latest', any report) does not exist.
 */
export async function renderReport(
  rt: Pick<Runtime, 'prisma'>,
  id: string | 'latest',
  format: ReportFormat = 'json',
): Promise<RenderedReport> {
  const report = await loadReport(rt.prisma, id);
  if (!report) {
    throw new NotFoundError(
      id === 'latest'
        ? 'no report yet: run a sweep first (recon reconcile)'
        : `No such report: '${id}'`,
    );
  }
  return {
    id: report.id,
    format,
    contentType: CONTENT_TYPES[format],
    filename: `recon-report-${report.body.created_at.slice(0, 10)}-${report.id}.${format}`,
    content: renderBody(report.body, format),
    body: report.body,
  };
}
