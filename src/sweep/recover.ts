import { Prisma, rawRows } from '../db/prisma.js';
import { insertFetched, markFailed, type InboxEvent } from '../inbox/statements.js';
import type Stripe from 'stripe';
import type { Unit } from '../domain/units.js';
import { InvalidEventError, parseEventEnvelope } from '../inbox/envelope.js';
import { applyEvents } from '../projections/apply.js';
import type { Runtime } from '../runtime.js';

/**
 * The accounts a sweep (or an event replay) visits: the platform (null) first, then either
 * RECON_SWEEP_ACCOUNTS alone, when set (it narrows), or every connected account seen in
 * projections or the inbox plus — given an SDK client — every one `GET /v1/accounts` lists
 * (auto-paginated, through that client's rate limiter), so a fresh backfill covers them all.
 * Discovery refused with 403/400 (a restricted key without Connect read, a platform without
 * Connect) is logged and skipped; a 401 (bad key) or a network failure throws.
 */
export async function knownAccounts(
  rt: Pick<Runtime, 'prisma' | 'config'> & { log?: Runtime['log'] },
  opts: { stripe?: Stripe } = {},
): Promise<(string | null)[]> {
  if (rt.config.RECON_SWEEP_ACCOUNTS.length) {
    return [null, ...[...new Set(rt.config.RECON_SWEEP_ACCOUNTS)].sort()];
  }
  const rows = await rawRows<{ account: string }>(
    rt.prisma,
    Prisma.sql`SELECT account FROM transfers WHERE account IS NOT NULL
     UNION SELECT account FROM transfer_reversals WHERE account IS NOT NULL
     UNION SELECT account FROM credit_reversals WHERE account IS NOT NULL
     UNION SELECT account FROM debit_reversals WHERE account IS NOT NULL
     UNION SELECT account FROM received_credits WHERE account IS NOT NULL
     UNION SELECT account FROM received_debits WHERE account IS NOT NULL
     UNION SELECT account FROM stripe_events WHERE account IS NOT NULL`,
  );
  const set = new Set(rows.map((r) => r.account));
  if (opts.stripe) {
    for (const id of await discoverConnectedAccounts(opts.stripe, rt.log)) set.add(id);
  }
  return [null, ...[...set].sort()];
}

/** Every connected account `GET /v1/accounts` lists; [] (logged) when Stripe refuses the list. */
export async function discoverConnectedAccounts(
  stripe: Stripe,
  log?: Runtime['log'],
): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const a of stripe.accounts.list({ limit: 100 })) ids.push(a.id);
  } catch (err) {
    const e = err as { type?: string; statusCode?: number };
    if (e.type === 'StripeAuthenticationError' || e.statusCode === 401) throw err;
    if (e.type !== 'StripePermissionError' && e.type !== 'StripeInvalidRequestError') throw err;
    log?.warn(
      { reason: (err as Error).message.split('\n')[0] },
      'could not list connected accounts (GET /v1/accounts); sweeping the accounts seen in events only — grant the key Connect read or set RECON_SWEEP_ACCOUNTS',
    );
    return [];
  }
  return ids;
}

export interface RecoverResult {
  /** Events that were not in the inbox: now stored and projected. */
  recovered: number;
  touchedUnits: Unit[];
  /** Events the inbox does not admit (`parseEventEnvelope`, as for webhooks): neither stored nor projected. */
  refused: Array<{ id: unknown; message: string }>;
}

/**
 * Stores the events the inbox lacks (insert keyed by event id: rows already there, from any
 * source, are left alone) and projects them through the same code as webhooks, which also marks
 * their inbox rows processed. `account`: what they were listed under (Stripe-Account), used when
 * an event does not carry `account` itself.
 */
export async function recoverEvents(
  rt: Pick<Runtime, 'prisma'>,
  stripe: Stripe,
  events: readonly Stripe.Event[],
  account: string | null,
  source: 'sweep' | 'replay',
): Promise<RecoverResult> {
  if (!events.length) return { recovered: 0, touchedUnits: [], refused: [] };
  const withAccount = events.map((e) => (account && !e.account ? { ...e, account } : e));
  // The inbox admits what it would admit from a webhook: the same envelope check.
  const admitted: InboxEvent[] = [];
  const refused: RecoverResult['refused'] = [];
  for (const e of withAccount) {
    const r = parseEventEnvelope(JSON.stringify(e));
    if (r.ok) admitted.push(r.event);
    else refused.push({ id: e.id, message: r.message });
  }
  const fresh = await insertFetched(rt.prisma, admitted, source);
  if (fresh.size === 0) return { recovered: 0, touchedUnits: [], refused };
  const toApply = withAccount.filter((e) => fresh.has(e.id)).sort((a, b) => a.created - b.created);
  try {
    const r = await applyEvents(rt.prisma, stripe, toApply);
    return { recovered: toApply.length, touchedUnits: r.touchedUnits, refused };
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
  }
  // One event cannot be projected: apply the others one by one and mark the poison ones failed,
  // as the event worker would, so one bad event never stalls a sweep.
  const touched: Unit[] = [];
  for (const e of toApply) {
    try {
      touched.push(...(await applyEvents(rt.prisma, stripe, [e])).touchedUnits);
    } catch (err) {
      if (!(err instanceof InvalidEventError)) throw err;
      await markFailed(rt.prisma, [e.id], err);
    }
  }
  return { recovered: toApply.length, touchedUnits: touched, refused };
}
