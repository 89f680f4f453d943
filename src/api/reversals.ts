import { reversalKindOfId } from '../domain/ids.js';
import type { FastifyInstance } from 'fastify';
import { Prisma, rawRows } from '../db/prisma.js';
import type { ReversalKind } from '../domain/types.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { HISTORY_ORDER_SQL, STATUS_HISTORY_SQL } from '../projections/writers.js';

/**
 * `GET /api/reversals/:id` (trr_/credrev_/debrev_) and `GET /api/transfers/:id`: the projected
 * object in Stripe's own shape (the newest snapshot, `raw`), with our columns laid over it
 * (`account`, `normalized_status`, guarded fields) and its status history.
 */

/** What an extras provider learns about the reversal being served. */
export interface ReversalContext {
  kind: ReversalKind;
  id: string;
  /** Transfer / ReceivedCredit / ReceivedDebit id: the reconciliation unit key. */
  parentId: string;
  account: string | null;
}

/**
 * Hook for other modules (the reconciler adds `ledger_entries` and `mismatches`): each provider
 * returns top-level fields merged into the response. Register with `registerReversalExtras` or
 * pass `extras` to `registerReversalRoutes`.
 */
export type ReversalExtrasProvider = (
  ctx: ReversalContext,
  rt: Runtime,
) => Promise<Record<string, unknown>> | Record<string, unknown>;

const globalExtras: ReversalExtrasProvider[] = [];

export function registerReversalExtras(provider: ReversalExtrasProvider): () => void {
  globalExtras.push(provider);
  return () => {
    const i = globalExtras.indexOf(provider);
    if (i >= 0) globalExtras.splice(i, 1);
  };
}

export interface ReversalRoutesOptions {
  extras?: ReversalExtrasProvider[];
}

const ID = /^[A-Za-z0-9_]{1,255}$/;

function reversalKindOf(id: string): ReversalKind | null {
  return ID.test(id) ? reversalKindOfId(id) : null;
}

interface HistoryEntry {
  from: string | null;
  to: string;
  to_raw: string | null;
  event_id: string;
  event_created: number;
  recorded_at: string;
}

async function statusHistory(rt: Pick<Runtime, 'prisma'>, id: string): Promise<HistoryEntry[]> {
  const rows = await rawRows<{
    from_status: string | null;
    to_status: string;
    to_status_raw: string | null;
    event_id: string;
    event_created: number;
    recorded_at: Date;
  }>(
    rt.prisma,
    Prisma.sql`SELECT "from_status", "to_status", "to_status_raw", "event_id", "event_created", "recorded_at"
       FROM (${Prisma.raw(STATUS_HISTORY_SQL)} WHERE "object_id" = ${id}) AS h
      ORDER BY ${Prisma.raw(HISTORY_ORDER_SQL)}`,
  );
  return rows.map((r) => ({
    from: r.from_status,
    to: r.to_status,
    to_raw: r.to_status_raw,
    event_id: r.event_id,
    event_created: r.event_created,
    recorded_at: r.recorded_at.toISOString(),
  }));
}

/** The columns laid over `raw`, and the parent (unit key), of the projected reversal. */
interface Row {
  raw: Record<string, unknown>;
  account: string | null;
  status: string;
  parent: string;
  livemode?: boolean;
  initial_credit_granted?: boolean;
}

async function reversalRow(
  rt: Pick<Runtime, 'prisma'>,
  kind: ReversalKind,
  id: string,
): Promise<Row | null> {
  const where = { id };
  switch (kind) {
    case 'transfer_reversal': {
      const r = await rt.prisma.transferReversal.findUnique({
        where,
        select: { raw: true, account: true, livemode: true, status: true, transfer: true },
      });
      return r && { ...r, raw: r.raw as Row['raw'], parent: r.transfer };
    }
    case 'credit_reversal': {
      const r = await rt.prisma.creditReversal.findUnique({
        where,
        select: { raw: true, account: true, status: true, received_credit: true },
      });
      return r && { ...r, raw: r.raw as Row['raw'], parent: r.received_credit };
    }
    case 'debit_reversal': {
      const r = await rt.prisma.debitReversal.findUnique({
        where,
        select: {
          raw: true,
          account: true,
          status: true,
          received_debit: true,
          initial_credit_granted: true,
        },
      });
      return r && { ...r, raw: r.raw as Row['raw'], parent: r.received_debit };
    }
  }
}

/** The projected reversal as the API serves it (also used by the ledger/mismatch views). */
export async function loadReversal(
  rt: Pick<Runtime, 'prisma'>,
  id: string,
): Promise<{ body: Record<string, unknown>; ctx: ReversalContext } | null> {
  const kind = reversalKindOf(id);
  if (!kind) return null;
  const row = await reversalRow(rt, kind, id);
  if (!row) return null;
  const body: Record<string, unknown> = { ...row.raw, account: row.account };
  if (kind === 'transfer_reversal' && body.livemode === undefined) body.livemode = row.livemode;
  if (kind === 'debit_reversal') body.initial_credit_granted = row.initial_credit_granted;
  body.normalized_status = row.status;
  body.status_history = await statusHistory(rt, id);
  return {
    body,
    ctx: { kind, id, parentId: row.parent, account: row.account },
  };
}

export async function registerReversalRoutes(
  app: FastifyInstance,
  rt: Runtime,
  opts: ReversalRoutesOptions = {},
): Promise<void> {
  const extras = () => [...(opts.extras ?? []), ...globalExtras];

  app.get<{ Params: { id: string } }>('/api/reversals/:id', async (req) => {
    const { id } = req.params;
    if (!reversalKindOf(id)) {
      throw new ValidationError(
        `invalid reversal id "${id.slice(0, 100)}": expected trr_…, credrev_… or debrev_…`,
        {
          param: 'id',
        },
      );
    }
    const found = await loadReversal(rt, id);
    if (!found) throw new NotFoundError(`No such reversal: '${id}'`);
    for (const provider of extras()) Object.assign(found.body, await provider(found.ctx, rt));
    return found.body;
  });

  app.get<{ Params: { id: string } }>('/api/transfers/:id', async (req) => {
    const { id } = req.params;
    if (!ID.test(id) || !id.startsWith('tr_') || id.length <= 3) {
      throw new ValidationError(`invalid transfer id "${id.slice(0, 100)}": expected tr_…`, {
        param: 'id',
      });
    }
    const row = await rt.prisma.transfer.findUnique({
      where: { id },
      select: { raw: true, account: true, amount_reversed: true, reversed: true },
    });
    if (!row) throw new NotFoundError(`No such transfer: '${id}'`);
    // Raw for the "C" collation of the tie-break, as everywhere ids are ordered.
    const revs = await rt.prisma.$queryRaw<
      Array<{ raw: Record<string, unknown>; account: string | null; status: string }>
    >`SELECT "raw", "account", "status" FROM "transfer_reversals"
        WHERE "transfer" = ${id} ORDER BY "created" DESC, "id" COLLATE "C" DESC`;
    const data: Array<Record<string, unknown>> = revs.map((r) => ({
      ...r.raw,
      account: r.account,
      normalized_status: r.status,
    }));
    return {
      ...(row.raw as Record<string, unknown>),
      account: row.account,
      // Guarded columns: never below what any snapshot showed.
      amount_reversed: Number(row.amount_reversed),
      reversed: row.reversed,
      reversals: {
        object: 'list',
        data,
        has_more: false,
        total_count: data.length,
        url: `/v1/transfers/${id}/reversals`,
      },
      reversals_amount_total: data.reduce(
        (s, r) => s + (typeof r.amount === 'number' ? r.amount : 0),
        0,
      ),
    };
  });
}
