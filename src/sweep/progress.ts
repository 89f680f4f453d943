import type { SweepRun } from './store.js';

/**
 * One progress-bar reading of a sweep, for `recon reconcile` / `recon backfill`: pages while
 * listing (total unknown, so it runs one ahead), units while reconciling.
 */
export function sweepProgress(run: SweepRun): { value: number; total: number; detail: string } {
  const c = run.cursor;
  const counts = `${run.objects_fetched} objects, ${run.events_recovered} events recovered`;
  switch (c.phase) {
    case 'objects':
    case 'events': {
      const account = c.accounts?.[c.account_index];
      const where = account === undefined ? '' : ` ${account ?? 'platform'}`;
      const what =
        c.phase === 'objects' ? (c.step === 'transfers' ? 'transfers' : 'treasury') : 'events';
      return {
        value: run.pages_fetched,
        total: run.pages_fetched + 1,
        detail: `listing ${what}${where} — ${counts}`,
      };
    }
    case 'reconcile':
      return {
        value: run.units_done,
        total: Math.max(run.units_total, 1),
        detail: `reconciling units — ${counts}`,
      };
    case 'report':
    case 'done':
      return {
        value: 1,
        total: 1,
        detail: `${run.status} — ${counts}${run.report_id ? `, report ${run.report_id}` : ''}`,
      };
  }
}
