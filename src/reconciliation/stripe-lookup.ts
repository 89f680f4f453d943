import type Stripe from 'stripe';
import { type SnapshotItem, applySnapshots } from '../projections/apply.js';
import { ledgerSourceFor } from '../ledger/source.js';
import { stripeLookupsTotal } from '../metrics.js';
import { unitOfKey, type Unit } from '../domain/units.js';
import { projectedParents, unitKeyOf } from '../ledger/units.js';
import type { Runtime } from '../runtime.js';
import { TokenBucket } from '../stripe/rate-limit.js';
import { createSweepStripeClient } from '../stripe/client.js';
import { pendingLookups } from '../domain/lookup.js';
import { enqueueReconcile } from './enqueue.js';
import { loadUnits } from './load.js';
import { rulesFromConfig } from './reconcile-units.js';
import {
  claimDueLookups,
  recordLookups,
  type LookupOutcome,
  type LookupRow,
} from './lookup-store.js';

/**
 * Confirm before raising (issue #12). The reconciler never calls a ledger entry
 * `missing_in_stripe` on its own say-so when Stripe can be asked: it schedules a lookup
 * (lookup-store.ts) due when the entry's grace period ends, and this module asks Stripe:
 *
 * - a reversal id → `GET` it by id (a transfer reversal under its transfer), with `Stripe-Account`
 *   when the entry names an account. `404 resource_missing` confirms the absence; a found object
 *   is projected through the normal write path (`applySnapshots`) — a lost webhook recovered
 *   without waiting for the nightly sweep;
 * - a parent → `GET` it and list its reversals, all projected; then every reversal Stripe has
 *   under it is in our tables and an entry still unmatched is confirmed missing.
 *
 * Either way the units concerned are then reconciled. While Stripe cannot be reached (network,
 * 5xx, 429, auth) nothing is confirmed: the lookup goes back to `pending` with a backoff. Never on
 * the webhook path: a separate worker, batched, every request through the sweep's token bucket.
 */

export interface LookupBatchOptions {
  /** Lookups claimed per batch. @defaultValue 100 */
  batchSize?: number;
  /** Lookups in flight at once within a batch (the token bucket still paces them). @defaultValue 8 */
  concurrency?: number;
  /** How long a claimed lookup stays invisible to other workers. @defaultValue 120 s */
  leaseMs?: number;
}

export interface LookupBatchResult {
  claimed: number;
  absent: number;
  found: number;
  /** Stripe unreachable: back to pending, retried later. */
  retried: number;
  /** No longer needed (a late webhook settled the entry): not asked. */
  settled: number;
}

const BACKOFF_BASE_MS = 5_000;
const BACKOFF_MAX_MS = 10 * 60_000;

/** 5 s, 10 s, 20 s, … capped at 10 min: Stripe being down must not turn into a request storm. */
export function lookupBackoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/** Only Stripe's own "no such object" confirms an absence; any other failure says nothing. */
export function isResourceMissing(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: string; type?: string } | null;
  return e?.statusCode === 404 && (e.code === undefined || e.code === 'resource_missing');
}

type Answer = { absent: true } | { absent: false; items: SnapshotItem[] };

/** One lookup's Stripe calls. Throws when Stripe cannot answer. */
export async function askStripe(stripe: Stripe, row: LookupRow): Promise<Answer> {
  const account = row.account === '' ? null : row.account;
  const opts = account ? { stripeAccount: account } : undefined;
  const found = (...objects: unknown[]): Answer => ({
    absent: false,
    items: objects.map((object) => ({ object, account })),
  });
  try {
    if (row.kind === 'transfer_reversal') {
      // By id, a reversal is addressed under its transfer; a parent lookup fetches the transfer,
      // which embeds its newest reversals (applySnapshots lists the rest when has_more).
      const fetch = (o?: Stripe.RequestOptions) =>
        row.type === 'reversal'
          ? stripe.transfers.retrieveReversal(row.parent_id ?? '', row.target, {}, o)
          : stripe.transfers.retrieve(row.target, {}, o);
      try {
        return found(await fetch(opts));
      } catch (err) {
        // A ledger often records the destination account of a platform transfer: before calling
        // it absent, ask the platform too.
        if (!account || !isResourceMissing(err)) throw err;
        return { absent: false, items: [{ object: await fetch(), account: null }] };
      }
    }
    if (row.type === 'reversal') {
      return row.kind === 'credit_reversal'
        ? found(await stripe.treasury.creditReversals.retrieve(row.target, {}, opts))
        : found(await stripe.treasury.debitReversals.retrieve(row.target, {}, opts));
    }
    switch (row.kind) {
      case 'credit_reversal': {
        const rc = await stripe.treasury.receivedCredits.retrieve(row.target, {}, opts);
        const reversals: unknown[] = [];
        if (rc.financial_account) {
          const list = stripe.treasury.creditReversals.list(
            { financial_account: rc.financial_account, received_credit: rc.id, limit: 100 },
            opts,
          );
          for await (const r of list) reversals.push(r);
        }
        return found(rc, ...reversals);
      }
      case 'debit_reversal': {
        const rd = await stripe.treasury.receivedDebits.retrieve(row.target, {}, opts);
        const reversals: unknown[] = [];
        if (rd.financial_account) {
          const list = stripe.treasury.debitReversals.list(
            { financial_account: rd.financial_account, received_debit: rd.id, limit: 100 },
            opts,
          );
          for await (const r of list) reversals.push(r);
        }
        return found(rd, ...reversals);
      }
    }
  } catch (err) {
    if (isResourceMissing(err)) return { absent: true };
    throw err;
  }
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function eachLimited<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Claims one batch of due lookups and answers it: Stripe calls (paced by the client's bucket),
 * one projection write for everything found, one UPDATE for the answers, then reconcile jobs for
 * the units of every entry naming a target (and the units the projection touched).
 */
export async function runLookupBatch(
  rt: Pick<Runtime, 'prisma' | 'config' | 'log' | 'queues' | 'clock'>,
  stripe: Stripe,
  opts: LookupBatchOptions = {},
): Promise<LookupBatchResult> {
  const batchSize = opts.batchSize ?? 100;
  const now = rt.clock();
  const rows = await claimDueLookups(rt.prisma, now, now + (opts.leaseMs ?? 120_000), batchSize);
  const result: LookupBatchResult = {
    claimed: rows.length,
    absent: 0,
    found: 0,
    retried: 0,
    settled: 0,
  };
  if (rows.length === 0) return result;

  const outcomes: LookupOutcome[] = [];
  const items: SnapshotItem[] = [];
  // A late webhook may have settled an entry since its lookup was scheduled: ask Stripe only
  // about what the reconciler would still ask about now.
  const needed = await stillNeeded(rt, rows);
  const ask = rows.filter((r) => needed.has(keyOf(r)));
  for (const r of rows)
    if (!needed.has(keyOf(r)))
      outcomes.push({ target: r.target, account: r.account, status: 'settled' });
  result.settled = rows.length - ask.length;
  await eachLimited(ask, opts.concurrency ?? 8, async (row) => {
    try {
      const a = await askStripe(stripe, row);
      if (a.absent) {
        outcomes.push({ target: row.target, account: row.account, status: 'absent' });
        result.absent++;
      } else {
        items.push(...a.items);
        outcomes.push({ target: row.target, account: row.account, status: 'found' });
        result.found++;
      }
    } catch (err) {
      const error = String((err as Error)?.message ?? err).slice(0, 500);
      outcomes.push({
        target: row.target,
        account: row.account,
        status: 'pending',
        retryAtMs: rt.clock() + lookupBackoffMs(row.attempts),
        error,
      });
      result.retried++;
      rt.log.warn(
        { objectId: row.target, account: row.account || null, attempts: row.attempts, err: error },
        'Stripe lookup failed; will retry',
      );
    }
  });

  // Projected before the answers are recorded: a crash in between only repeats the lookup.
  const units = new Map<string, Unit>();
  if (items.length > 0) {
    const applied = await applySnapshots(rt.prisma, items, {
      source: 'sweep',
      runId: 'lookup',
      fetchedAtMs: rt.clock(),
      stripe,
    });
    for (const u of applied.touchedUnits) units.set(u.key, u);
  }
  await recordLookups(rt.prisma, outcomes, rt.clock());

  const answered = rows.filter((r) =>
    outcomes.some(
      (o) =>
        (o.status === 'absent' || o.status === 'found') &&
        o.target === r.target &&
        o.account === r.account,
    ),
  );
  if (answered.length > 0) {
    for (const u of await unitsNaming(rt, answered)) units.set(u.key, u);
    await enqueueReconcile(rt, [...units.values()]);
  }
  for (const outcome of ['absent', 'found', 'retried', 'settled'] as const)
    if (result[outcome]) stripeLookupsTotal.inc({ outcome }, result[outcome]);
  if (result.absent || result.found)
    rt.log.info(
      { claimed: result.claimed, absent: result.absent, found: result.found },
      'Stripe lookups answered',
    );
  return result;
}

const keyOf = (r: { target: string; account: string }) => `${r.target}\u0000${r.account}`;

/** The claimed lookups that the units naming them still ask for (`pendingLookups`). */
async function stillNeeded(
  rt: Pick<Runtime, 'prisma' | 'config' | 'log'>,
  rows: readonly LookupRow[],
): Promise<Set<string>> {
  const rules = rulesFromConfig(rt.config);
  const units = await loadUnits(
    rt,
    (await unitsNaming(rt, rows)).map((u) => u.key),
  );
  const out = new Set<string>();
  for (const u of units)
    for (const l of pendingLookups(u, rules))
      out.add(keyOf({ target: l.target.id, account: l.target.account ?? '' }));
  return out;
}

/** The units of every ledger entry naming one of the targets (where the reconciler looks). */
async function unitsNaming(
  rt: Pick<Runtime, 'prisma' | 'config' | 'log'>,
  rows: readonly LookupRow[],
): Promise<Unit[]> {
  const targets = rows.map((r) => r.target);
  const entries = await ledgerSourceFor(rt).entriesForUnits(rt.prisma, targets, targets);
  const parents = await projectedParents(
    rt.prisma,
    entries.map((e) => e.stripeId).filter((s): s is string => !!s),
  );
  const out = new Map<string, Unit>();
  for (const e of entries) {
    const key = unitKeyOf({ id: e.id, stripe_id: e.stripeId, parent_id: e.parentId }, parents);
    out.set(key, unitOfKey(key, e.kind));
  }
  return [...out.values()];
}

export interface StripeLookupWorkerOptions extends LookupBatchOptions {
  /** @defaultValue the sweep's rate-limited client at RECON_LOOKUP_RATE_LIMIT requests/s */
  stripe?: Stripe;
  /** Idle wait between polls when nothing was due. @defaultValue 1 s */
  pollMs?: number;
  /** Called after every batch that claimed something (tests, metrics). */
  onBatch?: (r: LookupBatchResult) => void;
}

export interface StripeLookupWorker {
  close(): Promise<void>;
}

/**
 * Polls `stripe_lookups` for due rows and answers them a batch at a time; a full batch is
 * followed at once by the next. Errors (Postgres away) are logged and the poll carries on.
 */
export function startStripeLookupWorker(
  rt: Runtime,
  opts: StripeLookupWorkerOptions = {},
): StripeLookupWorker {
  const stripe =
    opts.stripe ??
    createSweepStripeClient(rt.config, {
      bucket: new TokenBucket(rt.config.RECON_LOOKUP_RATE_LIMIT),
    });
  const pollMs = opts.pollMs ?? 1_000;
  const batchSize = opts.batchSize ?? 100;
  const log = rt.log.child({ worker: 'stripe-lookup' });
  let stopped = false;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const loop = (async () => {
    while (!stopped) {
      let full = false;
      try {
        const r = await runLookupBatch({ ...rt, log }, stripe, { ...opts, batchSize });
        if (r.claimed > 0) opts.onBatch?.(r);
        full = r.claimed >= batchSize;
      } catch (err) {
        log.error({ err }, 'Stripe lookup batch failed');
      }
      if (!full && !stopped) await sleep(pollMs);
    }
  })();
  return {
    async close() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
