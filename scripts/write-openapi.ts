// Regenerates docs/openapi.json (test/integration/openapi.test.ts fails when it is stale).
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../src/api/openapi.js';

writeFileSync(
  new URL('../docs/openapi.json', import.meta.url),
  `${JSON.stringify(openApiDocument(), null, 2)}\n`,
);
