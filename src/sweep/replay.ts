import type Stripe from 'stripe';
import { HANDLED_EVENT_TYPES } from '../domain/event-types.js';
import { wakeReconcile } from '../reconciliation/enqueue.js';
import type { Runtime } from '../runtime.js';
import { knownAccounts, recoverEvents } from './recover.js';
import { PAGE_SIZE } from './run.js';
import { createSweepStripeClient } from '../stripe/client.js';

export interface ReplayStripeEventsOptions {
  /** Events created at or after this time (Stripe keeps 30 days). */
  since: Date;
  /** Only this account (`acct_…` or `platform`); default: every known account. */
  account?: string | null;
  stripe?: Stripe;
  onProgress?: (p: { account: string | null; listed: number; recovered: number }) => void;
}

export interface ReplayStripeEventsResult {
  listed: number;
  recovered: number;
}

/**
 * `recon replay --stripe-events --since T`: lists GET /v1/events since T (rate-limited like a
 * sweep), stores the ones the inbox lacks (source `replay`), projects them, and queues their
 * units for reconciliation. Events already in the inbox are left alone.
 */
export async function replayStripeEvents(
  rt: Runtime,
  opts: ReplayStripeEventsOptions,
): Promise<ReplayStripeEventsResult> {
  const stripe = opts.stripe ?? createSweepStripeClient(rt.config);
  const accounts = opts.account
    ? [opts.account === 'platform' ? null : opts.account]
    : await knownAccounts(rt, { stripe });
  const out = { listed: 0, recovered: 0 };
  for (const account of accounts) {
    const list = stripe.events.list(
      {
        limit: PAGE_SIZE,
        types: [...HANDLED_EVENT_TYPES],
        created: { gte: Math.floor(opts.since.getTime() / 1000) },
      },
      account ? { stripeAccount: account } : undefined,
    );
    let page: Stripe.Event[] = [];
    const flush = async () => {
      const r = await recoverEvents(rt, stripe, page, account, 'replay');
      if (r.refused.length) {
        rt.log.warn(
          { refused: r.refused, account: account ?? 'platform' },
          'replay: events the inbox does not admit (not stored)',
        );
      }
      out.listed += page.length;
      out.recovered += r.recovered;
      page = [];
      // The projection marked its units in the outbox; a worker only needs waking.
      if (r.touchedUnits.length > 0) wakeReconcile(rt);
      opts.onProgress?.({ account, ...out });
    };
    for await (const e of list) {
      page.push(e);
      if (page.length >= PAGE_SIZE) await flush();
    }
    if (page.length) await flush();
  }
  rt.log.info(out, 'stripe events replayed');
  return out;
}
