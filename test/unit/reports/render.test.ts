import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MISMATCH_KINDS, SEVERITIES } from '../../../src/domain/types.js';
import { sumMoney } from '../../../src/reports/build.js';
import { decimalAmount } from '../../../src/domain/money.js';
import { CSV_COLUMNS, neutralise, renderCsv } from '../../../src/reports/render-csv.js';
import { renderChart, renderHtml } from '../../../src/reports/render-html.js';
import { renderMarkdown } from '../../../src/reports/render-markdown.js';
import { renderBody } from '../../../src/reports/render.js';
import { ReportBody, type ReportMismatch } from '../../../src/reports/schema.js';

const AT = '2026-11-22T03:00:00.000Z';

function item(over: Partial<ReportMismatch> = {}): ReportMismatch {
  return {
    id: 'mm_000000000001aaaaaaaaaaaa',
    fingerprint: 'reversal_lost:debrev_1:-',
    change: 'new',
    kind: 'reversal_lost',
    severity: 'critical',
    status: 'open',
    object_type: 'debit_reversal',
    object_id: 'debrev_1',
    ledger_entry_id: 'le_1',
    account: 'acct_1',
    currency: 'usd',
    amount_at_risk: 12_345,
    message: 'Debit reversal debrev_1 was lost',
    first_seen_at: '2026-11-20T03:00:00.000Z',
    last_seen_at: AT,
    resolved_at: null,
    resolution_reason: null,
    age_seconds: 2 * 86_400,
    acknowledged: false,
    ...over,
  };
}

function body(open: ReportMismatch[], resolved: ReportMismatch[] = []): ReportBody {
  const byKind = Object.fromEntries(
    MISMATCH_KINDS.map((k) => [k, open.filter((m) => m.kind === k).length]),
  );
  const bySev = Object.fromEntries(
    SEVERITIES.map((s) => [s, open.filter((m) => m.severity === s).length]),
  );
  return ReportBody.parse({
    version: 1,
    id: 'rpt_1',
    created_at: AT,
    sweep_run_id: 'sweep_1',
    previous_report: { id: 'rpt_0', created_at: '2026-11-21T03:00:00.000Z' },
    sweep: null,
    totals: {
      open: open.length,
      new: open.filter((m) => m.change === 'new').length,
      resolved: resolved.length,
      acknowledged: 0,
      objects_fetched: 1_234,
      events_recovered: 7,
    },
    open_by_kind: byKind,
    open_by_severity: bySev,
    open_by_account: [{ account: 'acct_1', count: open.length, amount_at_risk: sumMoney(open) }],
    amount_at_risk: sumMoney(open),
    open,
    resolved,
    history: [
      { report_id: 'rpt_0', created_at: '2026-11-21T03:00:00.000Z', open: 3 },
      { report_id: 'rpt_1', created_at: AT, open: open.length },
    ],
  });
}

describe('CSV', () => {
  it('round-trips any message through RFC 4180 quoting', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 5 }),
        (messages) => {
          const open = messages.map((message, i) => item({ id: `mm_${i}`, message }));
          const rows = parse(renderCsv(body(open)), {
            columns: true,
            relax_quotes: false,
          }) as Record<string, string>[];
          expect(rows.map((r) => r.message)).toEqual(messages.map(neutralise));
          expect(Object.keys(rows[0]!)).toEqual([...CSV_COLUMNS]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is ready for finance: decimals beside minor units, expected/actual, days, platform', () => {
    const csv = renderCsv(
      body([
        item({
          ledger_entry_id: null,
          account: null,
          age_seconds: 9 * 86_400 + 3_600,
          expected: { amount: 15_000, status: 'posted' },
          actual: { amount: 0 },
        }),
      ]),
    );
    const [row] = parse(csv, { columns: true }) as Record<string, string>[];
    expect(row).toMatchObject({
      ledger_entry_id: '',
      account: 'platform',
      currency: 'USD',
      amount_at_risk: '123.45',
      amount_at_risk_minor: '12345',
      expected: 'amount=150.00; status=posted',
      actual: 'amount=0.00',
      age_days: '9.0',
      resolved_at: '',
      acknowledged: 'no',
    });
    expect(row).not.toHaveProperty('fingerprint');
    expect(csv.split('\r\n')[0]).toBe(CSV_COLUMNS.join(','));
  });

  it("writes decimals in each currency's own minor units", () => {
    expect(decimalAmount(295_349, 'usd')).toBe('2953.49');
    expect(decimalAmount(-5, 'eur')).toBe('-0.05');
    expect(decimalAmount(500, 'jpy')).toBe('500');
    expect(decimalAmount(1_234, 'kwd')).toBe('1.234');
  });

  it('neutralises cells a spreadsheet would run as a formula', () => {
    const evil = ['=HYPERLINK("http://x","y")', '+1+1', '-2+3', '@SUM(A1)', '\tx', '\rx'];
    const rows = parse(
      renderCsv(
        body(
          evil.map((message, i) =>
            item({ id: `mm_${i}`, message, object_id: message, account: message }),
          ),
        ),
      ),
      { columns: true },
    ) as Record<string, string>[];
    rows.forEach((r, i) => {
      expect(r.message).toBe(`'${evil[i]}`);
      expect(r.object_id).toBe(`'${evil[i]}`);
      expect(r.account).toBe(`'${evil[i]}`);
    });
    // A negative amount we wrote ourselves stays a number.
    const [neg] = parse(renderCsv(body([item({ amount_at_risk: -250 })])), {
      columns: true,
    }) as Record<string, string>[];
    expect(neg!.amount_at_risk).toBe('-2.50');
    expect(neutralise('plain text')).toBe('plain text');
  });
});

describe('Markdown', () => {
  it('says it is for tickets and keeps interpolated text as text', () => {
    const evil = 'a | b `c` <img src=x onerror=alert(1)> & *d* [e](f)\nnext';
    const md = renderMarkdown(
      body([item({ message: evil, object_id: 'debrev_`1`|x<b>', account: 'acct_|1' })]),
    );
    expect(md).toMatch(/For tickets/);
    expect(md).not.toContain('<img');
    expect(md).toContain('&lt;img src=x onerror=alert(1)&gt; &amp;');
    expect(md).toContain('a \\| b \\`c\\`');
    expect(md).toContain("`debrev_'1'\\|x<b>`");
    expect(md).toContain('`acct_\\|1`');
    // Every table row still has as many cells as its header (no pipe leaked).
    const row = md.split('\n').find((l) => l.includes('onerror'))!;
    const header = md.split('\n').find((l) => l.startsWith('| Severity | Kind | Object'))!;
    const cells = (l: string) => l.split(/(?<!\\)\|/).length;
    expect(cells(row)).toBe(cells(header));
  });

  it('keeps tables intact and lists new, resolved and still-open mismatches', () => {
    const md = renderMarkdown(
      body(
        [
          item({ message: 'a | b\nc' }),
          item({
            id: 'mm_2',
            change: 'open',
            kind: 'stuck_processing',
            severity: 'medium',
            currency: 'eur',
            amount_at_risk: 500,
          }),
        ],
        [
          item({
            id: 'mm_3',
            change: 'resolved',
            status: 'resolved',
            resolved_at: AT,
            resolution_reason: 'no longer detected: ledger and Stripe agree',
          }),
        ],
      ),
    );
    expect(md).toContain('| Open mismatches | 2 |');
    expect(md).toContain('| Amount at risk | €5.00, $123.45 |');
    expect(md).toContain('a \\| b c');
    expect(md).toContain('## New (1)');
    expect(md).toContain('## Resolved (1)');
    expect(md).toContain('## Still open (1)');
    expect(md).toContain('no longer detected: ledger and Stripe agree');
    expect(md).toContain('| 2 days |');
  });
});

describe('HTML', () => {
  it('escapes everything and loads nothing', () => {
    const html = renderHtml(
      body([item({ message: '<img src=x onerror=alert(1)>', account: '"><script>' })]),
    );
    expect(html).not.toMatch(/<img|<script/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html.startsWith('<!doctype html>')).toBe(true);
  });

  it('draws one bar per report, the newest highlighted', () => {
    const svg = renderChart([
      { report_id: 'a', created_at: '2026-11-20T03:00:00.000Z', open: 0 },
      { report_id: 'b', created_at: '2026-11-21T03:00:00.000Z', open: 5 },
      { report_id: 'c', created_at: '2026-11-22T03:00:00.000Z', open: 10 },
    ]);
    expect(svg.match(/<rect /g)).toHaveLength(3);
    expect(svg.match(/fill="#175cd3"/g)).toHaveLength(1);
    expect(svg).toContain('11-22');
  });

  it('renders an empty report', () => {
    expect(renderBody(body([]), 'html')).toContain('No new mismatches.');
    expect(renderBody(body([]), 'md')).toContain('_Nothing at risk._');
    expect(JSON.parse(renderBody(body([]), 'json'))).toMatchObject({ totals: { open: 0 } });
  });
});

describe('sumMoney', () => {
  it('sums per currency and never mixes them', () => {
    expect(
      sumMoney([
        { currency: 'usd', amount_at_risk: 100 },
        { currency: 'eur', amount_at_risk: 5 },
        { currency: 'usd', amount_at_risk: 1 },
        { currency: null, amount_at_risk: 9 },
        { currency: 'jpy', amount_at_risk: null },
      ]),
    ).toEqual([
      { currency: 'eur', amount: 5, count: 1 },
      { currency: 'usd', amount: 101, count: 2 },
    ]);
  });
});
