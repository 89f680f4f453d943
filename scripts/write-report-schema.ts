// Regenerates docs/report.schema.json from the zod schema (test/integration/report-schema.test.ts
// fails when the committed file is stale).
import { writeFileSync } from 'node:fs';
import { reportJsonSchema } from '../src/reports/json-schema.js';

writeFileSync(
  new URL('../docs/report.schema.json', import.meta.url),
  `${JSON.stringify(reportJsonSchema(), null, 2)}\n`,
);
