import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { LedgerListQuery, ReportListQuery, ReversalListQuery } from './lists.js';
import { AckBody, ListQuery, UnackBody } from './mismatches.js';
import { ReportBody } from '../reports/schema.js';
import { StartBody } from './reconcile.js';

/**
 * OpenAPI 3.1 for the operator API, built from the zod schemas the routes validate with (the
 * same objects, so the document cannot describe parameters the code does not accept). Served at
 * GET /api/openapi.json and committed as docs/openapi.json; test/integration/openapi.test.ts
 * fails when a registered route is missing here or answers what its response schema forbids.
 */

const Error = z.object({
  error: z.looseObject({ type: z.string(), message: z.string(), code: z.string().optional() }),
});
const Mismatch = z.looseObject({
  id: z.string(),
  object: z.literal('mismatch'),
  kind: z.string(),
  severity: z.string(),
  status: z.enum(['open', 'resolved']),
  account: z.string().nullable(),
  currency: z.string().nullable(),
  amount_at_risk: z.number().int().nullable(),
  /** When the mismatch opened ("open since"). */
  first_seen_at: z.string(),
  /** When the object behind it first appeared ("first seen"): the age the message speaks of. */
  object_first_seen_at: z.string(),
  acknowledged_at: z.string().nullable(),
  acknowledged_note: z.string().nullable(),
});
const Acknowledgement = z.object({
  object: z.literal('mismatch_acknowledgement'),
  action: z.enum(['acknowledge', 'unacknowledge']),
  note: z.string().nullable(),
  by: z.string(),
  created_at: z.string(),
});
const MismatchWithTrail = Mismatch.extend({ acknowledgements: z.array(Acknowledgement) });
const LedgerEntry = z.looseObject({
  id: z.string(),
  object: z.literal('ledger_entry'),
  kind: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  account: z.string().nullable(),
});
const Reversal = z.looseObject({
  id: z.string(),
  object: z.string(),
  normalized_status: z.string(),
});
const ReportSummary = z.object({
  id: z.string(),
  object: z.literal('report'),
  created_at: z.string(),
  sweep_run_id: z.string().nullable(),
  totals: z.record(z.string(), z.number()).nullable(),
});
const SweepRun = z.looseObject({
  id: z.string(),
  object: z.literal('sweep_run'),
  status: z.string(),
  trigger: z.string(),
  account: z.string().nullable(),
  progress: z.record(z.string(), z.number()),
  created_at: z.string().nullable(),
  report_id: z.string().nullable(),
});
const Transfer = z.looseObject({ id: z.string(), amount_reversed: z.number().int() });
const list = <T extends z.ZodType>(item: T) =>
  z.object({
    object: z.literal('list'),
    url: z.string(),
    data: z.array(item),
    has_more: z.boolean(),
  });
const Any = z.looseObject({});

interface Op {
  method: 'get' | 'post';
  path: string;
  summary: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  ok: z.ZodType;
  status?: number;
}

const ID = { in: 'path', name: 'id', required: true, schema: { type: 'string' } };

export const OPERATIONS: Op[] = [
  {
    method: 'get',
    path: '/api/mismatches',
    summary: 'List mismatches',
    query: ListQuery,
    ok: list(Mismatch),
  },
  {
    method: 'get',
    path: '/api/mismatches/{id}',
    summary: 'A mismatch with its trail',
    ok: MismatchWithTrail,
  },
  {
    method: 'post',
    path: '/api/mismatches/{id}/acknowledge',
    summary: 'Acknowledge',
    body: AckBody,
    ok: MismatchWithTrail,
  },
  {
    method: 'post',
    path: '/api/mismatches/{id}/unacknowledge',
    summary: 'Un-acknowledge',
    body: UnackBody,
    ok: MismatchWithTrail,
  },
  {
    method: 'get',
    path: '/api/reversals',
    summary: 'List reversals',
    query: ReversalListQuery,
    ok: list(Any),
  },
  { method: 'get', path: '/api/reversals/{id}', summary: 'A reversal', ok: Reversal },
  {
    method: 'get',
    path: '/api/transfers/{id}',
    summary: 'A transfer and its reversals',
    ok: Transfer,
  },
  {
    method: 'get',
    path: '/api/ledger/entries',
    summary: 'List ledger entries',
    query: LedgerListQuery,
    ok: list(LedgerEntry),
  },
  {
    method: 'post',
    path: '/api/ledger/entries',
    summary: 'Upsert ledger entries (atomic)',
    body: z.object({ entries: z.array(Any) }),
    ok: z.object({ results: z.array(Any) }),
  },
  { method: 'get', path: '/api/ledger/entries/{id}', summary: 'A ledger entry', ok: LedgerEntry },
  {
    method: 'get',
    path: '/api/reports',
    summary: 'List drift reports',
    query: ReportListQuery,
    ok: list(ReportSummary),
  },
  {
    method: 'get',
    path: '/api/reports/latest',
    summary:
      'The latest drift report (?format=json|csv|md|html; the JSON is docs/report.schema.json)',
    ok: ReportBody,
  },
  {
    method: 'get',
    path: '/api/reports/{id}',
    summary: 'A drift report (?format=json|csv|md|html; the JSON is docs/report.schema.json)',
    ok: ReportBody,
  },
  {
    method: 'post',
    path: '/api/reconcile',
    summary: 'Start a sweep',
    body: StartBody,
    ok: SweepRun,
    status: 202,
  },
  { method: 'get', path: '/api/reconcile/runs', summary: 'Recent sweeps', ok: list(SweepRun) },
  { method: 'get', path: '/api/reconcile/runs/{id}', summary: 'A sweep', ok: SweepRun },
  {
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document',
    ok: z.looseObject({ openapi: z.literal('3.1.0'), paths: z.record(z.string(), Any) }),
  },
];

const json = (t: z.ZodType) =>
  z.toJSONSchema(t, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters: unknown[] = op.path.includes('{id}') ? [ID] : [];
    if (op.query) {
      const s = json(op.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(s.properties ?? {})) {
        parameters.push({
          in: 'query',
          name,
          required: s.required?.includes(name) ?? false,
          schema,
        });
      }
    }
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      summary: op.summary,
      security: [{ operatorToken: [] }],
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: json(op.body) } },
            },
          }
        : {}),
      responses: {
        [String(op.status ?? 200)]: {
          description: 'OK',
          content: { 'application/json': { schema: json(op.ok) } },
        },
        '4XX': {
          description: 'Stripe-shaped error',
          content: { 'application/json': { schema: json(Error) } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Stripe reversal reconciliation: operator API', version: '1' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: { securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

const seen = new WeakMap<FastifyInstance, Array<{ method: string; url: string }>>();

/** Every route registered after this, for the coverage test. */
export function registeredRoutes(app: FastifyInstance): Array<{ method: string; url: string }> {
  return seen.get(app) ?? [];
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  const routes: Array<{ method: string; url: string }> = [];
  seen.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) routes.push({ method: String(m), url: r.url });
  });
  const doc = openApiDocument();
  app.get('/api/openapi.json', async () => doc);
}
