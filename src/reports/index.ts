export { buildReportBody, type BuildReportOptions, type ReportSweepInput } from './build.js';
export { renderBody, renderReport, type RenderedReport } from './render.js';
export { renderCsv, CSV_COLUMNS } from './render-csv.js';
export { renderHtml, renderChart } from './render-html.js';
export { renderMarkdown } from './render-markdown.js';
export {
  CONTENT_TYPES,
  REPORT_FORMATS,
  ReportBody,
  ReportMismatch,
  type ReportFormat,
} from './schema.js';
export { createReport, loadReport, pruneReports, type StoredReport } from './store.js';
export { reportSummary } from './summary.js';
