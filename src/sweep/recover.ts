import { insertFetched, markFailed } from '../inbox/statements.js';
import type Stripe from 'stripe';
import { InvalidEventError, applyEvents, type TouchedUnit } from '../projections/apply.js';
import type { Runtime } from '../runtime.js';

/**
 * The platform (null), every connected account seen in projections or the inbox, and
 * RECON_SWEEP_ACCOUNTS: the accounts a sweep (or an event replay) visits.
 */
export async function knownAccounts(
  rt: Pick<Runtime, 'pool' | 'config'>,
): Promise<(string | null)[]> {
  const { rows } = await rt.pool.query<{ account: string }>(
    `SELECT account FROM transfers WHERE account IS NOT NULL
     UNION SELECT account FROM transfer_reversals WHERE account IS NOT NULL
     UNION SELECT account FROM credit_reversals WHERE account IS NOT NULL
     UNION SELECT account FROM debit_reversals WHERE account IS NOT NULL
     UNION SELECT account FROM received_credits WHERE account IS NOT NULL
     UNION SELECT account FROM received_debits WHERE account IS NOT NULL
     UNION SELECT account FROM stripe_events WHERE account IS NOT NULL`,
  );
  const set = new Set([...rows.map((r) => r.account), ...rt.config.RECON_SWEEP_ACCOUNTS]);
  return [null, ...[...set].sort()];
}

export interface RecoverResult {
  /** Events that were not in the inbox: now stored and projected. */
  recovered: number;
  touchedUnits: TouchedUnit[];
}

/**
 * Stores the events the inbox lacks (insert keyed by event id: rows already there, from any
 * source, are left alone) and projects them through the same code as webhooks, which also marks
 * their inbox rows processed. `account`: what they were listed under (Stripe-Account), used when
 * an event does not carry `account` itself.
 */
export async function recoverEvents(
  rt: Pick<Runtime, 'pool'>,
  stripe: Stripe,
  events: readonly Stripe.Event[],
  account: string | null,
  source: 'sweep' | 'replay',
): Promise<RecoverResult> {
  if (!events.length) return { recovered: 0, touchedUnits: [] };
  const withAccount = events.map((e) => (account && !e.account ? { ...e, account } : e));
  const fresh = await insertFetched(
    rt.pool,
    withAccount.map((e) => ({
      id: e.id,
      type: e.type,
      account: e.account ?? null,
      livemode: e.livemode,
      api_version: e.api_version ?? null,
      created: e.created,
      payload: JSON.stringify(e),
    })),
    source,
  );
  if (fresh.size === 0) return { recovered: 0, touchedUnits: [] };
  const toApply = withAccount.filter((e) => fresh.has(e.id)).sort((a, b) => a.created - b.created);
  try {
    const r = await applyEvents(rt.pool, stripe, toApply);
    return { recovered: toApply.length, touchedUnits: r.touchedUnits };
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
  }
  // One event cannot be projected: apply the others one by one and mark the poison ones failed,
  // as the event worker would, so one bad event never stalls a sweep.
  const touched: TouchedUnit[] = [];
  for (const e of toApply) {
    try {
      touched.push(...(await applyEvents(rt.pool, stripe, [e])).touchedUnits);
    } catch (err) {
      if (!(err instanceof InvalidEventError)) throw err;
      await markFailed(rt.pool, [e.id], err);
    }
  }
  return { recovered: toApply.length, touchedUnits: touched };
}
