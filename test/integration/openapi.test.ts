import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { openApiDocument, registeredRoutes } from '../../src/api/openapi.js';
import { persistMismatches } from '../../src/reconciliation/persist.js';
import { createReport } from '../../src/reports/store.js';
import {
  AUTH,
  createTestRuntime,
  insertTransfer,
  insertTransferReversal,
} from '../unit/ledger/support.js';

type Doc = {
  paths: Record<
    string,
    Record<
      string,
      { responses: Record<string, { content?: { 'application/json': { schema: object } } }> }
    >
  >;
};
const committed = JSON.parse(
  readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'),
) as Doc;

let t: Awaited<ReturnType<typeof createTestRuntime>>;
let app: FastifyInstance;
let mmId: string;

beforeAll(async () => {
  t = await createTestRuntime();
  app = await buildApp(t.rt);
  await insertTransfer(t.rt.pool, {
    id: 'tr_1',
    amount: 1_000,
    amountReversed: 500,
    createdMs: Date.UTC(2026, 10, 20),
  });
  await insertTransferReversal(t.rt.pool, {
    id: 'trr_1',
    transfer: 'tr_1',
    amount: 500,
    createdMs: Date.UTC(2026, 10, 20),
  });
  // The helper writes an empty snapshot; a projected one always has Stripe's id and object.
  await t.rt.pool.query(
    `UPDATE transfer_reversals SET raw = jsonb_build_object('id', id, 'object', 'transfer_reversal', 'amount', amount)`,
  );
  await t.rt.pool.query(
    `UPDATE transfers SET raw = jsonb_build_object('id', id, 'object', 'transfer', 'amount', amount)`,
  );
  await persistMismatches(
    t.rt,
    ['tr_1'],
    [
      {
        unitKey: 'tr_1',
        fingerprint: 'missing_in_ledger:trr_1:-',
        kind: 'missing_in_ledger',
        severity: 'high',
        objectType: 'transfer_reversal',
        objectId: 'trr_1',
        ledgerEntryId: null,
        account: null,
        currency: 'usd',
        amountAtRisk: 500,
        expected: null,
        actual: { amount: 500 },
        message: 'Transfer reversal trr_1 has no matching ledger entry.',
      },
    ],
    Date.UTC(2026, 10, 20),
  );
  await createReport(t.rt.prisma);
  mmId = (await t.rt.pool.query<{ id: string }>('SELECT id FROM mismatches')).rows[0]!.id;
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

const toOpenApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

describe('OpenAPI document', () => {
  it('docs/openapi.json is what the code generates (scripts/write-openapi.ts)', async () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    const served = await app.inject({ method: 'GET', url: '/api/openapi.json', headers: AUTH });
    expect(served.json()).toEqual(committed);
  });

  it('describes every /api route the app registers', async () => {
    await app.ready();
    const routes = registeredRoutes(app).filter(
      (r) => r.url.startsWith('/api/') && r.method !== 'HEAD',
    );
    expect(routes.length).toBeGreaterThan(10);
    const missing = routes.filter(
      (r) => !committed.paths[toOpenApiPath(r.url)]?.[r.method.toLowerCase()],
    );
    expect(missing).toEqual([]);
  });

  it('every route answers what its schema allows', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const reportId = (await t.rt.pool.query<{ id: string }>('SELECT id FROM reports')).rows[0]!.id;
    const calls: Array<[string, string, string | (() => string), unknown?]> = [
      ['get', '/api/mismatches', '/api/mismatches?status=open'],
      ['get', '/api/mismatches/{id}', `/api/mismatches/${mmId}`],
      [
        'post',
        '/api/mismatches/{id}/acknowledge',
        `/api/mismatches/${mmId}/acknowledge`,
        { note: 'ok' },
      ],
      ['post', '/api/mismatches/{id}/unacknowledge', `/api/mismatches/${mmId}/unacknowledge`, {}],
      ['get', '/api/reversals', '/api/reversals'],
      ['get', '/api/reversals/{id}', '/api/reversals/trr_1'],
      [
        'post',
        '/api/ledger/entries',
        '/api/ledger/entries',
        {
          entries: [
            {
              id: 'le_1',
              kind: 'transfer_reversal',
              stripe_id: 'trr_1',
              amount: 500,
              currency: 'usd',
            },
          ],
        },
      ],
      ['get', '/api/ledger/entries', '/api/ledger/entries'],
      ['get', '/api/ledger/entries/{id}', '/api/ledger/entries/le_1'],
      ['get', '/api/transfers/{id}', '/api/transfers/tr_1'],
      ['get', '/api/reports', '/api/reports'],
      ['get', '/api/reports/latest', '/api/reports/latest'],
      ['get', '/api/reports/{id}', `/api/reports/${reportId}?format=json`],
      ['post', '/api/reconcile', '/api/reconcile', {}],
      ['get', '/api/reconcile/runs', '/api/reconcile/runs'],
      ['get', '/api/reconcile/runs/{id}', () => `/api/reconcile/runs/${runId}`],
      ['get', '/api/openapi.json', '/api/openapi.json'],
      ['get', '/api/mismatches', '/api/mismatches?currency=USD&min_age=1d&max_age=3650d'],
      ['get', '/api/mismatches/{id}', '/api/mismatches/mm_000000000000000000000000'],
      ['get', '/api/reversals', '/api/reversals?limit=0'],
      ['get', '/api/mismatches', '/api/mismatches?min_age=soon'],
    ];
    const answered = new Set<string>();
    let runId = '';
    for (const [method, path, target, payload] of calls) {
      const url = typeof target === 'function' ? target() : target;
      const r = await app.inject({
        method: method.toUpperCase() as 'GET',
        url,
        headers: AUTH,
        payload: payload as object,
      });
      const responses = committed.paths[path]![method]!.responses;
      const key = r.statusCode < 300 ? String(r.statusCode) : `${String(r.statusCode)[0]}XX`;
      expect(responses[key], `${method} ${url} answered ${r.statusCode}`).toBeDefined();
      const validate = ajv.compile(responses[key]!.content!['application/json'].schema);
      const ok = validate(r.json());
      expect(validate.errors ?? [], `${method} ${url}`).toEqual([]);
      expect(ok).toBe(true);
      if (r.statusCode < 300) answered.add(`${method} ${path}`);
      if (path === '/api/reconcile') runId = (r.json() as { id: string }).id;
    }
    // Every documented operation was called and answered 2xx, so none goes unchecked.
    const documented = Object.entries(committed.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    );
    expect(documented.filter((op) => !answered.has(op))).toEqual([]);
  });

  it('the check bites: a response the schema does not allow fails validation', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const schemaOf = (path: string) =>
      committed.paths[path]!.get!.responses['200']!.content!['application/json'].schema;
    const list = (
      await app.inject({ method: 'GET', url: '/api/mismatches', headers: AUTH })
    ).json() as { data: Record<string, unknown>[] };
    const validList = ajv.compile(schemaOf('/api/mismatches'));
    expect(validList(list)).toBe(true);
    expect(validList({ ...list, data: [{ ...list.data[0], amount_at_risk: '5.00' }] })).toBe(false);
    expect(validList({ ...list, has_more: undefined })).toBe(false);
    const report = (
      await app.inject({ method: 'GET', url: '/api/reports/latest', headers: AUTH })
    ).json() as Record<string, unknown>;
    const validReport = ajv.compile(schemaOf('/api/reports/latest'));
    expect(validReport(report)).toBe(true);
    expect(validReport({ ...report, totals: { open: -1 } })).toBe(false);
  });
});
