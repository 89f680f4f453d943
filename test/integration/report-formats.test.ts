import { mkdir, writeFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMoney } from '../../src/domain/money.js';
import type { MismatchKind, Severity } from '../../src/domain/types.js';
import { persistMismatches, type UnitMismatch } from '../../src/reconciliation/persist.js';
import { CSV_COLUMNS, csvCells } from '../../src/reports/render-csv.js';
import { renderReport } from '../../src/reports/render.js';
import { ReportBody } from '../../src/reports/schema.js';
import { createReport } from '../../src/reports/store.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { launchBrowser } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { buildTestApp, testConfig } from '../support/events.js';

/**
 * Drift reports from real mismatches, in every format, through the API: the JSON validates, the
 * CSV parses back to the same rows, Markdown and HTML say the same numbers, and headless Chromium
 * renders the HTML (screenshot kept under .vitest-output/ to look at).
 */

const AUTH = { authorization: 'Bearer op_test_token_0123456789abcdef' };
const SCREENSHOT = new URL('../../.vitest-output/report.png', import.meta.url);

let db: TestDatabase;
let rt: Runtime;
let app: FastifyInstance;

const KINDS: MismatchKind[] = [
  'reversal_lost',
  'reversal_canceled',
  'stuck_processing',
  'missing_in_ledger',
  'amount_mismatch',
  'over_reversed',
];
const SEVS: Severity[] = ['critical', 'high', 'medium', 'low'];
const CURRENCIES = ['usd', 'eur', 'jpy'];

function m(i: number): UnitMismatch {
  const kind = KINDS[i % KINDS.length]!;
  return {
    fingerprint: `${kind}:obj_${i}:-`,
    kind,
    severity: SEVS[i % SEVS.length]!,
    objectType: 'credit_reversal',
    objectId: `credrev_${i}`,
    ledgerEntryId: i % 2 ? `le_${i}` : null,
    account: i % 3 === 0 ? null : `acct_${i % 3}`,
    currency: CURRENCIES[i % 3]!,
    amountAtRisk: 1_000 * (i + 1) + i,
    expected: { amount: 1 },
    actual: { amount: 2 },
    // Everything a CSV, a Markdown table or an HTML page must survive.
    message: `Reversal credrev_${i}: "quoted", comma, pipe | and\nnew line <script>alert(${i})</script> & more`,
    unitKey: `rc_${i}`,
  };
}

const T0 = Date.now() - 5 * 86_400_000;
let body: ReportBody;

beforeAll(async () => {
  db = await createTestDatabase();
  rt = createRuntime(testConfig({ DATABASE_URL: db.url }));
  app = await buildTestApp(rt);
  // A history of reports with a changing number of open mismatches, for the chart.
  const all = Array.from({ length: 24 }, (_, i) => m(i));
  const open = (n: number, at: number) =>
    persistMismatches(
      rt,
      all.map((x) => x.unitKey!),
      all.slice(0, n),
      at,
    );
  for (const [n, day] of [
    [6, 0],
    [10, 1],
    [14, 2],
    [9, 3],
    [20, 4],
  ] as const) {
    await open(n, T0 + day * 86_400_000);
    await createReport(rt.prisma);
  }
  await open(16, Date.now());
  body = (await createReport(rt.prisma)).body;
});

afterAll(async () => {
  await app?.close();
  await rt?.close();
  await db?.close();
});

async function get(url: string) {
  return app.inject({ method: 'GET', url, headers: AUTH });
}

describe('report formats', () => {
  it('JSON validates against the zod schema and says what changed', async () => {
    const res = await get(`/api/reports/${body.id}?format=json`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const json = ReportBody.parse(res.json());
    expect(json).toEqual(body);
    expect(json.totals).toMatchObject({ open: 16, resolved: 4, new: 0 });
    expect(json.open).toHaveLength(16);
    expect(json.resolved.every((r) => r.change === 'resolved' && r.resolution_reason)).toBe(true);
    expect(json.history.map((h) => h.open)).toEqual([6, 10, 14, 9, 20, 16]);
    expect(Object.values(json.open_by_kind).reduce((a, b) => a + b, 0)).toBe(16);
    expect(Object.values(json.open_by_severity).reduce((a, b) => a + b, 0)).toBe(16);
    expect(json.open_by_account.reduce((a, b) => a + b.count, 0)).toBe(16);
    const usd = json.open
      .filter((x) => x.currency === 'usd')
      .reduce((a, b) => a + b.amount_at_risk!, 0);
    expect(json.amount_at_risk.find((a) => a.currency === 'usd')?.amount).toBe(usd);
    // `latest` is this one.
    expect((await get('/api/reports/latest')).json()).toEqual(body);
  });

  it('CSV parses back to the same rows (RFC 4180)', async () => {
    const res = await get(`/api/reports/${body.id}?format=csv`);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(
      /attachment; filename="recon-report-.*\.csv"/,
    );
    expect(res.body).toContain('\r\n');
    const rows = parse(res.body, { columns: true, skip_empty_lines: false }) as Record<
      string,
      string
    >[];
    const want = [...body.open, ...body.resolved].map((x) =>
      Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, csvCells(x)[i]])),
    );
    expect(rows).toEqual(want);
    expect(rows.some((r) => r.message!.includes('\n') && r.message!.includes('"quoted"'))).toBe(
      true,
    );
  });

  it('Markdown and HTML carry the same numbers', async () => {
    const md = await get(`/api/reports/latest?format=md`);
    const html = await get(`/api/reports/latest?format=html`);
    expect(md.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.headers['content-security-policy']).toContain("default-src 'none'");
    const cli = await renderReport(rt, 'latest', 'md');
    expect(cli.content).toBe(md.body);

    expect(md.body).toContain('| Open mismatches | 16 |');
    expect(md.body).toContain('| Resolved | 4 |');
    expect(md.body).toContain('| New | 0 |');
    for (const a of body.amount_at_risk) {
      const text = formatMoney(a.amount, a.currency);
      expect(md.body).toContain(`| ${a.currency.toUpperCase()} | ${text} | ${a.count} |`);
      expect(html.body).toContain(`<td class="num">${text}</td><td class="num">${a.count}</td>`);
    }
    for (const k of Object.entries(body.open_by_kind).filter(([, n]) => n > 0)) {
      expect(md.body).toContain(`| ${k[0]} | ${k[1]} |`);
      expect(html.body).toContain(`<td>${k[0]}</td><td class="num">${k[1]}</td>`);
    }
    // The same "amount at risk" sentence in both.
    const risk = /\| Amount at risk \| ([^|]+) \|/.exec(md.body)![1]!.trim();
    expect(html.body).toContain(`<div class="value">${risk.replace(/&/g, '&amp;')}</div>`);
    expect(html.body).toContain(
      '<div class="label">Open mismatches</div><div class="value">16</div>',
    );
    expect(html.body).toContain('<div class="label">Resolved</div><div class="value">4</div>');

    // Tables and markup survive hostile messages; the page is standalone.
    expect(md.body).not.toMatch(/pipe \| and/);
    expect(md.body).toContain('pipe \\| and new line');
    expect(html.body).not.toContain('<script>');
    expect(html.body).toContain('&lt;script&gt;');
    expect(html.body).not.toMatch(/<link|<script|src="http|href="http|url\(/i);
    expect(html.body).toContain('<svg');
    expect((html.body.match(/<rect /g) ?? []).length).toBe(6);
  });

  it('answers 404 for an unknown report and 400 for an unknown format', async () => {
    expect((await get('/api/reports/rpt_nope')).statusCode).toBe(404);
    expect((await get(`/api/reports/${body.id}?format=pdf`)).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/reports/latest' })).statusCode).toBe(401);
  });

  it('renders in headless Chromium (screenshot under .vitest-output/)', async () => {
    const html = (await renderReport(rt, body.id, 'html')).content;
    // Debian's Chromium when installed, else the one the @sparticuz/chromium devDependency ships.
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.setContent(html, { waitUntil: 'load' });
      expect(requests.filter((u) => !u.startsWith('data:') && u !== 'about:blank')).toEqual([]);
      expect(await page.title()).toContain('Reconciliation drift report');
      const bars = await page.locator('svg rect').count();
      expect(bars).toBe(6);
      const box = await page.locator('svg').boundingBox();
      expect(box!.width).toBeGreaterThan(300);
      await mkdir(new URL('.', SCREENSHOT), { recursive: true });
      const png = await page.screenshot({ fullPage: true });
      await writeFile(SCREENSHOT, png);
      expect(png.length).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  });
});
