import type Stripe from 'stripe';
import type { MismatchKind } from '../domain/types.js';
import type { Simulator } from '../simulator/index.js';
import type { Prng as Rng } from '../domain/prng.js';

/**
 * The scripted day of a marketplace that also runs Treasury accounts for its sellers. Every
 * Stripe call goes through the real SDK to the simulator; the platform's ledger is written as a
 * real platform would (an entry per reversal it asked for), except for a known handful of
 * planted disagreements that the product must find — and nothing else.
 */

export interface LedgerEntryBody {
  id: string;
  kind: 'transfer_reversal' | 'credit_reversal' | 'debit_reversal';
  stripe_id?: string;
  parent_id?: string;
  amount: number;
  currency: string;
  expected_status?: string;
  account?: string;
  occurred_at: string;
  metadata?: Record<string, string>;
}

export interface Planted {
  kind: MismatchKind;
  /** Stripe id the mismatch is about (null for missing_in_stripe with no Stripe id). */
  objectId: string | null;
  why: string;
}

export interface Scenario {
  ledger: LedgerEntryBody[];
  planted: Planted[];
  counts: {
    transfers: number;
    transferReversals: number;
    creditReversals: number;
    debitReversals: number;
  };
}

export const DEMO_ACCOUNTS = [
  'acct_1DemoBakery00001',
  'acct_1DemoFlorist0002',
  'acct_1DemoBikes000003',
] as const;

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

export async function playDay(
  sim: Simulator,
  rng: Rng,
  opts: {
    transfers: number;
    book: (entry: LedgerEntryBody) => Promise<void>;
    /** Steps done of the day's total (transfers created, then transfers worked through). */
    onProgress?: (done: number, total: number) => void;
  },
): Promise<Scenario> {
  const platform = sim.stripe();
  const ledger: LedgerEntryBody[] = [];
  // The platform books each reversal right after Stripe answers, as a real one would.
  const book = async (entry: LedgerEntryBody) => {
    ledger.push(entry);
    await opts.book(entry);
  };
  const planted: Planted[] = [];
  const counts = { transfers: 0, transferReversals: 0, creditReversals: 0, debitReversals: 0 };
  let entrySeq = 0;
  const nextEntryId = () => `le_${String(++entrySeq).padStart(5, '0')}`;

  // --- Connect: payouts to sellers, and refunds pulled back with transfer reversals. ---------
  const transfers: Stripe.Transfer[] = [];
  for (let i = 0; i < opts.transfers; i++) {
    const destination = rng.pick(DEMO_ACCOUNTS);
    transfers.push(
      await platform.transfers.create({
        amount: rng.between(20, 900) * 100 + rng.between(0, 99),
        currency: 'usd',
        destination,
        transfer_group: `order_${10_000 + i}`,
        metadata: { order_id: String(10_000 + i) },
      }),
    );
    counts.transfers++;
    opts.onProgress?.(counts.transfers, opts.transfers * 2);
  }

  const reversalsOf = new Map<string, Stripe.TransferReversal[]>();
  let plantedDuplicate = false;
  let plantedAmount = false;
  let plantedMissingLedger = false;
  let plantedCurrency = false;
  for (const [i, tr] of transfers.entries()) {
    opts.onProgress?.(opts.transfers + i + 1, opts.transfers * 2);
    // Two busy transfers get a dozen partial reversals each: more than the 10 a transfer event
    // embeds, so the worker has to list the rest from the API.
    const busy = i < 2;
    if (!busy && !rng.chance(0.45)) continue;
    const parts = busy ? 12 : rng.chance(0.5) ? 1 : rng.between(2, 3);
    let remaining = tr.amount;
    for (let p = 0; p < parts && remaining > 0; p++) {
      const full = !busy && p === parts - 1 && rng.chance(0.5);
      const amount = full
        ? remaining
        : Math.max(1, Math.min(remaining, Math.floor(tr.amount / (parts + 2))));
      const entryId = nextEntryId();
      // Half the platform's calls tag the reversal with its ledger entry id (metadata match);
      // the rest are matched by the Stripe id the platform recorded.
      const tagged = rng.chance(0.5);
      const rev = await platform.transfers.createReversal(tr.id, {
        amount,
        metadata: tagged ? { ledger_entry_id: entryId } : { reason: 'refund' },
      });
      remaining -= amount;
      counts.transferReversals++;
      reversalsOf.set(tr.id, [...(reversalsOf.get(tr.id) ?? []), rev]);

      if (!busy && !plantedMissingLedger && i > 20) {
        plantedMissingLedger = true;
        planted.push({
          kind: 'missing_in_ledger',
          objectId: rev.id,
          why: 'a reversal the platform never booked',
        });
        continue;
      }
      const entry: LedgerEntryBody = {
        id: entryId,
        kind: 'transfer_reversal',
        ...(tagged ? {} : { stripe_id: rev.id }),
        parent_id: tr.id,
        amount,
        currency: 'usd',
        expected_status: 'succeeded',
        account: undefined,
        occurred_at: iso(rev.created),
      };
      if (!busy && !plantedAmount && i > 10) {
        plantedAmount = true;
        entry.amount = amount + 100;
        planted.push({
          kind: 'amount_mismatch',
          objectId: rev.id,
          why: 'ledger booked $1.00 more than Stripe reversed',
        });
      } else if (!busy && !plantedCurrency && i > 30 && !tagged) {
        plantedCurrency = true;
        entry.currency = 'eur';
        planted.push({
          kind: 'currency_mismatch',
          objectId: rev.id,
          why: 'ledger booked the refund in EUR',
        });
      }
      await book(entry);
      // The platform's retry booked one reversal twice, under a second entry id.
      if (
        !busy &&
        !plantedDuplicate &&
        i > 40 &&
        entry.stripe_id &&
        !planted.some((x) => x.objectId === rev.id)
      ) {
        plantedDuplicate = true;
        await book({ ...entry, id: nextEntryId() });
        planted.push({
          kind: 'duplicate_match',
          objectId: rev.id,
          why: 'two ledger entries claim one reversal',
        });
      }
    }
  }
  // A reversal the ledger names by a Stripe id that never existed (booked from a mistyped
  // response, say): looked up in Stripe, confirmed absent by its 404. Listed before the
  // parent-only orphan below, whose planted row matches any missing_in_stripe.
  const ghostParent = transfers[transfers.length - 2]!;
  const ghostId = 'trr_1DemoNeverExisted0001';
  await book({
    id: nextEntryId(),
    kind: 'transfer_reversal',
    stripe_id: ghostId,
    parent_id: ghostParent.id,
    amount: 2_000,
    currency: 'usd',
    expected_status: 'succeeded',
    occurred_at: iso(ghostParent.created + 1_800),
  });
  planted.push({
    kind: 'missing_in_stripe',
    objectId: ghostId,
    why: 'the ledger names a reversal Stripe never had',
  });
  // A reversal the platform booked but never sent to Stripe (its API call timed out, say).
  const orphanParent = transfers[transfers.length - 1]!;
  await book({
    id: nextEntryId(),
    kind: 'transfer_reversal',
    parent_id: orphanParent.id,
    amount: 1_250,
    currency: 'usd',
    expected_status: 'succeeded',
    occurred_at: iso(orphanParent.created + 3_600),
  });
  planted.push({
    kind: 'missing_in_stripe',
    objectId: null,
    why: 'booked in the ledger, never reversed in Stripe',
  });

  // --- Treasury: each seller has a FinancialAccount; some credits and debits get reversed. ---
  let creditPlan = 0;
  let debitPlan = 0;
  for (const account of DEMO_ACCOUNTS) {
    const stripe = sim.stripe({ stripeAccount: account });
    const fa = await stripe.treasury.financialAccounts.create({
      supported_currencies: ['usd'],
      features: {},
    });
    for (let k = 0; k < 6; k++) {
      const rc = await stripe.testHelpers.treasury.receivedCredits.create({
        financial_account: fa.id,
        amount: rng.between(50, 2_000) * 100,
        currency: 'usd',
        network: 'ach',
      });
      if (k >= 4) continue; // not every credit is reversed
      const plan = creditPlan++;
      const fate = plan === 1 ? 'stuck' : plan === 4 ? 'canceled' : 'normal';
      const cr = await stripe.treasury.creditReversals.create({
        received_credit: rc.id,
        metadata: fate === 'normal' ? {} : { sim_outcome: fate },
      });
      counts.creditReversals++;
      if (fate === 'stuck')
        planted.push({
          kind: 'stuck_processing',
          objectId: cr.id,
          why: 'still processing after 8 days',
        });
      if (fate === 'canceled')
        planted.push({
          kind: 'reversal_canceled',
          objectId: cr.id,
          why: 'Stripe canceled it (no webhook exists for that)',
        });
      await book({
        id: nextEntryId(),
        kind: 'credit_reversal',
        stripe_id: cr.id,
        parent_id: rc.id,
        amount: cr.amount,
        currency: cr.currency,
        expected_status: 'posted',
        account,
        occurred_at: iso(cr.created),
      });
    }
    for (let k = 0; k < 4; k++) {
      const rd = await stripe.testHelpers.treasury.receivedDebits.create({
        financial_account: fa.id,
        amount: rng.between(20, 800) * 100,
        currency: 'usd',
        network: 'ach',
      });
      if (k >= 3) continue;
      const plan = debitPlan++;
      // Two disputes are lost: one the platform already wrote off (no alarm), one it did not.
      const outcome = plan === 2 || plan === 5 ? 'lost' : 'won';
      const dr = await stripe.treasury.debitReversals.create({
        received_debit: rd.id,
        metadata: outcome === 'lost' ? { sim_outcome: 'lost' } : {},
      });
      counts.debitReversals++;
      const expectsLoss = plan === 5;
      if (outcome === 'lost' && !expectsLoss) {
        planted.push({
          kind: 'reversal_lost',
          objectId: dr.id,
          why: 'dispute lost; the ledger still expects the money back',
        });
      }
      await book({
        id: nextEntryId(),
        kind: 'debit_reversal',
        stripe_id: dr.id,
        parent_id: rd.id,
        amount: dr.amount,
        currency: dr.currency,
        expected_status: expectsLoss ? 'lost' : 'won',
        account,
        occurred_at: iso(dr.created),
      });
    }
  }
  return { ledger, planted, counts };
}
