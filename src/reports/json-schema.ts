import { z } from 'zod';
import { ReportBody } from './schema.js';

/**
 * The drift report's JSON Schema (draft 2020-12), generated from the zod schema the reports are
 * built and validated with, so the published contract cannot drift from the code. Committed as
 * docs/report.schema.json (`node --import tsx scripts/write-report-schema.ts`); a test fails
 * when the committed file is stale.
 */
export function reportJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(ReportBody, { target: 'draft-2020-12', io: 'output' }),
    title: 'Reconciliation drift report',
    description:
      'The body of a drift report (GET /api/reports/:id?format=json). Money is integer minor units with a lowercase ISO currency; times are ISO-8601 UTC.',
  };
}
