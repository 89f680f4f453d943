import type { SweepRun } from '../sweep/store.js';
import type { PhaseReading } from './progress.js';

/**
 * A sweep as phases for `recon reconcile` / `recon backfill`, each with its own bar. Listing
 * Stripe and recovering events page through lists whose length nobody knows in advance, so they
 * count (objects, events) and say which account they are on; reconciling knows how many units
 * it has, so it gets a bar and an ETA. (One bar for the whole sweep had a total that grew with
 * every page and then started over for reconciling.)
 */
export function sweepPhase(run: SweepRun): PhaseReading {
  const c = run.cursor;
  const accounts = c.accounts ?? [];
  const where =
    accounts.length > 0 && c.account_index < accounts.length
      ? `account ${c.account_index + 1} of ${accounts.length} (${accounts[c.account_index] ?? 'platform'})`
      : undefined;
  switch (c.phase) {
    case 'objects':
      return {
        phase: 'listing Stripe objects',
        value: run.objects_fetched,
        total: null,
        unit: 'objects',
        detail: where,
      };
    case 'events':
      return {
        phase: 'recovering missed events',
        value: run.events_recovered,
        total: null,
        unit: 'recovered',
        detail: where,
      };
    case 'reconcile':
      return {
        phase: 'reconciling',
        value: run.units_done,
        // The total is known once the first batch is counted; until then the bar shows 0/1.
        total: Math.max(run.units_total, 1),
        unit: 'units',
      };
    case 'report':
    case 'done':
      return {
        phase: 'writing the report',
        value: 0,
        total: null,
        unit: '',
        detail: run.report_id ?? undefined,
      };
  }
}
