import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistMismatches } from '../../src/reconciliation/persist.js';
import { reportJsonSchema } from '../../src/reports/json-schema.js';
import type { ReportBody } from '../../src/reports/schema.js';
import { createReport } from '../../src/reports/store.js';
import { createTestRuntime } from '../unit/ledger/support.js';

/**
 * docs/report.schema.json is the published contract of the report JSON: it must be what the code
 * generates, and a real report (built from real mismatches in Postgres) must validate against it.
 */

const committed = JSON.parse(
  readFileSync(new URL('../../docs/report.schema.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

let t: Awaited<ReturnType<typeof createTestRuntime>>;
let body: ReportBody;
const T0 = Date.UTC(2026, 10, 20, 12);

beforeAll(async () => {
  t = await createTestRuntime();
  await persistMismatches(
    t.rt,
    ['rc_1', 'tr_2'],
    [
      {
        unitKey: 'rc_1',
        fingerprint: 'missing_in_ledger:credrev_1:-',
        kind: 'missing_in_ledger',
        severity: 'high',
        objectType: 'credit_reversal',
        objectId: 'credrev_1',
        ledgerEntryId: null,
        account: null,
        currency: 'usd',
        amountAtRisk: 295_349,
        expected: null,
        actual: { amount: 295_349, status: 'posted' },
        message: 'Credit reversal credrev_1 has no matching ledger entry.',
      },
      {
        unitKey: 'tr_2',
        fingerprint: 'amount_mismatch:trr_2:le_2',
        kind: 'amount_mismatch',
        severity: 'medium',
        objectType: 'transfer_reversal',
        objectId: 'trr_2',
        ledgerEntryId: 'le_2',
        account: 'acct_1',
        currency: 'eur',
        amountAtRisk: 350,
        expected: { amount: 1_000 },
        actual: { amount: 1_350 },
        message: 'Transfer reversal trr_2 is 13.50 EUR but the ledger says 10.00 EUR.',
      },
    ],
    T0,
  );
  body = (await createReport(t.rt.prisma)).body;
});
afterAll(async () => {
  await t?.close();
});

function validator() {
  // strictRequired flags zod's record-of-enum (required keys listed via propertyNames): valid.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  addFormats.default(ajv);
  return ajv.compile(committed);
}

describe('docs/report.schema.json', () => {
  it('is what the zod schema generates (regenerate with scripts/write-report-schema.ts)', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(reportJsonSchema())));
  });

  it('accepts a real report', () => {
    const validate = validator();
    expect(body.open).toHaveLength(2);
    const ok = validate(JSON.parse(JSON.stringify(body)));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('rejects a report that breaks the contract', () => {
    const validate = validator();
    const bad = JSON.parse(JSON.stringify(body));
    bad.open[0].amount_at_risk = '2953.49';
    expect(validate(bad)).toBe(false);
    const noTotals = JSON.parse(JSON.stringify(body));
    delete noTotals.totals;
    expect(validate(noTotals)).toBe(false);
  });
});
