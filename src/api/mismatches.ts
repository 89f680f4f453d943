import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hasNul } from '../domain/storable.js';
import { MISMATCH_KINDS, SEVERITIES } from '../domain/types.js';
import { inTransaction } from '../db/pool.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { MISMATCH_ID, toApiMismatch, type MismatchRow } from '../reconciliation/mismatch-record.js';
import { reversalExtras } from '../reconciliation/reversal-extras.js';
import { registerReversalExtras } from './reversals.js';
import type { Runtime } from '../runtime.js';

/**
 * Operator API for mismatches. Lists are Stripe-shaped (`{object: 'list', url, data, has_more}`),
 * newest first: ids are `mm_<creation time><random>`, so ordering by id is ordering by first
 * detection and a cursor (`starting_after` / `ending_before`) is stable while rows are added.
 */

const cursor = z.string().regex(MISMATCH_ID, 'must be a mismatch id (mm_…)');
const ListQuery = z
  .strictObject(
    {
      status: z.enum(['open', 'resolved']).optional(),
      kind: z.enum(MISMATCH_KINDS).optional(),
      severity: z.enum(SEVERITIES).optional(),
      object_id: z.string().min(1).max(255).optional(),
      account: z.string().min(1).max(255).optional(),
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

const note = z
  .string({ error: 'must be a string' })
  .trim()
  .max(2_000, 'must be at most 2000 characters')
  .refine((n) => !hasNul(n), 'contains a NUL character (\\u0000)');
const AckBody = z.strictObject({ note: note.pipe(z.string().min(1, 'is required')) });
const UnackBody = z.strictObject({ note: note.optional() });

interface AckRow {
  action: 'acknowledge' | 'unacknowledge';
  actor: string;
  note: string | null;
  at: Date;
}

/** The audit trail of one mismatch, oldest first. */
async function acknowledgements(rt: Runtime, id: string) {
  const { rows } = await rt.pool.query<AckRow>(
    `SELECT action, actor, note, at FROM mismatch_acknowledgements
      WHERE mismatch_id = $1 ORDER BY at, id`,
    [id],
  );
  return rows.map((r) => ({ action: r.action, by: r.actor, note: r.note, at: r.at.toISOString() }));
}

function invalid(error: z.ZodError, what: string): ValidationError {
  const details = error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ param: k, message: 'unknown parameter' }))
      : [{ param: i.path.join('.') || what, message: i.message }],
  );
  const first = details[0];
  return new ValidationError(
    first ? `invalid ${first.param}: ${first.message}` : `invalid ${what}`,
    details,
  );
}

export async function registerMismatchRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  // GET /api/reversals/:id gains `ledger_entries` (matched) and `mismatches` (open).
  const unregister = registerReversalExtras(async (ctx, r) => ({
    ...(await reversalExtras(r, ctx.id, ctx.parentId)),
  }));
  app.addHook('onClose', async () => unregister());

  app.get('/api/mismatches', async (req) => {
    const parsed = ListQuery.safeParse(req.query ?? {});
    if (!parsed.success) throw invalid(parsed.error, 'query');
    const q = parsed.data;
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      args.push(v);
      where.push(sql.replace('?', `$${args.length}`));
    };
    if (q.status) add('status = ?', q.status);
    if (q.kind) add('kind = ?', q.kind);
    if (q.severity) add('severity = ?', q.severity);
    if (q.object_id) add('object_id = ?', q.object_id);
    if (q.account) add('account = ?', q.account);
    // Newest first; ending_before pages backwards (ascending), then flips to keep the order.
    if (q.starting_after) add('id < ?', q.starting_after);
    if (q.ending_before) add('id > ?', q.ending_before);
    args.push(q.limit + 1);
    const order = q.ending_before ? 'ASC' : 'DESC';
    const { rows } = await rt.pool.query<MismatchRow>(
      `SELECT * FROM mismatches ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id ${order} LIMIT $${args.length}`,
      args,
    );
    const has_more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    if (q.ending_before) page.reverse();
    return { object: 'list', url: '/api/mismatches', data: page.map(toApiMismatch), has_more };
  });

  app.get<{ Params: { id: string } }>('/api/mismatches/:id', async (req) => {
    const m = toApiMismatch(await findOne(rt, req.params.id));
    return { ...m, acknowledgements: await acknowledgements(rt, req.params.id) };
  });

  // Acknowledging silences alerts for this occurrence (a reopened mismatch is a new one and loses
  // its acknowledgement, see persistMismatches). The first acknowledgement stands; every
  // acknowledge and un-acknowledge is recorded with who (the token's name), when and the note.
  const record = async (
    req: { params: { id: string }; operator: { name: string } | null },
    action: AckRow['action'],
    text: string | null,
  ) => {
    await findOne(rt, req.params.id);
    const actor = req.operator?.name ?? 'operator';
    await inTransaction(rt.pool, async (c) => {
      if (action === 'acknowledge')
        await c.query(
          `UPDATE mismatches SET acknowledged_at = COALESCE(acknowledged_at, now()),
                  acknowledged_note = CASE WHEN acknowledged_at IS NULL THEN $2 ELSE acknowledged_note END,
                  acknowledged_by = CASE WHEN acknowledged_at IS NULL THEN $3 ELSE acknowledged_by END,
                  updated_at = now()
            WHERE id = $1`,
          [req.params.id, text, actor],
        );
      else
        await c.query(
          `UPDATE mismatches SET acknowledged_at = NULL, acknowledged_note = NULL,
                  acknowledged_by = NULL, updated_at = now()
            WHERE id = $1`,
          [req.params.id],
        );
      await c.query(
        `INSERT INTO mismatch_acknowledgements (mismatch_id, action, actor, note) VALUES ($1, $2, $3, $4)`,
        [req.params.id, action, actor, text],
      );
    });
    return {
      ...toApiMismatch(await findOne(rt, req.params.id)),
      acknowledgements: await acknowledgements(rt, req.params.id),
    };
  };

  app.post<{ Params: { id: string } }>('/api/mismatches/:id/acknowledge', async (req) => {
    const body = AckBody.safeParse(req.body ?? {});
    if (!body.success) throw invalid(body.error, 'body');
    return record(req, 'acknowledge', body.data.note);
  });

  app.post<{ Params: { id: string } }>('/api/mismatches/:id/unacknowledge', async (req) => {
    const body = UnackBody.safeParse(req.body ?? {});
    if (!body.success) throw invalid(body.error, 'body');
    return record(req, 'unacknowledge', body.data.note ?? null);
  });
}

async function findOne(rt: Runtime, id: string): Promise<MismatchRow> {
  const { rows } = await rt.pool.query<MismatchRow>('SELECT * FROM mismatches WHERE id = $1', [id]);
  if (!rows[0]) throw new NotFoundError(`No such mismatch: '${id}'`);
  return rows[0];
}
