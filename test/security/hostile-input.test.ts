import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { ReconError } from '../../src/errors.js';
import { importLedgerCsv } from '../../src/ledger/csv-import.js';
import { startEventWorker, type EventWorker } from '../../src/projections/worker.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import {
  TEST_OPERATOR_TOKEN,
  TEST_WEBHOOK_SECRET,
  captureLog,
  injectEvent,
  makeEvent,
  signedRequest,
  stripeId,
  testConfig,
} from '../support/events.js';
import { transfer } from '../support/projection-objects.js';

/**
 * Hostile bytes against the real server: every one gets a 4xx in Stripe's error shape (or, for
 * what Stripe itself sends, is stored and projected without a crash) and writes nothing it
 * should not. Ends with a bounded property-based fuzz.
 */

let db: TestDatabase;
let rt: Runtime;
let app: FastifyInstance;
let worker: EventWorker;
const AUTH = { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` };

beforeAll(async () => {
  db = await createTestDatabase();
  rt = createRuntime(
    testConfig({ DATABASE_URL: db.url, JOB_ATTEMPTS: '1' }),
    captureLog('silent').log,
  );
  app = await buildApp(rt);
  worker = startEventWorker(rt, { concurrency: 50, stripe: null });
});
afterAll(async () => {
  await worker?.close();
  await app?.close();
  await rt?.close();
  await db?.close();
});

const count = async (table: string) =>
  Number((await db.pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

/** JSON text nested n deep (built as text: JSON.stringify itself would overflow the stack). */
const DEEP = (n: number) => `${'{"a":'.repeat(n)}"bottom"${'}'.repeat(n)}`;
const DEEP_MARK = '"__deep__"';

const entry = (over: Record<string, unknown>) => ({
  id: `le_${stripeId('x')}`,
  kind: 'transfer_reversal',
  stripe_id: 'trr_hostile1',
  parent_id: 'tr_hostile1',
  amount: 1100,
  currency: 'usd',
  ...over,
});

describe('operator input Postgres could not store is a 400, and nothing is written', () => {
  it.each([
    ['NUL in a metadata value', { metadata: { note: 'a\u0000b' } }, /NUL/],
    ['NUL in a metadata key', { metadata: { 'k\u0000': 'v' } }, /NUL/],
    ['metadata nested 5,000 deep', { metadata: '__deep__' }, /deeper/],
    ['an impossible date', { occurred_at: '2026-02-30' }, /ISO-8601/],
    ['an impossible date-time', { occurred_at: '2026-04-31T10:00:00Z' }, /ISO-8601/],
  ])('%s', async (_, over, why) => {
    const before = await count('ledger_entries');
    const r = await app.inject({
      method: 'POST',
      url: '/api/ledger/entries',
      payload: JSON.stringify({ entries: [entry(over)] }).replace(DEEP_MARK, DEEP(5_000)),
      headers: { ...AUTH, 'content-type': 'application/json' },
    });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().error.type).toBe('invalid_request_error');
    expect(r.body).toMatch(why);
    expect(await count('ledger_entries')).toBe(before);
  });

  it.each([[{ since: 9_999_999_999_999 }], [{ since: '2026-13-01T00:00:00Z' }], [{ since: -1 }]])(
    'POST /api/reconcile %j',
    async (payload) => {
      const r = await app.inject({ method: 'POST', url: '/api/reconcile', headers: AUTH, payload });
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json().error.type).toBe('invalid_request_error');
      expect(await count('sweep_runs')).toBe(0);
    },
  );
});

describe('what Stripe sends is kept, even what Postgres cannot store as is', () => {
  it('NUL in a description and in metadata: 200, projected with U+FFFD, raw event kept verbatim', async () => {
    const id = stripeId('tr');
    const ev = makeEvent(
      'transfer.created',
      transfer({ id, description: 'pay\u0000out', metadata: { ref: 'x\u0000y' } }),
    );
    const res = await injectEvent(app, ev);
    expect(res.statusCode).toBe(200);
    await waitFor(
      async () =>
        (await db.pool.query('SELECT status FROM stripe_events WHERE id = $1', [ev.id])).rows[0]
          ?.status === 'processed',
      { what: 'processed' },
    );
    const { rows } = await db.pool.query(
      'SELECT description, metadata FROM transfers WHERE id = $1',
      [id],
    );
    expect(rows[0]).toEqual({ description: 'pay\uFFFDout', metadata: { ref: 'x\uFFFDy' } });
    const raw = await db.pool.query('SELECT payload FROM stripe_events WHERE id = $1', [ev.id]);
    expect(raw.rows[0].payload).toContain('pay\\u0000out');
  });

  it('metadata nested 5,000 deep: projected, cut to a marker, no crash', async () => {
    const id = stripeId('tr');
    const ev = makeEvent('transfer.created', transfer({ id, metadata: { deep: '__deep__' } }));
    const text = JSON.stringify(ev).replace(DEEP_MARK, DEEP(5_000));
    expect((await injectEvent(app, text)).statusCode).toBe(200);
    await waitFor(
      async () =>
        (await db.pool.query('SELECT 1 FROM transfers WHERE id = $1', [id])).rowCount === 1,
      { what: 'projected' },
    );
  });

  it('a negative amount is an invalid object: dead-lettered, never projected, no over_reversed', async () => {
    const id = stripeId('tr');
    const ev = makeEvent('transfer.created', transfer({ id, amount: -5_000 }));
    expect((await injectEvent(app, ev)).statusCode).toBe(200);
    await waitFor(
      async () =>
        (await db.pool.query('SELECT status FROM stripe_events WHERE id = $1', [ev.id])).rows[0]
          ?.status === 'failed',
      { what: 'failed' },
    );
    expect((await db.pool.query('SELECT 1 FROM transfers WHERE id = $1', [id])).rowCount).toBe(0);
    expect(await count("mismatches WHERE kind = 'over_reversed'")).toBe(0);
  });
});

describe('the webhook signature covers the exact bytes', () => {
  it('bytes that are not UTF-8, correctly signed over those bytes: 400, nothing stored', async () => {
    const ev = makeEvent('transfer.created', transfer({ id: stripeId('tr') }));
    const text = JSON.stringify(ev).replace('"transfer.created"', '"transfer.created\u00ff"');
    // Latin-1 encoding: 0xFF alone is not UTF-8.
    const bytes = Buffer.from(text, 'latin1');
    const t = Math.floor(Date.now() / 1000);
    const sig = createHmac('sha256', TEST_WEBHOOK_SECRET)
      .update(Buffer.concat([Buffer.from(`${t}.`), bytes]))
      .digest('hex');
    const before = await count('stripe_events');
    const r = await app.inject({
      method: 'POST',
      url: '/webhooks/stripe',
      payload: bytes,
      headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${sig}` },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.type).toBe('invalid_request_error');
    expect(await count('stripe_events')).toBe(before);
  });
});

describe('ledger import is all-or-nothing', () => {
  it('a row Postgres refuses after validation rolls back the whole file (one-line error)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recon-import-'));
    const file = join(dir, 'ledger.csv');
    const lines = ['id,kind,stripe_id,parent_id,amount,currency'];
    for (let i = 0; i < 2_500; i++)
      lines.push(`le_bulk_${i},transfer_reversal,trr_bulk${i},tr_bulk${i},${1_000 + i},usd`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    // Postgres refuses one late row (as it would a value validation did not foresee).
    await db.pool.query(`
      CREATE OR REPLACE FUNCTION refuse_bulk() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = 'le_bulk_2400' THEN RAISE EXCEPTION 'refused %', NEW.id USING ERRCODE = '22021'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_bulk BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION refuse_bulk();`);
    try {
      const before = await count('ledger_entries');
      const err = await importLedgerCsv(rt, file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReconError);
      expect((err as Error).message).toMatch(/nothing was written: refused le_bulk_2400/);
      expect((err as Error).message).not.toContain('\n');
      expect(await count('ledger_entries')).toBe(before);
      const missing = await importLedgerCsv(rt, join(dir, 'nope.csv')).catch((e: unknown) => e);
      expect((missing as Error).message).toMatch(/cannot read .*nope\.csv: no such file/);
    } finally {
      await db.pool.query('DROP TRIGGER refuse_bulk ON ledger_entries');
    }
  });
});

describe('fuzz (bounded): signed-but-mutated webhook bodies and token-less operator calls', () => {
  it('never answers 5xx, never a token-less 2xx on an operator route, and stays ready', async () => {
    const base = JSON.stringify(makeEvent('transfer.created', transfer({ id: 'tr_fuzz_base' })));
    const mutated = fc
      .tuple(fc.nat({ max: base.length }), fc.nat({ max: 20 }), fc.string({ maxLength: 20 }))
      .map(([at, cut, insert]) => base.slice(0, at) + insert + base.slice(at + cut));
    await fc.assert(
      fc.asyncProperty(mutated, async (payload) => {
        const { headers } = signedRequest(payload);
        const r = await app.inject({ method: 'POST', url: '/webhooks/stripe', payload, headers });
        expect(r.statusCode).toBeLessThan(500);
      }),
      { numRuns: 1_500 },
    );
    const methods = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS');
    const segment = fc.oneof(
      fc.constantFrom(
        'api',
        '%61pi',
        'API',
        '..',
        '.',
        '',
        'mismatches',
        'ledger',
        'entries',
        'reports',
        'latest',
        'reconcile',
        'acknowledge',
        'mm_1',
        '%2F',
        ';x',
        'webhooks',
        'stripe',
        'healthz',
        'metrics',
        'readyz',
      ),
      fc.string({ maxLength: 8 }).map(encodeURIComponent),
    );
    const path = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`);
    await fc.assert(
      fc.asyncProperty(methods, path, async (method, url) => {
        const r = await app.inject({
          method: method as 'GET',
          url,
          payload: method === 'GET' || method === 'HEAD' ? undefined : '{}',
          headers: { 'content-type': 'application/json' },
        });
        expect(r.statusCode).toBeLessThan(500);
        if (r.statusCode < 300) {
          // Only the public routes answer without a token; the router may have normalised the
          // path, so the answer itself is checked: health JSON or Prometheus text, never data.
          let body: Record<string, unknown> | null = null;
          try {
            body = JSON.parse(r.body) as Record<string, unknown>;
          } catch {
            body = null;
          }
          const publicAnswer =
            method === 'HEAD' ||
            String(r.headers['content-type']).startsWith('text/plain') ||
            (body !== null &&
              (body.status === 'ok' || body.status === 'unavailable') &&
              !('data' in body));
          expect(publicAnswer, `${method} ${url} → ${r.statusCode} ${r.body.slice(0, 80)}`).toBe(
            true,
          );
        }
      }),
      { numRuns: 2_000 },
    );
    expect((await app.inject('/readyz')).statusCode).toBe(200);
  }, 120_000);
});
