import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Prisma, rawRows } from '../db/prisma.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { invalidInput } from './validation.js';

/**
 * Stripe-shaped lists (`{object: 'list', url, data, has_more}`, newest first, `limit`,
 * `starting_after` / `ending_before`) for reversals, ledger entries and reports. Paging is keyset
 * on (time, id): a cursor is an object id, looked up for its time, so pages stay stable while
 * rows are added.
 */

const ID = z.string().regex(/^[A-Za-z0-9_.:-]{1,255}$/, 'must be an id');
const unixTime = z.coerce.number().int().min(0).max(253_402_300_799);

const paging = {
  limit: z.coerce.number().int().min(1).max(100).default(10),
  starting_after: ID.optional(),
  ending_before: ID.optional(),
};
const opts = {
  error: (iss: { code?: string }) =>
    iss.code === 'unrecognized_keys' ? 'unknown parameter' : undefined,
};

const REVERSAL_KINDS = ['transfer_reversal', 'credit_reversal', 'debit_reversal'] as const;

export const ReversalListQuery = z.strictObject(
  {
    kind: z.enum(REVERSAL_KINDS).optional(),
    status: z.string().min(1).max(64).optional(),
    account: z.string().min(1).max(255).optional(),
    'created[gte]': unixTime.optional(),
    'created[lt]': unixTime.optional(),
    ...paging,
  },
  opts,
);
export const LedgerListQuery = z.strictObject(
  {
    kind: z.string().min(1).max(64).optional(),
    stripe_id: z.string().min(1).max(255).optional(),
    account: z.string().min(1).max(255).optional(),
    ...paging,
  },
  opts,
);
export const ReportListQuery = z.strictObject({ ...paging }, opts);

function parse<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const q = schema.safeParse(query ?? {});
  if (!q.success) throw invalidInput(q.error, 'query');
  const v = q.data as { starting_after?: string; ending_before?: string };
  if (v.starting_after && v.ending_before) {
    throw new ValidationError('use starting_after or ending_before, not both', [
      { param: 'ending_before', message: 'use starting_after or ending_before, not both' },
    ]);
  }
  return q.data;
}

/**
 * Runs `SELECT * FROM (<source>) s` with the filters (null: not given) and keyset paging over
 * (`sort`, `id`). `source` must expose `id` and `sort`.
 */
async function page<R extends { id: string }>(
  rt: Pick<Runtime, 'prisma'>,
  source: Prisma.Sql,
  filters: Array<Prisma.Sql | null>,
  q: { limit: number; starting_after?: string; ending_before?: string },
): Promise<{ data: R[]; has_more: boolean }> {
  const where = filters.filter((f): f is Prisma.Sql => f !== null);
  const cursor = q.starting_after ?? q.ending_before;
  if (cursor) {
    const found = await rt.prisma.$queryRaw<unknown[]>`
      SELECT 1 FROM (${source}) s WHERE id = ${cursor}`;
    if (!found[0]) {
      const param = q.starting_after ? 'starting_after' : 'ending_before';
      throw new ValidationError(`invalid ${param}: no such object '${cursor}'`, [
        { param, message: 'no such object' },
      ]);
    }
    const op = Prisma.raw(q.starting_after ? '<' : '>');
    where.push(
      Prisma.sql`(s.sort, s.id COLLATE "C") ${op} (SELECT sort, id COLLATE "C" FROM (${source}) x WHERE id = ${cursor})`,
    );
  }
  const dir = Prisma.raw(q.ending_before ? 'ASC' : 'DESC');
  const rows = await rawRows<R>(
    rt.prisma,
    Prisma.sql`SELECT * FROM (${source}) s
      ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
      ORDER BY s.sort ${dir}, s.id COLLATE "C" ${dir} LIMIT ${q.limit + 1}`,
  );
  const has_more = rows.length > q.limit;
  const data = rows.slice(0, q.limit);
  if (q.ending_before) data.reverse();
  return { data, has_more };
}

const REVERSALS = Prisma.sql`
  SELECT id, 'transfer_reversal' AS kind, account, status, created AS sort, raw FROM transfer_reversals
  UNION ALL
  SELECT id, 'credit_reversal', account, status, created, raw FROM credit_reversals
  UNION ALL
  SELECT id, 'debit_reversal', account, status, created, raw FROM debit_reversals`;

const LEDGER = Prisma.sql`SELECT *, created_at AS sort FROM ledger_entries`;
const REPORTS = Prisma.sql`SELECT id, sweep_run_id, created_at, body->'totals' AS totals, created_at AS sort FROM reports`;

/** `column = value` when the value was given. */
const eq = (column: string, v: string | undefined) =>
  v === undefined ? null : Prisma.sql`${Prisma.raw(column)} = ${v}`;
/** The platform's own objects have no account; "platform" names them, as elsewhere. */
const accountIs = (v: string | undefined) =>
  v === undefined ? null : v === 'platform' ? Prisma.sql`account IS NULL` : eq('account', v);

interface LedgerRow {
  id: string;
  kind: string;
  stripe_id: string | null;
  parent_id: string | null;
  amount: string | number | bigint;
  currency: string;
  expected_status: string | null;
  expected_status_raw: string | null;
  account: string | null;
  occurred_at: Date | null;
  metadata: Record<string, unknown>;
  source: string;
  created_at: Date;
  updated_at: Date;
}

export function toApiLedgerEntry(r: LedgerRow) {
  return {
    id: r.id,
    object: 'ledger_entry' as const,
    kind: r.kind,
    stripe_id: r.stripe_id,
    parent_id: r.parent_id,
    amount: Number(r.amount),
    currency: r.currency,
    expected_status: r.expected_status,
    expected_status_raw: r.expected_status_raw,
    account: r.account,
    occurred_at: r.occurred_at?.toISOString() ?? null,
    metadata: r.metadata,
    source: r.source,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

export async function registerListRoutes(
  app: FastifyInstance,
  rt: Pick<Runtime, 'prisma'>,
): Promise<void> {
  app.get('/api/reversals', async (req) => {
    const q = parse(ReversalListQuery, req.query);
    const { data, has_more } = await page<{
      id: string;
      kind: string;
      account: string | null;
      status: string;
      raw: Record<string, unknown>;
    }>(
      rt,
      REVERSALS,
      [
        eq('kind', q.kind),
        eq('status', q.status),
        accountIs(q.account),
        q['created[gte]'] === undefined ? null : Prisma.sql`sort >= ${q['created[gte]']}`,
        q['created[lt]'] === undefined ? null : Prisma.sql`sort < ${q['created[lt]']}`,
      ],
      q,
    );
    return {
      object: 'list',
      url: '/api/reversals',
      data: data.map((r) => ({
        ...r.raw,
        id: r.id,
        kind: r.kind,
        account: r.account,
        normalized_status: r.status,
      })),
      has_more,
    };
  });

  app.get('/api/ledger/entries', async (req) => {
    const q = parse(LedgerListQuery, req.query);
    const { data, has_more } = await page<LedgerRow>(
      rt,
      LEDGER,
      [eq('kind', q.kind), eq('stripe_id', q.stripe_id), accountIs(q.account)],
      q,
    );
    return {
      object: 'list',
      url: '/api/ledger/entries',
      data: data.map(toApiLedgerEntry),
      has_more,
    };
  });

  app.get<{ Params: { id: string } }>('/api/ledger/entries/:id', async (req) => {
    const row = await rt.prisma.ledgerEntry.findUnique({ where: { id: req.params.id } });
    if (!row) throw new NotFoundError(`No such ledger entry: '${req.params.id.slice(0, 255)}'`);
    return toApiLedgerEntry(row as LedgerRow);
  });

  app.get('/api/reports', async (req) => {
    const q = parse(ReportListQuery, req.query);
    const { data, has_more } = await page<{
      id: string;
      sweep_run_id: string | null;
      created_at: Date;
      totals: Record<string, number> | null;
    }>(rt, REPORTS, [], q);
    return {
      object: 'list',
      url: '/api/reports',
      data: data.map((r) => ({
        id: r.id,
        object: 'report',
        created_at: r.created_at.toISOString(),
        sweep_run_id: r.sweep_run_id,
        totals: r.totals,
      })),
      has_more,
    };
  });
}
