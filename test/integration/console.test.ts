import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { Mismatch } from '../../src/domain/types.js';
import { persistMismatches } from '../../src/reconciliation/persist.js';
import { createReport } from '../../src/reports/store.js';
import { launchBrowser } from '../support/browser.js';
import { TEST_OPERATOR_TOKEN } from '../support/events.js';
import { createTestRuntime, insertCreditReversal } from '../unit/ledger/support.js';

/**
 * The console as an operator uses it, in headless Chromium against the real app on a real port:
 * sign in → filter → open a mismatch → acknowledge → it leaves the open list.
 */

const OUT = new URL('../../.vitest-output/', import.meta.url);
let t: Awaited<ReturnType<typeof createTestRuntime>>;
let app: FastifyInstance;
let browser: Browser;
let base: string;
const T0 = Date.now() - 9 * 86_400_000;

const mm = (i: number, over: Partial<Mismatch> = {}): Mismatch & { unitKey: string } => ({
  fingerprint: `missing_in_ledger:credrev_${i}:-`,
  kind: 'missing_in_ledger',
  severity: 'high',
  objectType: 'credit_reversal',
  objectId: `credrev_${i}`,
  ledgerEntryId: null,
  account: i % 2 ? 'acct_1Odd' : null,
  currency: 'usd',
  amountAtRisk: 15_000 + i,
  expected: null,
  actual: { amount: 15_000 + i, status: 'posted' },
  message: `Credit reversal credrev_${i} has no matching ledger entry <b>${i}</b>.`,
  unitKey: `rc_${i}`,
  ...over,
});

beforeAll(async () => {
  await mkdir(OUT, { recursive: true });
  t = await createTestRuntime();
  for (let i = 0; i < 6; i++) {
    await insertCreditReversal(t.rt.pool, {
      id: `credrev_${i}`,
      receivedCredit: `rc_${i}`,
      amount: 15_000 + i,
      status: 'posted',
      createdMs: T0,
    });
    const over =
      i === 5
        ? {
            kind: 'reversal_lost' as const,
            severity: 'critical' as const,
            fingerprint: 'reversal_lost:credrev_5:-',
          }
        : {};
    await persistMismatches(t.rt, [`rc_${i}`], [mm(i, over)], T0 + i * 1_000);
  }
  // A fresh euro one, two hours old: the currency and age filters single it out.
  await insertCreditReversal(t.rt.pool, {
    id: 'credrev_6',
    receivedCredit: 'rc_6',
    amount: 350,
    currency: 'eur',
    status: 'posted',
    createdMs: Date.now() - 2 * 3_600_000,
  });
  await persistMismatches(
    t.rt,
    ['rc_6'],
    [mm(6, { currency: 'eur', amountAtRisk: 350, severity: 'medium' })],
    Date.now(),
  );
  // Processing for 9 days, found stuck just now: first seen 9 days ago, open since now.
  await insertCreditReversal(t.rt.pool, {
    id: 'credrev_7',
    receivedCredit: 'rc_7',
    amount: 30_400,
    status: 'processing',
    createdMs: T0,
  });
  await persistMismatches(
    t.rt,
    ['rc_7'],
    [
      mm(7, {
        kind: 'stuck_processing',
        fingerprint: 'stuck_processing:credrev_7:-',
        severity: 'medium',
        amountAtRisk: 30_400,
        message: 'Credit reversal credrev_7 for $304.00 has been processing for 9 days.',
      }),
    ],
    Date.now(),
  );
  await createReport(t.rt.prisma);
  app = await buildApp(t.rt);
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await t?.close();
});

describe('console', () => {
  it('serves static files without data and without a token', async () => {
    const r = await app.inject({ method: 'GET', url: '/console' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(r.body).not.toMatch(/credrev_|acct_/);
    expect((await app.inject({ method: 'GET', url: '/console/console.js' })).statusCode).toBe(200);
  });

  it('sign in → filter → open a mismatch → acknowledge → it leaves the open list', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${base}/console`);

    await page.getByLabel('Operator token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
    await page.getByLabel('Operator token').fill(TEST_OPERATOR_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Mismatches' }).waitFor();
    expect(await page.locator('tbody tr').count()).toBe(8);
    // One money style, the server's: symbol and grouping, whatever the currency.
    await page.getByRole('cell', { name: '€3.50' }).waitFor();
    await page.getByRole('cell', { name: '$150.05' }).waitFor();
    await page.screenshot({ path: new URL('console-list.png', OUT).pathname, fullPage: true });

    // Currency, then age (first seen at least 7 days ago), then kind.
    await page.getByLabel('Currency', { exact: true }).fill('EUR');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('Currency', { exact: true }).fill('');
    await page.getByLabel(/^Age/).selectOption('7d');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(7);
    await page.getByLabel(/^Kind/).selectOption('reversal_lost');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    expect(page.url()).toMatch(/min_age=7d/);

    await page.getByRole('link', { name: 'reversal_lost' }).click();
    await page.getByRole('heading', { name: /reversal_lost/ }).waitFor();
    // Data is text, never markup.
    await page.getByText('no matching ledger entry <b>5</b>.').first().waitFor();
    await page.getByText('$150.05').first().waitFor();
    // The object in Stripe's dashboard, under its account, in test mode as the object says.
    expect(
      await page.getByRole('link', { name: /Open in Stripe \(test mode\)/ }).getAttribute('href'),
    ).toBe('https://dashboard.stripe.com/acct_1Odd/test/search?query=credrev_5');
    await page.screenshot({ path: new URL('console-mismatch.png', OUT).pathname, fullPage: true });

    await page.getByLabel(/^Note/).fill('Confirmed with the bank; written off in FIN-42.');
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByRole('button', { name: 'Un-acknowledge' }).waitFor();
    await page.getByText(/Acknowledged by operator: Confirmed with the bank/).waitFor();
    await page.screenshot({
      path: new URL('console-acknowledged.png', OUT).pathname,
      fullPage: true,
    });

    // Back to the open list (open and not acknowledged by default): it is gone.
    await page.getByRole('link', { name: '← All mismatches' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(7);
    expect(await page.getByRole('link', { name: 'reversal_lost' }).count()).toBe(0);

    // Stuck for 9 days, raised just now: both times, and the age of the message.
    await page.getByRole('link', { name: 'stuck_processing' }).click();
    await page.getByText('processing for 9 days').waitFor();
    await page.getByText('First seen').waitFor();
    await page.getByText(/\(9 d ago\)/).waitFor();
    await page.getByText('Open since').waitFor();
    await page.getByText(/\(0 min ago\)/).waitFor();
    await page.getByRole('link', { name: '← All mismatches' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(7);

    // The token never reached a URL, and nothing was fetched from elsewhere.
    expect(requests.every((u) => u.startsWith(base))).toBe(true);
    expect(requests.some((u) => u.includes(TEST_OPERATOR_TOKEN))).toBe(false);
    expect(await page.evaluate('sessionStorage.length')).toBe(1);
    await page.close();
  });

  it('the same on a phone: sign in → filter → open → acknowledge → it leaves the list', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    const shot = (name: string) =>
      page.screenshot({ path: new URL(name, OUT).pathname, fullPage: true });
    await page.goto(`${base}/console`);
    await page.getByLabel('Operator token').fill(TEST_OPERATOR_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Mismatches' }).waitFor();
    const before = await page.locator('tbody tr').count();
    await shot('console-phone.png');
    // Nothing wider than the screen but the table, which scrolls in its own box.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

    await page.getByLabel('Currency', { exact: true }).fill('eur');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await page.getByRole('link', { name: 'missing_in_ledger' }).click();
    await page.getByRole('heading', { name: /missing_in_ledger/ }).waitFor();
    await shot('console-phone-mismatch.png');
    await page.getByLabel(/^Note/).fill('Test payment in EUR, refunded by hand.');
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByRole('button', { name: 'Un-acknowledge' }).waitFor();
    await shot('console-phone-acknowledged.png');
    await page.getByRole('link', { name: '← All mismatches' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(before - 1);
    expect(await page.getByRole('cell', { name: '€3.50' }).count()).toBe(0);
    await page.close();
  });
});
