import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Prisma, rawRows } from '../db/prisma.js';
import { MISMATCH_KINDS, SEVERITIES } from '../domain/types.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { parseDuration } from '../domain/duration.js';
import {
  MISMATCH_COLUMNS,
  MISMATCH_ID,
  OBJECT_FIRST_SEEN_SQL,
  toApiMismatch,
  type MismatchRow,
} from '../reconciliation/mismatch-record.js';
import { acknowledgeMismatch, unacknowledgeMismatch } from '../reconciliation/persist.js';
import { reversalExtras } from '../reconciliation/reversal-extras.js';
import { registerReversalExtras } from './reversals.js';
import type { Runtime } from '../runtime.js';
import { invalidInput } from './validation.js';

/**
 * Operator API for mismatches. Lists are Stripe-shaped (`{object: 'list', url, data, has_more}`),
 * newest first: ids are `mm_<creation time><random>`, so ordering by id is ordering by first
 * detection and a cursor (`starting_after` / `ending_before`) is stable while rows are added.
 */

const cursor = z.string().regex(MISMATCH_ID, 'must be a mismatch id (mm_…)');
/** An age as config writes durations (`36h`, `7d`), in ms. */
const age = z
  .string()
  .regex(/^\d{1,6}(s|m|h|d)$/, 'must be a duration such as 90m, 36h or 7d')
  .transform(parseDuration);
const AGE_NOTE =
  'age runs from when the object was first seen (its created in Stripe, or the ledger entry time when Stripe has none), as the console and the reports show it';
export const ListQuery = z
  .strictObject(
    {
      status: z.enum(['open', 'resolved']).optional(),
      kind: z.enum(MISMATCH_KINDS).optional(),
      severity: z.enum(SEVERITIES).optional(),
      object_id: z.string().min(1).max(255).optional(),
      account: z.string().min(1).max(255).optional(),
      /** ISO code, any case (`usd`, `EUR`). */
      currency: z
        .string()
        .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO currency code')
        .transform((c) => c.toLowerCase())
        .optional()
        .describe('three-letter ISO currency code, any case'),
      /** First seen (the object's own time, see OBJECT_FIRST_SEEN_SQL) at least this long ago. */
      min_age: age.optional().describe(`at least this old, e.g. 7d; ${AGE_NOTE}`),
      /** First seen less than this long ago. */
      max_age: age.optional().describe(`younger than this, e.g. 36h; ${AGE_NOTE}`),
      /** `false`: still needs someone (the console's open list); `true`: silenced. */
      acknowledged: z.enum(['true', 'false']).optional(),
      limit: z.coerce.number().int().min(1).max(100).default(10),
      starting_after: cursor.optional(),
      ending_before: cursor.optional(),
    },
    { error: (iss) => (iss.code === 'unrecognized_keys' ? 'unknown parameter' : undefined) },
  )
  .refine((q) => !(q.starting_after && q.ending_before), {
    message: 'use starting_after or ending_before, not both',
    path: ['ending_before'],
  });

/** Postgres text cannot hold NUL; other control characters (but tab and line breaks) are noise. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point.
const NO_CONTROL = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/;
const note = z
  .string()
  .trim()
  .max(2_000, 'must be at most 2000 characters')
  .regex(NO_CONTROL, 'must not contain control characters such as \\u0000');
export const AckBody = z.strictObject({ note: note.min(1, 'is required') });
/** Un-acknowledging says why when it can, but a note is not required. */
export const UnackBody = z.strictObject({ note: note.optional() });

/**
 * The operator who made the request: the name of the matched token (set by the auth hook once
 * tokens have names), or "operator" for the single OPERATOR_TOKEN.
 */
export function operatorName(req: FastifyRequest): string {
  const op = (req as FastifyRequest & { operator?: { name?: unknown } | null }).operator;
  return typeof op?.name === 'string' && op.name ? op.name : 'operator';
}

export async function registerMismatchRoutes(
  app: FastifyInstance,
  rt: Pick<Runtime, 'prisma'>,
): Promise<void> {
  // GET /api/reversals/:id gains `ledger_entries` (matched) and `mismatches` (open).
  const unregister = registerReversalExtras(async (ctx, r) => ({
    ...(await reversalExtras(r, ctx.id, ctx.parentId)),
  }));
  app.addHook('onClose', async () => unregister());

  app.get('/api/mismatches', async (req) => {
    const parsed = ListQuery.safeParse(req.query ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'query');
    const q = parsed.data;
    const where: Prisma.Sql[] = [];
    const add = (column: string, v: string | undefined) => {
      if (v !== undefined) where.push(Prisma.sql`${Prisma.raw(column)} = ${v}`);
    };
    add('m.status', q.status);
    add('m.kind', q.kind);
    add('m.severity', q.severity);
    add('m.object_id', q.object_id);
    add('m.account', q.account);
    add('m.currency', q.currency);
    // The age the console and the reports show: from when the object was first seen.
    const firstSeen = Prisma.raw(OBJECT_FIRST_SEEN_SQL);
    if (q.min_age !== undefined) {
      where.push(Prisma.sql`${firstSeen} <= now() - make_interval(secs => ${q.min_age / 1000})`);
    }
    if (q.max_age !== undefined) {
      where.push(Prisma.sql`${firstSeen} > now() - make_interval(secs => ${q.max_age / 1000})`);
    }
    if (q.acknowledged) {
      where.push(
        q.acknowledged === 'true'
          ? Prisma.sql`m.acknowledged_at IS NOT NULL`
          : Prisma.sql`m.acknowledged_at IS NULL`,
      );
    }
    // Newest first; ending_before pages backwards (ascending), then flips to keep the order.
    if (q.starting_after) where.push(Prisma.sql`m.id < ${q.starting_after}`);
    if (q.ending_before) where.push(Prisma.sql`m.id > ${q.ending_before}`);
    const order = Prisma.raw(q.ending_before ? 'ASC' : 'DESC');
    const rows = await rawRows<MismatchRow>(
      rt.prisma,
      Prisma.sql`SELECT ${Prisma.raw(MISMATCH_COLUMNS)} FROM mismatches m
        ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
        ORDER BY m.id ${order} LIMIT ${q.limit + 1}`,
    );
    const has_more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    if (q.ending_before) page.reverse();
    return { object: 'list', url: '/api/mismatches', data: page.map(toApiMismatch), has_more };
  });

  app.get<{ Params: { id: string } }>('/api/mismatches/:id', async (req) => {
    return withTrail(rt, await findOne(rt, req.params.id));
  });

  app.post<{ Params: { id: string } }>('/api/mismatches/:id/acknowledge', async (req) => {
    const body = AckBody.safeParse(req.body ?? {});
    if (!body.success) throw invalidInput(body.error, 'body');
    await findOne(rt, req.params.id);
    // A second acknowledge keeps the first and is only recorded in the trail (see
    // acknowledgeMismatch).
    const { note } = body.data;
    await acknowledgeMismatch(rt.prisma, req.params.id, { note, actor: operatorName(req) });
    return withTrail(rt, await findOne(rt, req.params.id));
  });

  app.post<{ Params: { id: string } }>('/api/mismatches/:id/unacknowledge', async (req) => {
    const body = UnackBody.safeParse(req.body ?? {});
    if (!body.success) throw invalidInput(body.error, 'body');
    const row = await findOne(rt, req.params.id);
    if (row.acknowledged_at === null) {
      throw new ValidationError(`mismatch ${row.id} is not acknowledged`, [
        { param: 'id', message: 'is not acknowledged' },
      ]);
    }
    const { note } = body.data;
    await unacknowledgeMismatch(rt.prisma, req.params.id, { note, actor: operatorName(req) });
    return withTrail(rt, await findOne(rt, req.params.id));
  });
}

export interface ApiAcknowledgement {
  object: 'mismatch_acknowledgement';
  action: 'acknowledge' | 'unacknowledge';
  note: string | null;
  by: string;
  created_at: string;
}

/** The mismatch with its acknowledgement trail, oldest first. */
async function withTrail(rt: Pick<Runtime, 'prisma'>, row: MismatchRow) {
  const rows = await rt.prisma.mismatchAcknowledgement.findMany({
    select: { action: true, note: true, actor: true, created_at: true },
    where: { mismatch_id: row.id },
    orderBy: { id: 'asc' },
  });
  const acknowledgements: ApiAcknowledgement[] = rows.map((r) => ({
    object: 'mismatch_acknowledgement',
    action: r.action as ApiAcknowledgement['action'],
    note: r.note,
    by: r.actor,
    created_at: r.created_at.toISOString(),
  }));
  return { ...toApiMismatch(row), acknowledgements };
}

async function findOne(rt: Pick<Runtime, 'prisma'>, id: string): Promise<MismatchRow> {
  const rows = await rawRows<MismatchRow>(
    rt.prisma,
    Prisma.sql`SELECT ${Prisma.raw(MISMATCH_COLUMNS)} FROM mismatches m WHERE m.id = ${id}`,
  );
  if (!rows[0]) throw new NotFoundError(`No such mismatch: '${id}'`);
  return rows[0];
}
