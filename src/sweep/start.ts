import type { Runtime } from '../runtime.js';
import { enqueueSweepRun } from './queue.js';
import { executeSweep, sweepLockHeld, type ExecuteSweepOptions } from './run.js';
import { createOrGetActiveSweep, getSweepRun, type SweepRun, type SweepTrigger } from './store.js';

export interface StartSweepOptions {
  trigger: SweepTrigger;
  /** Only this connected account (`acct_…`), or `'platform'` for the platform alone. */
  account?: string | null;
  /** Recover events created since then (default: 30 days back; backfill: as far as Stripe keeps). */
  since?: Date | null;
}

/**
 * Queues a sweep for the sweep worker and returns it — or returns the sweep already queued or
 * running (one at a time). An active run nobody is executing (its worker died) is queued again.
 */
export async function startSweep(rt: Runtime, opts: StartSweepOptions): Promise<SweepRun> {
  const { run, created } = await createOrGetActiveSweep(rt.prisma, opts);
  try {
    if (created) await enqueueSweepRun(rt, run.id);
    else if (!(await sweepLockHeld(rt.prisma))) await enqueueSweepRun(rt, run.id, true);
  } catch (err) {
    // Stays queued: the sweep worker picks queued runs up when it (re)starts.
    rt.log.warn(
      { err: (err as Error).message, sweepId: run.id },
      'could not queue the sweep job; the worker will pick it up at start',
    );
  }
  return run;
}

export interface RunSweepOptions extends StartSweepOptions, ExecuteSweepOptions {
  /** While another process executes the active sweep, how often to poll its progress. @defaultValue 1000 */
  pollMs?: number;
}

/**
 * Runs a sweep in this process (CLI: `recon reconcile`, `recon backfill`) and resolves with the
 * finished run. When a sweep is already active it joins it: executes it if nobody else is
 * (resuming from its cursor), or follows the other process's progress until it ends.
 */
export async function runSweep(rt: Runtime, opts: RunSweepOptions): Promise<SweepRun> {
  const { run } = await createOrGetActiveSweep(rt.prisma, opts);
  for (;;) {
    const r = await executeSweep(rt, run.id, opts);
    if (r.executed) return r.run;
    const current = r.run ?? (await getSweepRun(rt.prisma, run.id));
    if (!current || current.status === 'completed' || current.status === 'failed') return current!;
    opts.onProgress?.(current);
    if (opts.signal?.aborted) return current;
    await new Promise((res) => setTimeout(res, opts.pollMs ?? 1_000));
  }
}

/** A sweep for a new installation: everything Stripe still has, events as far back as it keeps them. */
export async function backfill(
  rt: Runtime,
  opts: Omit<RunSweepOptions, 'trigger' | 'since'> = {},
): Promise<SweepRun> {
  return runSweep(rt, { ...opts, trigger: 'backfill', since: null });
}
