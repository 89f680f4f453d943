import type Stripe from 'stripe';
import {
  enqueueSweepFailed,
  onMismatchChanges,
  enqueueSweepSummary,
  scheduleAlertCheck,
} from '../alerts/queue.js';
import { Prisma, rawRows, type AnyDb } from '../db/prisma.js';
import { HANDLED_EVENT_TYPES } from '../domain/event-types.js';
import { applySnapshots, type SnapshotItem } from '../projections/apply.js';
import { confirmAbsentAfterSweep } from '../reconciliation/lookup-store.js';
import { reconcileAllNarrowed } from '../reconciliation/sweep-reconcile.js';
import { createReport, pruneReports } from '../reports/store.js';
import type { Runtime } from '../runtime.js';
import { createStripeClient } from '../stripe/client.js';
import {
  StripeKeyError,
  classifyStripeError,
  isStripeKeyError,
  stripeKeyFailure,
  stripeKeyKind,
  stripeKeyMonitor,
} from '../stripe/key.js';
import { knownAccounts, recoverEvents } from './recover.js';
import { createSweepStripeClient } from '../stripe/client.js';
import {
  TREASURY_LISTS,
  finishRun,
  getSweepRun,
  markRunning,
  noteError,
  saveProgress,
  type ProgressDelta,
  type SweepCursor,
  type SweepRun,
  type TreasuryList,
} from './store.js';

/** Page size of every list call (Stripe's maximum). */
export const PAGE_SIZE = 100;
/** GET /v1/events reaches back 30 days. */
export const EVENTS_WINDOW_MS = 30 * 86_400_000;
/** Session advisory lock held by whoever executes the (single) active sweep. */
const SWEEP_LOCK_KEY = 0x5e_ee_70; // "sweep"

/** A sweep stopped on purpose (signal) — left `running`, to be resumed from its cursor. */
export class SweepInterruptedError extends Error {
  constructor(readonly runId: string) {
    super(`sweep ${runId} interrupted; it resumes from its last page`);
    this.name = new.target.name;
  }
}

export interface ExecuteSweepOptions {
  /** Called after every page and reconcile batch with the run as saved. */
  onProgress?: (run: SweepRun) => void;
  /** Aborting stops after the current page; the run stays `running` and can be resumed. */
  signal?: AbortSignal;
  /** An SDK client to use instead of the rate-limited one built from config. */
  stripe?: Stripe;
  /** Clock seam (ms). @defaultValue Date.now */
  now?: () => number;
  /** Objects per list page (and per saved cursor step). @defaultValue 100 (Stripe's maximum) */
  pageSize?: number;
}

export type ExecuteResult =
  | { executed: true; run: SweepRun }
  | { executed: false; reason: 'locked' | 'not_active'; run: SweepRun | null };

/**
 * Executes (or resumes) the sweep `runId` in this process, unless another process holds the
 * sweep lock. The lock is a session advisory lock on a dedicated connection: if this process
 * dies, Postgres releases it and the next worker resumes the run from its cursor.
 */
export async function executeSweep(
  rt: Runtime,
  runId: string,
  opts: ExecuteSweepOptions = {},
): Promise<ExecuteResult> {
  const lockClient = await rt.pool.connect();
  let locked = false;
  try {
    locked = (
      await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
        SWEEP_LOCK_KEY,
      ])
    ).rows[0]!.ok;
    if (!locked)
      return { executed: false, reason: 'locked', run: await getSweepRun(rt.prisma, runId) };
    const run = await markRunning(rt.prisma, runId);
    if (!run)
      return { executed: false, reason: 'not_active', run: await getSweepRun(rt.prisma, runId) };
    const done = await new SweepExecution(rt, run, opts).execute();
    return { executed: true, run: done };
  } finally {
    if (locked)
      await lockClient.query('SELECT pg_advisory_unlock($1)', [SWEEP_LOCK_KEY]).catch(() => {});
    lockClient.release();
  }
}

/** True when some process is executing a sweep right now (it holds the lock). */
export async function sweepLockHeld(db: AnyDb): Promise<boolean> {
  const rows = await rawRows<{ held: boolean }>(
    db,
    Prisma.sql`SELECT EXISTS (SELECT 1 FROM pg_locks
                WHERE locktype = 'advisory' AND objid = ${SWEEP_LOCK_KEY} AND granted) AS held`,
  );
  return rows[0]!.held;
}

class SweepExecution {
  private readonly stripe: Stripe;
  private readonly now: () => number;
  private readonly log: Runtime['log'];
  private cursor: SweepCursor;
  private readonly pageSize: number;

  constructor(
    private readonly rt: Runtime,
    private run: SweepRun,
    private readonly opts: ExecuteSweepOptions,
  ) {
    this.stripe = opts.stripe ?? createSweepStripeClient(rt.config);
    this.now = opts.now ?? Date.now;
    this.log = rt.log.child({ sweepId: run.id });
    this.cursor = structuredClone(run.cursor);
    this.pageSize = Math.min(100, Math.max(1, opts.pageSize ?? PAGE_SIZE));
  }

  async execute(): Promise<SweepRun> {
    const resumed = this.run.pages_fetched > 0 || this.cursor.phase !== 'objects';
    this.log.info(
      { trigger: this.run.trigger, account: this.run.account, phase: this.cursor.phase, resumed },
      resumed ? 'sweep resumed' : 'sweep started',
    );
    try {
      if (!this.cursor.accounts) {
        this.cursor.accounts = await this.accounts();
        await this.save();
      }
      if (this.cursor.phase === 'objects') await this.objectsPhase();
      if (this.cursor.phase === 'events') await this.eventsPhase();
      if (this.cursor.phase === 'reconcile') await this.reconcilePhase();
      if (this.cursor.phase === 'report') await this.reportPhase();
      return this.run;
    } catch (err) {
      if (isStripeKeyError(err)) throw await this.failOnKey(err);
      if (!(err instanceof SweepInterruptedError)) {
        await noteError(this.rt.prisma, this.run.id, (err as Error).message).catch(() => {});
        this.log.warn(
          { err: (err as Error).message, phase: this.cursor.phase },
          'sweep step failed; it can resume from its cursor',
        );
      }
      throw err;
    }
  }

  /**
   * Stripe refused the key (401) or a permission (403): no retry or resume can change that, so
   * the run fails at once, with one line in the log, on the run and in a `sweep.failed` alert.
   */
  private async failOnKey(err: unknown): Promise<StripeKeyError> {
    const line = stripeKeyFailure(err);
    this.run = await finishRun(this.rt.prisma, this.run.id, {
      status: 'failed',
      error: line,
    }).catch(() => this.run);
    this.log.error({ phase: this.cursor.phase }, `sweep failed: ${line}`);
    // /readyz shows it from now on, not only after its next background check.
    const key = this.rt.config.STRIPE_API_KEY;
    stripeKeyMonitor(this.rt, key, () => createStripeClient(this.rt.config)).record({
      ...stripeKeyKind(key),
      status: classifyStripeError(err) === 'invalid' ? 'invalid' : 'forbidden',
      message: line,
      checked_at: new Date().toISOString(),
    });
    try {
      await enqueueSweepFailed(this.rt, this.run.id, line);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not queue the sweep.failed alert');
    }
    // The cause keeps the SDK error: the CLI exits 78 (configuration) for it.
    return new StripeKeyError(`sweep ${this.run.id} failed: ${line}`, { cause: err });
  }

  /**
   * The platform, then RECON_SWEEP_ACCOUNTS alone when set, else every connected account seen in
   * projections or the inbox and every one GET /v1/accounts lists.
   */
  private async accounts(): Promise<(string | null)[]> {
    if (this.run.account) return [this.run.account === 'platform' ? null : this.run.account];
    const accounts = await knownAccounts(
      { prisma: this.rt.prisma, config: this.rt.config, log: this.log },
      { stripe: this.stripe },
    );
    this.log.info(
      {
        accounts: accounts.length - 1,
        narrowed: this.rt.config.RECON_SWEEP_ACCOUNTS.length > 0,
      },
      'sweep: accounts to visit (besides the platform)',
    );
    return accounts;
  }

  private reqOpts(account: string | null): Stripe.RequestOptions | undefined {
    return account ? { stripeAccount: account } : undefined;
  }

  private currentAccount(): string | null {
    return this.cursor.accounts![this.cursor.account_index] ?? null;
  }

  /** Persists cursor + counters together, reports progress, then honours the abort signal. */
  private async save(delta: ProgressDelta = {}): Promise<void> {
    this.run = await saveProgress(this.rt.prisma, this.run.id, this.cursor, delta);
    this.opts.onProgress?.(this.run);
    if (this.opts.signal?.aborted) throw new SweepInterruptedError(this.run.id);
  }

  /** Auto-pagination (the SDK follows has_more), cut into pages so each page is saved once applied. */
  private async pages<T extends { id: string }>(
    list: AsyncIterable<T>,
    onPage: (items: T[]) => Promise<void>,
  ): Promise<void> {
    let buf: T[] = [];
    for await (const item of list) {
      buf.push(item);
      if (buf.length >= this.pageSize) {
        const page = buf;
        buf = [];
        await onPage(page);
      }
    }
    if (buf.length) await onPage(buf);
  }

  private async applyPage(items: SnapshotItem[]): Promise<number> {
    if (!items.length) return 0;
    const r = await applySnapshots(this.rt.prisma, items, {
      source: 'sweep',
      runId: this.run.id,
      fetchedAtMs: this.now(),
      stripe: this.stripe,
    });
    return r.listed;
  }

  private async objectsPhase(): Promise<void> {
    const accounts = this.cursor.accounts!;
    while (this.cursor.account_index < accounts.length) {
      const account = this.currentAccount();
      const opts = this.reqOpts(account);
      if (this.cursor.step === 'transfers') {
        const params: Stripe.TransferListParams = { limit: this.pageSize };
        if (this.cursor.after) params.starting_after = this.cursor.after;
        await this.pages(this.stripe.transfers.list(params, opts), async (transfers) => {
          const listed = await this.applyPage(transfers.map((t) => ({ object: t, account })));
          const embedded = transfers.reduce((n, t) => n + (t.reversals?.data?.length ?? 0), 0);
          this.cursor.after = transfers.at(-1)!.id;
          await this.save({ pages: 1, objects: transfers.length + embedded + listed });
        });
        Object.assign(this.cursor, {
          step: 'treasury',
          after: null,
          fa_after: null,
          fa: null,
          fa_list_index: 0,
        });
        await this.save();
        this.log.info(
          { account: account ?? 'platform', objects: this.run.objects_fetched },
          'sweep: transfers listed',
        );
      }
      if (this.cursor.step === 'treasury') {
        if (this.cursor.fa) await this.financialAccount(this.cursor.fa, account);
        const params: Stripe.Treasury.FinancialAccountListParams = { limit: this.pageSize };
        if (this.cursor.fa_after) params.starting_after = this.cursor.fa_after;
        try {
          for await (const fa of this.stripe.treasury.financialAccounts.list(params, opts)) {
            Object.assign(this.cursor, { fa: fa.id, fa_list_index: 0, after: null });
            await this.financialAccount(fa.id, account);
          }
        } catch (err) {
          // An account without Treasury answers 4xx to the financial-account list: nothing to sweep there.
          const type = (err as { type?: string }).type;
          if (type !== 'StripeInvalidRequestError' && type !== 'StripePermissionError') throw err;
          this.log.info(
            { account: account ?? 'platform', err: (err as Error).message },
            'sweep: no Treasury on this account',
          );
        }
        this.log.info(
          { account: account ?? 'platform', objects: this.run.objects_fetched },
          'sweep: treasury listed',
        );
      }
      Object.assign(this.cursor, {
        account_index: this.cursor.account_index + 1,
        step: 'transfers',
        after: null,
        fa_after: null,
        fa: null,
        fa_list_index: 0,
      });
      await this.save();
    }
    Object.assign(this.cursor, { phase: 'events', account_index: 0, after: null });
    await this.save();
  }

  /** The four Treasury lists of one financial account, from where the cursor says. */
  private async financialAccount(faId: string, account: string | null): Promise<void> {
    const opts = this.reqOpts(account);
    while (this.cursor.fa_list_index < TREASURY_LISTS.length) {
      const which = TREASURY_LISTS[this.cursor.fa_list_index]!;
      const params = {
        financial_account: faId,
        limit: this.pageSize,
        ...(this.cursor.after ? { starting_after: this.cursor.after } : {}),
      };
      await this.pages(this.treasuryList(which, params, opts), async (objects) => {
        await this.applyPage(objects.map((o) => ({ object: o, account })));
        this.cursor.after = objects.at(-1)!.id;
        await this.save({ pages: 1, objects: objects.length });
      });
      Object.assign(this.cursor, { fa_list_index: this.cursor.fa_list_index + 1, after: null });
      await this.save();
    }
    Object.assign(this.cursor, { fa_after: faId, fa: null, fa_list_index: 0, after: null });
    await this.save();
  }

  private treasuryList(
    which: TreasuryList,
    params: { financial_account: string; limit: number; starting_after?: string },
    opts: Stripe.RequestOptions | undefined,
  ): AsyncIterable<{ id: string }> {
    const t = this.stripe.treasury;
    switch (which) {
      case 'received_credits':
        return t.receivedCredits.list(params, opts);
      case 'received_debits':
        return t.receivedDebits.list(params, opts);
      case 'credit_reversals':
        return t.creditReversals.list(params, opts);
      case 'debit_reversals':
        return t.debitReversals.list(params, opts);
    }
  }

  /** Events Stripe has that the inbox lacks: stored (source `sweep`) and projected like any other. */
  private async eventsPhase(): Promise<void> {
    const accounts = this.cursor.accounts!;
    const since = this.run.since
      ? Math.floor(new Date(this.run.since).getTime() / 1000)
      : this.run.trigger === 'backfill'
        ? null
        : Math.floor((this.now() - EVENTS_WINDOW_MS) / 1000);
    while (this.cursor.account_index < accounts.length) {
      const account = this.currentAccount();
      const params: Stripe.EventListParams = {
        limit: this.pageSize,
        types: [...HANDLED_EVENT_TYPES],
      };
      if (since !== null) params.created = { gte: since };
      if (this.cursor.after) params.starting_after = this.cursor.after;
      await this.pages(this.stripe.events.list(params, this.reqOpts(account)), async (events) => {
        const recovered = await this.recover(events, account);
        this.cursor.after = events.at(-1)!.id;
        await this.save({ pages: 1, events: recovered });
      });
      Object.assign(this.cursor, { account_index: this.cursor.account_index + 1, after: null });
      await this.save();
    }
    this.log.info({ recovered: this.run.events_recovered }, 'sweep: events recovered');
    Object.assign(this.cursor, { phase: 'reconcile', account_index: 0, after: null });
    await this.save();
  }

  private async recover(events: Stripe.Event[], account: string | null): Promise<number> {
    const r = await recoverEvents(this.rt, this.stripe, events, account, 'sweep');
    if (r.refused.length)
      this.log.warn(
        { refused: r.refused, account: account ?? 'platform' },
        'sweep: events the inbox does not admit (not stored)',
      );
    if (r.recovered)
      this.log.debug(
        { recovered: r.recovered, account: account ?? 'platform' },
        'sweep: events recovered from the events API',
      );
    return r.recovered;
  }

  private async reconcilePhase(): Promise<void> {
    // The listing is complete: what a ledger entry names and we still have not projected is
    // absent in Stripe, as of when the listing began — no lookups (only a sweep of every account
    // says so; a one-account sweep did not list the others).
    if (!this.run.account) {
      // started_at is wall time; confirmations are compared on the reconciler's clock (the demo's
      // is simulated), so shift it into that frame.
      const started = this.run.started_at?.getTime() ?? Date.now();
      await confirmAbsentAfterSweep(
        this.rt.prisma,
        started + (this.rt.clock() - Date.now()),
        this.cursor.accounts ?? [],
      );
    }
    let saving: Promise<void> = Promise.resolve();
    let opened = 0;
    let resolved = 0;
    const result = await reconcileAllNarrowed(this.rt, {
      batchSize: this.rt.config.RECON_SWEEP_BATCH_SIZE,
      onProgress: (p) => {
        saving = saving.then(async () => {
          this.run = await saveProgress(this.rt.prisma, this.run.id, this.cursor, {
            unitsTotal: p.total,
            unitsDone: p.done,
          });
          this.opts.onProgress?.(this.run);
        });
      },
      onChanges: async (c) => {
        opened += c.opened.length;
        resolved += c.resolved.length;
        await onMismatchChanges(this.rt, c);
      },
    });
    await saving;
    if (result.failed.length) {
      this.log.error(
        { failed: result.failed.length, units: result.failed.slice(0, 10).map((f) => f.key) },
        'sweep: some units failed to reconcile',
      );
    }
    this.log.info(
      { units: result.units, mismatches: result.mismatches, opened, resolved },
      'sweep: reconciled',
    );
    this.cursor.phase = 'report';
    await this.save({ opened, resolved });
  }

  private async reportPhase(): Promise<void> {
    // Resuming after a crash between storing the report and finishing the run: reuse it.
    const existing = await this.rt.prisma.report.findFirst({
      where: { sweep_run_id: this.run.id },
      select: { id: true },
    });
    const reportId =
      existing?.id ??
      (await createReport(this.rt.prisma, { sweep: { ...this.run, finished_at: null } })).id;
    this.cursor.phase = 'done';
    this.run = await finishRun(this.rt.prisma, this.run.id, {
      status: 'completed',
      reportId,
      cursor: this.cursor,
    });
    this.opts.onProgress?.(this.run);
    this.log.info(
      {
        reportId,
        objects: this.run.objects_fetched,
        eventsRecovered: this.run.events_recovered,
        units: this.run.units_done,
        opened: this.run.mismatches_opened,
        resolved: this.run.mismatches_resolved,
      },
      'sweep completed',
    );
    const pruned = await pruneReports(this.rt.prisma, this.rt.config.REPORTS_KEEP).catch(() => 0);
    if (pruned) this.log.info({ pruned }, 'old reports pruned');
    // Alerts must never fail a finished sweep: a summary that cannot be queued is only logged.
    try {
      await enqueueSweepSummary(this.rt, reportId);
      await scheduleAlertCheck(this.rt);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not queue the sweep summary alert');
    }
  }
}
