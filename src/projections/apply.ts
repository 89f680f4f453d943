import { markApplied } from '../inbox/statements.js';
import { InvalidEventError, type EventLike } from '../inbox/envelope.js';
import type Stripe from 'stripe';
import { DERIVED_WRITES, type Pool } from '../db/pool.js';
import { transactionOn, type AnyDb, type PrismaClient } from '../db/prisma.js';
import { ReconError } from '../errors.js';
import type { ReversalKind } from '../domain/types.js';
import type { Unit } from '../domain/units.js';
import {
  InvalidObjectError,
  embeddedReversals,
  historyOf,
  isObj,
  mapCreditReversal,
  mapDebitReversal,
  mapReceivedCredit,
  mapReceivedDebit,
  mapTransfer,
  mapTransferReversal,
  type SnapshotContext,
} from './mappers.js';
import {
  MergeMap,
  mergeCreditReversal,
  mergeDebitReversal,
  mergeHistory,
  mergeNewest,
  mergeTransfer,
} from './merge.js';
import { isHandledEventType } from '../domain/event-types.js';
import type { HistoryRow, TransferRow } from './rows.js';
import { touchUnits } from '../reconciliation/outbox.js';
import { storableCopy } from '../domain/storable.js';
import { TABLE_ORDER, upsertHistory, upsertRows, type RowsByTable } from './writers.js';

export interface ApplyResult {
  touchedUnits: Unit[];
  /** Events projected (handled types). */
  processed: number;
  /** Events of types this projector does not handle. */
  ignored: number;
  /** Rows written or changed per table (guarded no-ops excluded). */
  changed: Record<string, number>;
  /** Transfer reversals fetched with listReversals because an event had `has_more`. */
  listed: number;
  /**
   * Snapshots (event ids, or `sweep:…`) whose object held what Postgres cannot store (a NUL
   * character, nesting too deep): projected with it replaced; the raw event is in the inbox.
   */
  sanitized: string[];
}

/** Rows of one batch, merged per id with the same rules the SQL applies across batches. */
class BatchRows {
  readonly transfers = new MergeMap<TransferRow>((r) => r.id, mergeTransfer);
  readonly transfer_reversals = new MergeMap(
    (r: RowsByTable['transfer_reversals'][number]) => r.id,
    mergeNewest,
  );
  readonly credit_reversals = new MergeMap(
    (r: RowsByTable['credit_reversals'][number]) => r.id,
    mergeCreditReversal,
  );
  readonly debit_reversals = new MergeMap(
    (r: RowsByTable['debit_reversals'][number]) => r.id,
    mergeDebitReversal,
  );
  readonly received_credits = new MergeMap(
    (r: RowsByTable['received_credits'][number]) => r.id,
    mergeNewest,
  );
  readonly received_debits = new MergeMap(
    (r: RowsByTable['received_debits'][number]) => r.id,
    mergeNewest,
  );
  readonly history = new MergeMap<HistoryRow>(
    (r) => `${r.object_id}\u0000${r.to_status}`,
    mergeHistory,
  );
  readonly units = new Map<string, Unit>();
  readonly sanitized = new Set<string>();
  /** Transfers whose embedded list was truncated: [transfer, context]. */
  readonly truncated: Array<{ transfer: TransferRow; ctx: SnapshotContext }> = [];

  private unit(kind: ReversalKind, key: string) {
    this.units.set(`${kind}:${key}`, { kind, key });
  }

  addEvent(e: EventLike): boolean {
    if (!isHandledEventType(e.type)) return false;
    const ctx: SnapshotContext = {
      account: e.account ?? null,
      snapshotAt: e.created * 1000,
      snapshotId: e.id,
    };
    this.addObject(e.data.object, ctx, e.type);
    return true;
  }

  /** Adds one Stripe object of a projected type; `eventType` only matters for debit reversals. */
  addObject(raw: unknown, ctx: SnapshotContext, eventType?: string): void {
    const obj = this.storable(raw, ctx);
    const kind = isObj(obj) ? obj.object : undefined;
    switch (kind) {
      case 'transfer': {
        const t = mapTransfer(obj, ctx);
        this.transfers.add(t);
        const { data, hasMore } = embeddedReversals(obj);
        for (const r of data) this.addTransferReversal(r, { ...ctx, livemode: t.livemode });
        if (hasMore) this.truncated.push({ transfer: t, ctx });
        this.unit('transfer_reversal', t.id);
        return;
      }
      case 'transfer_reversal': {
        this.addTransferReversal(obj, { ...ctx, livemode: false });
        return;
      }
      case 'treasury.credit_reversal': {
        const r = mapCreditReversal(obj, ctx);
        this.credit_reversals.add(r);
        const h = historyOf(r, 'credit_reversal');
        if (h) this.history.add(h);
        this.unit('credit_reversal', r.received_credit);
        return;
      }
      case 'treasury.debit_reversal': {
        const r = mapDebitReversal(obj, {
          ...ctx,
          initialCreditGranted: eventType === 'treasury.debit_reversal.initial_credit_granted',
        });
        this.debit_reversals.add(r);
        const h = historyOf(r, 'debit_reversal');
        if (h) this.history.add(h);
        this.unit('debit_reversal', r.received_debit);
        return;
      }
      case 'treasury.received_credit': {
        const r = mapReceivedCredit(obj, ctx);
        this.received_credits.add(r);
        this.unit('credit_reversal', r.id);
        return;
      }
      case 'treasury.received_debit': {
        const r = mapReceivedDebit(obj, ctx);
        this.received_debits.add(r);
        this.unit('debit_reversal', r.id);
        return;
      }
      default:
        throw new InvalidObjectError(`unexpected object type ${JSON.stringify(kind ?? null)}`);
    }
  }

  /** Text Stripe sent is kept even where Postgres cannot store it as is (see domain/storable). */
  private storable(obj: unknown, ctx: SnapshotContext): unknown {
    const r = storableCopy(obj);
    if (r.changed) this.sanitized.add(ctx.snapshotId);
    return r.value;
  }

  addTransferReversal(raw: unknown, ctx: SnapshotContext & { livemode: boolean }): void {
    const r = mapTransferReversal(this.storable(raw, ctx), ctx);
    this.transfer_reversals.add(r);
    const h = historyOf(r, 'transfer_reversal');
    if (h) this.history.add(h);
    this.unit('transfer_reversal', r.transfer);
  }

  /**
   * Writes the rows and marks their units in the reconcile outbox, in the caller's transaction:
   * the intent to reconcile commits with the change or not at all. The outbox comes last so its
   * row locks are held for the shortest time.
   */
  async write(c: AnyDb, debounceMs?: number): Promise<Record<string, number>> {
    const changed: Record<string, number> = {};
    for (const table of TABLE_ORDER) {
      changed[table] = await upsertRows(c, table, this[table].values());
    }
    await upsertHistory(c, this.history.values());
    await touchUnits(
      c,
      [...this.units.values()].map((u) => u.key),
      debounceMs,
    );
    return changed;
  }
}

export interface ApplyOptions {
  /** Fetch time for list calls (ms); a clock seam for tests. @defaultValue Date.now */
  now?: () => number;
  /** Retries of the whole transaction on deadlock / serialization failure. @defaultValue 5 */
  maxTxRetries?: number;
  /** Debounce of the reconcile the touched units get (outbox due time). @defaultValue 200 ms */
  reconcileDebounceMs?: number;
  /**
   * Runs the transaction (the mapping before it runs outside): the projection worker passes a
   * one-at-a-time gate so its own batches never wait on each other's row locks.
   */
  gate?: <T>(run: () => Promise<T>) => Promise<T>;
}

/**
 * Lists every reversal of the transfers whose event embedded only the 10 most recent
 * (`has_more`). Runs before the transaction opens, so no row lock is held across HTTP.
 */
async function listTruncated(
  stripe: Stripe | null,
  rows: BatchRows,
  now: () => number,
): Promise<number> {
  let listed = 0;
  const seen = new Set<string>();
  for (const { transfer, ctx } of rows.truncated) {
    if (seen.has(transfer.id)) continue;
    seen.add(transfer.id);
    if (!stripe)
      throw new ReconError(
        `transfer ${transfer.id} has more reversals than embedded, and no Stripe client was given`,
      );
    const fetchedAt = now();
    const listCtx = {
      account: ctx.account,
      snapshotAt: fetchedAt,
      snapshotId: `sweep:list:${ctx.snapshotId}`,
      livemode: transfer.livemode,
    };
    const opts = ctx.account ? { stripeAccount: ctx.account } : undefined;
    for await (const r of stripe.transfers.listReversals(transfer.id, { limit: 100 }, opts)) {
      rows.addTransferReversal(r, listCtx);
      listed++;
    }
  }
  return listed;
}

function units(rows: BatchRows): Unit[] {
  return [...rows.units.values()];
}

/**
 * Projects a batch of Stripe events in ONE transaction (plus the list calls `has_more` needs,
 * made before it) and marks their inbox rows processed (or ignored, for unhandled types).
 * Any permutation of any multiset of events, in any number of concurrent calls, converges to
 * the same rows: see docs/architecture.md, "Ordering rules".
 * Throws InvalidEventError (before writing anything) if an event cannot be projected.
 */
export async function applyEvents(
  db: PrismaClient | Pool,
  stripe: Stripe | null,
  events: ReadonlyArray<Stripe.Event | EventLike>,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const rows = new BatchRows();
  const processedIds: string[] = [];
  const ignoredIds: string[] = [];
  for (const raw of events) {
    const e = raw as EventLike;
    try {
      if (rows.addEvent(e)) processedIds.push(e.id);
      else ignoredIds.push(e.id);
    } catch (err) {
      if (err instanceof InvalidObjectError) {
        throw new InvalidEventError(`event ${e.id}: ${err.message}`, e.id, { cause: err });
      }
      throw err;
    }
  }
  const listed = await listTruncated(stripe, rows, opts.now ?? Date.now);
  const ids = [...processedIds, ...ignoredIds].sort();
  const run = () =>
    transactionOn(
      db,
      async (c) => {
        const changed = await rows.write(c, opts.reconcileDebounceMs);
        await markApplied(c, ids, ignoredIds);
        return changed;
      },
      { retries: opts.maxTxRetries ?? 5, settings: DERIVED_WRITES },
    );
  const changed = await (opts.gate ? opts.gate(run) : run());
  return {
    touchedUnits: units(rows),
    processed: processedIds.length,
    ignored: ignoredIds.length,
    changed,
    listed,
    sanitized: [...rows.sanitized],
  };
}

/** One object fetched from a Stripe list/retrieve call, with the account it belongs to. */
export interface SnapshotItem {
  object: unknown;
  /** Connect account the object was listed under (Stripe-Account), or null for the platform. */
  account: string | null;
  /** When it was fetched (ms). @defaultValue opts.fetchedAtMs ?? now() */
  fetchedAtMs?: number;
  /** Only for bare transfer reversals (which have no livemode): their transfer's. */
  livemode?: boolean;
}

export interface ApplySnapshotsOptions extends ApplyOptions {
  source: 'sweep';
  /** Names the snapshot: snapshot_id = `sweep:<runId>`. @defaultValue 'adhoc' */
  runId?: string;
  fetchedAtMs?: number;
  /** Needed only when a listed transfer's embedded reversals are truncated. */
  stripe?: Stripe | null;
  /** Livemode for bare transfer reversals without their own. @defaultValue false */
  livemode?: boolean;
}

/**
 * The sweep's way in: objects from list calls go through the same mappers, merge rules and
 * guarded SQL as events, ordered by (fetch time ms, `sweep:<runId>`).
 */
export async function applySnapshots(
  db: PrismaClient | Pool,
  items: readonly SnapshotItem[],
  opts: ApplySnapshotsOptions,
): Promise<ApplyResult> {
  const now = opts.now ?? Date.now;
  const rows = new BatchRows();
  const snapshotId = `${opts.source}:${opts.runId ?? 'adhoc'}`;
  const defaultAt = opts.fetchedAtMs ?? now();
  for (const item of items) {
    const ctx: SnapshotContext = {
      account: item.account,
      snapshotAt: item.fetchedAtMs ?? defaultAt,
      snapshotId,
    };
    if (isObj(item.object) && item.object.object === 'transfer_reversal') {
      rows.addTransferReversal(item.object, {
        ...ctx,
        livemode: item.livemode ?? opts.livemode ?? false,
      });
    } else {
      rows.addObject(item.object, ctx);
    }
  }
  const listed = await listTruncated(opts.stripe ?? null, rows, now);
  const changed = await transactionOn(db, (c) => rows.write(c, opts.reconcileDebounceMs), {
    retries: opts.maxTxRetries ?? 5,
    settings: DERIVED_WRITES,
  });
  return {
    touchedUnits: units(rows),
    processed: items.length,
    ignored: 0,
    changed,
    listed,
    sanitized: [...rows.sanitized],
  };
}
