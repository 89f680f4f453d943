import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { reconcileUnits } from '../../src/reconciliation/reconcile-units.js';
import { CSV_COLUMNS } from '../../src/reports/render-csv.js';
import { renderBody } from '../../src/reports/render.js';
import type { ReportBody } from '../../src/reports/schema.js';
import { createReport } from '../../src/reports/store.js';
import { AUTH, createTestRuntime, insertCreditReversal } from '../unit/ledger/support.js';

/**
 * The age a report gives agrees with the message: a credit reversal "processing for 9 days" is 9
 * days old although its mismatch opened a moment ago, and both times are shown ("first seen",
 * "open since") in every format and in the API. And the examples' dispute-ach-0092 case — a
 * ledger entry of $150.00 that expects the dispute lost, absent in Stripe — is $0.00 at risk
 * with the reason beside it.
 */

const DAY = 86_400_000;
const CREATED = Date.now() - 9 * DAY;
let t: Awaited<ReturnType<typeof createTestRuntime>>;
let app: FastifyInstance;
let body: ReportBody;

beforeAll(async () => {
  t = await createTestRuntime({ RECON_CONFIRM_MISSING: 'false' });
  app = await buildApp(t.rt);
  await insertCreditReversal(t.rt.pool, {
    id: 'credrev_stuck',
    receivedCredit: 'rc_stuck',
    amount: 30_400,
    status: 'processing',
    createdMs: CREATED,
    account: 'acct_1Bakery',
  });
  const posted = await app.inject({
    method: 'POST',
    url: '/api/ledger/entries',
    headers: AUTH,
    payload: {
      entries: [
        {
          id: 'le_stuck',
          kind: 'credit_reversal',
          stripe_id: 'credrev_stuck',
          parent_id: 'rc_stuck',
          amount: 30_400,
          currency: 'usd',
          expected_status: 'posted',
          account: 'acct_1Bakery',
          occurred_at: new Date(CREATED).toISOString(),
        },
        {
          id: 'dispute-ach-0092',
          kind: 'debit_reversal',
          stripe_id: 'debrev_1QxE8hHiJkL3456',
          parent_id: 'rd_1QxE7gHiJkL7890',
          amount: 15_000,
          currency: 'usd',
          expected_status: 'failed',
          occurred_at: new Date(CREATED).toISOString(),
        },
        {
          id: 'le_eur',
          kind: 'credit_reversal',
          stripe_id: 'credrev_eur_gone',
          parent_id: 'rc_eur',
          amount: 350,
          currency: 'eur',
          expected_status: 'posted',
          occurred_at: new Date(Date.now() - 2 * 3_600_000).toISOString(),
        },
      ],
    },
  });
  expect(posted.statusCode, posted.body).toBe(200);
  await reconcileUnits(t.rt, ['rc_stuck', 'rd_1QxE7gHiJkL7890', 'rc_eur']);
  body = (await createReport(t.rt.prisma)).body;
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

const byKind = (kind: string) => body.open.find((m) => m.kind === kind)!;

describe('age in a report agrees with the message', () => {
  it('JSON: first seen is the object’s created, age runs from it, open_seconds from the mismatch', () => {
    const stuck = byKind('stuck_processing');
    expect(stuck.message).toContain('processing for 9 days');
    expect(Date.parse(stuck.object_first_seen_at!)).toBe(Math.floor(CREATED / 1000) * 1000);
    expect(Math.floor(stuck.age_seconds / 86_400)).toBe(9);
    expect(stuck.open_seconds).toBeLessThan(120);
    expect(Date.parse(stuck.first_seen_at)).toBeGreaterThan(Date.now() - 120_000);
  });

  it('Markdown and HTML give the age of the message and both times', () => {
    const stuck = byKind('stuck_processing');
    const firstSeen = `first seen ${stuck.object_first_seen_at!.slice(0, 16).replace('T', ' ')} UTC`;
    const openSince = `open since ${stuck.first_seen_at.slice(0, 16).replace('T', ' ')} UTC`;
    for (const format of ['md', 'html'] as const) {
      const text = renderBody(body, format);
      expect(text).toContain(`9 days — ${firstSeen}, ${openSince}`);
      expect(text).not.toMatch(/\| \d+ seconds \|.*processing for 9 days/);
      expect(text).toContain('Age runs from when the object was first seen');
    }
  });

  it('CSV: first_seen_at (the object), open_since (the mismatch), age_days and open_days', () => {
    const rows = parse(renderBody(body, 'csv'), { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([...CSV_COLUMNS]);
    const stuck = rows.find((r) => r.kind === 'stuck_processing')!;
    expect(stuck.first_seen_at).toBe(byKind('stuck_processing').object_first_seen_at);
    expect(stuck.open_since).toBe(byKind('stuck_processing').first_seen_at);
    expect(Number(stuck.age_days)).toBeGreaterThanOrEqual(9);
    expect(Number(stuck.open_days)).toBe(0);
  });

  it('the API gives object_first_seen_at and filters by age and currency', async () => {
    const list = async (q: string) => {
      const r = await app.inject({ method: 'GET', url: `/api/mismatches?${q}`, headers: AUTH });
      expect(r.statusCode, r.body).toBe(200);
      return (r.json() as { data: { kind: string; object_first_seen_at: string }[] }).data;
    };
    const all = await list('status=open');
    expect(all).toHaveLength(3);
    expect(all.every((m) => typeof m.object_first_seen_at === 'string')).toBe(true);
    expect((await list('min_age=7d')).map((m) => m.kind).sort()).toEqual([
      'missing_in_stripe',
      'stuck_processing',
    ]);
    expect((await list('max_age=1d')).map((m) => m.kind)).toEqual(['missing_in_stripe']);
    expect((await list('currency=EUR')).map((m) => m.kind)).toEqual(['missing_in_stripe']);
    expect(await list('currency=usd&min_age=30d')).toEqual([]);
    const bad = await app.inject({
      method: 'GET',
      url: '/api/mismatches?min_age=soon',
      headers: AUTH,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/^invalid min_age/);
  });
});

describe('dispute-ach-0092: $0.00 at risk next to a message of $150.00', () => {
  it('is explained beside the amount and in the notes, in Markdown and HTML', () => {
    const m = body.open.find((x) => x.ledger_entry_id === 'dispute-ach-0092')!;
    expect(m).toMatchObject({ kind: 'missing_in_stripe', amount_at_risk: 0 });
    expect(m.message).toContain('of $150.00');
    expect(m.message).toContain('Nothing is at risk');
    for (const format of ['md', 'html'] as const) {
      const text = renderBody(body, format);
      expect(text).toContain('$0.00 (the ledger expects it lost: no money was to move)');
      expect(text).toContain('Amount at risk is the money that moved differently');
    }
  });

  it('one money style in a report: symbols, never ISO codes after the digits', () => {
    for (const format of ['md', 'html'] as const) {
      const text = renderBody(body, format);
      expect(text).toContain('€3.50');
      expect(text).not.toMatch(/\d (USD|EUR)\b/);
    }
  });
});
