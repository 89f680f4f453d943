import { describeDuration } from './duration.js';
import { fingerprint } from './fingerprint.js';
import { absenceConfirmed, entryGraceStartMs, stripeLookupFor } from './lookup.js';
import { accountsCompatible, matchUnit, sameCurrency } from './match.js';
import { formatMoney } from './money.js';
import { raiseSeverity, severityFor } from './severity.js';
import type {
  LedgerEntry,
  Mismatch,
  ObjectType,
  ReconRules,
  ReconUnit,
  ReversalKind,
  Severity,
  StripeReversal,
} from './types.js';

/**
 * reconcile(): one unit's Stripe projection and ledger entries in, its mismatches out. Pure: no
 * IO, `now` is an argument, and the result does not depend on the order of the input arrays.
 * The rules are written out for payments engineers in `README.md` beside this file; the comments
 * here say why the code is shaped the way it is.
 *
 * Conventions for every row: `expected` is what the ledger (or a rule) says, `actual` what Stripe
 * shows; both are small snake_case JSON values, like the API. `amountAtRisk` is in the row's
 * `currency`, and an object's money is counted once: when a reversal is both unmatched and lost,
 * canceled or stuck, the amount sits on the lost/canceled/stuck row and `missing_in_ledger` says 0.
 */

const LABEL: Record<ReversalKind, string> = {
  transfer_reversal: 'transfer reversal',
  credit_reversal: 'credit reversal',
  debit_reversal: 'debit reversal',
};

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function onAccount(account: string | null): string {
  return account ? ` on ${account}` : '';
}

// Grace runs from the evidence's own time (see lookup.ts); re-exported for existing callers.
export { entryGraceStartMs };

type Draft = Omit<Mismatch, 'fingerprint' | 'severity'> & { severity?: Severity };

export function reconcile(unit: ReconUnit, rules: ReconRules, now: number): Mismatch[] {
  const out: Mismatch[] = [];
  const emit = (d: Draft) => {
    const { severity, ...rest } = d;
    out.push({
      fingerprint: fingerprint(d.kind, d.objectId, d.ledgerEntryId),
      kind: rest.kind,
      severity: severity ?? severityFor(d.kind, rules),
      objectType: rest.objectType,
      objectId: rest.objectId,
      ledgerEntryId: rest.ledgerEntryId,
      account: rest.account,
      currency: rest.currency,
      amountAtRisk: rest.amountAtRisk,
      expected: rest.expected,
      actual: rest.actual,
      message: rest.message,
    });
  };
  const pastGrace = (sinceMs: number) => now - sinceMs >= rules.graceMs;
  const money = (amount: number, currency: string) => formatMoney(amount, currency);

  const matching = matchUnit(unit, rules);
  /**
   * Ledger-minus-Stripe amount already explained by a per-reversal mismatch (raised, or waiting
   * out its grace period). Used by the transfer-total check so that a per-reversal problem is
   * never counted again as drift.
   */
  let explained = 0;

  /** Facts about the Stripe object itself: lost, canceled, stuck. Returns how many were raised. */
  const objectFacts = (r: StripeReversal, e: LedgerEntry | null): number => {
    const before = out.length;
    const expectedStatus = e?.expectedStatus ?? null;
    const label = LABEL[r.kind];
    const base = {
      objectType: r.kind as ObjectType,
      objectId: r.id,
      ledgerEntryId: e?.id ?? null,
      account: r.account ?? e?.account ?? null,
      currency: r.currency,
    };
    const ledgerSays = e
      ? expectedStatus
        ? ` Ledger entry ${e.id} expected it to be ${expectedStatus}.`
        : ` Ledger entry ${e.id} records it.`
      : '';
    // A lost debit reversal is a fact: it flags at once, whatever the grace period.
    if (r.status === 'lost' && expectedStatus !== 'lost') {
      const credit = r.initialCreditGranted
        ? ` A provisional credit of ${money(r.amount, r.currency)} was already granted for it and will be taken back.`
        : '';
      emit({
        ...base,
        kind: 'reversal_lost',
        amountAtRisk: r.amount,
        expected: { status: expectedStatus },
        actual: { status: r.status, status_raw: r.statusRaw },
        message:
          `${capitalize(label)} ${r.id} for ${money(r.amount, r.currency)}${onAccount(r.account)} was lost: ` +
          `the disputed debit will not be returned.${credit}${ledgerSays}`,
      });
    }
    // So is a cancellation: Stripe will not move this money.
    if (r.status === 'canceled' && expectedStatus !== 'canceled') {
      emit({
        ...base,
        kind: 'reversal_canceled',
        amountAtRisk: r.amount,
        expected: { status: expectedStatus },
        actual: { status: r.status, status_raw: r.statusRaw },
        message:
          `${capitalize(label)} ${r.id} for ${money(r.amount, r.currency)}${onAccount(r.account)} was canceled ` +
          `by Stripe, so the money was not moved.${ledgerSays}`,
      });
    }
    if (r.status === 'processing' && r.kind !== 'transfer_reversal') {
      const limit = rules.stuckAfterMs[r.kind];
      const age = now - r.createdMs;
      if (age > limit) {
        const configured = severityFor('stuck_processing', rules);
        emit({
          ...base,
          kind: 'stuck_processing',
          severity: age > 2 * limit ? raiseSeverity(configured) : configured,
          amountAtRisk: r.amount,
          expected: { status: expectedStatus, within_ms: limit },
          actual: { status: r.status, processing_for_ms: age },
          message:
            `${capitalize(label)} ${r.id} for ${money(r.amount, r.currency)}${onAccount(r.account)} has been ` +
            `processing for ${describeDuration(age)}, longer than the expected ${describeDuration(limit)}.`,
        });
      }
    }
    return out.length - before;
  };

  // Matched reversals: facts, then the pair comparison, then extra claimants.
  for (const { reversal: r, primary, extras } of matching.matched) {
    const e = primary.entry;
    const label = LABEL[r.kind];
    objectFacts(r, e);
    const pair = {
      objectType: r.kind as ObjectType,
      objectId: r.id,
      ledgerEntryId: e.id,
      account: r.account ?? e.account,
    };
    if (!sameCurrency(r.currency, e.currency)) {
      // The amounts cannot be compared across currencies: this is not also an amount_mismatch.
      explained += e.amount - r.amount;
      emit({
        ...pair,
        kind: 'currency_mismatch',
        currency: r.currency,
        amountAtRisk: r.amount,
        expected: { amount: e.amount, currency: e.currency },
        actual: { amount: r.amount, currency: r.currency },
        message:
          `${capitalize(label)} ${r.id} is ${money(r.amount, r.currency)} in Stripe, but ledger entry ${e.id} ` +
          `records it in ${e.currency.toUpperCase()} (${money(e.amount, e.currency)}).`,
      });
    } else if (r.amount !== e.amount) {
      explained += e.amount - r.amount;
      const diff = Math.abs(r.amount - e.amount);
      emit({
        ...pair,
        kind: 'amount_mismatch',
        currency: r.currency,
        amountAtRisk: diff,
        expected: { amount: e.amount, currency: e.currency },
        actual: { amount: r.amount, currency: r.currency },
        message:
          `${capitalize(label)} ${r.id} is ${money(r.amount, r.currency)} in Stripe, but ledger entry ${e.id} ` +
          `records ${money(e.amount, e.currency)} (a difference of ${money(diff, r.currency)}).`,
      });
    }
    // Only two final words can contradict each other: an expected `processing` is the ledger not
    // having booked the outcome yet, and a Stripe `processing` has not decided yet (stuck covers
    // it). Lost and canceled have their own kinds above.
    const want = e.expectedStatus;
    const got = r.status;
    if (
      want !== null &&
      want !== got &&
      want !== 'processing' &&
      got !== 'processing' &&
      got !== 'lost' &&
      got !== 'canceled'
    ) {
      emit({
        ...pair,
        kind: 'status_mismatch',
        currency: r.currency,
        amountAtRisk: r.amount,
        expected: { status: want },
        actual: { status: got, status_raw: r.statusRaw },
        message: `Ledger entry ${e.id} expects ${label} ${r.id} (${money(r.amount, r.currency)}) to be ${want}, but Stripe shows it ${got}.`,
      });
    }
    if (extras.length > 0) {
      const extraAmount = extras.reduce((s, c) => s + c.entry.amount, 0);
      explained += extraAmount;
      // Grace from the newest claimant's own time: a ledger posting a fresh entry before removing
      // the old one is given the grace period, an import of two old claims is not.
      const newest = Math.max(...extras.map((c) => entryGraceStartMs(c.entry)));
      if (pastGrace(newest)) {
        const ids = [e, ...extras.map((c) => c.entry)].map((x) => x.id);
        emit({
          objectType: r.kind,
          objectId: r.id,
          ledgerEntryId: null,
          account: r.account,
          currency: r.currency,
          kind: 'duplicate_match',
          amountAtRisk: extraAmount,
          expected: { ledger_entries: 1 },
          actual: { ledger_entries: ids.length, ledger_entry_ids: ids },
          message:
            `${capitalize(label)} ${r.id} (${money(r.amount, r.currency)}) is claimed by ${ids.length} ledger ` +
            `entries (${ids.join(', ')}); only one should record it.`,
        });
      }
    }
  }

  // Reversals the ledger does not know (yet).
  const claimedBy = new Map<string, string>();
  for (const m of matching.matched) {
    for (const c of [m.primary, ...m.extras]) claimedBy.set(c.entry.id, m.reversal.id);
  }
  for (const r of matching.unmatchedReversals) {
    const facts = objectFacts(r, null);
    explained -= r.amount;
    if (!pastGrace(r.createdMs)) continue;
    const label = LABEL[r.kind];
    const movedNothing = r.status === 'canceled' || r.status === 'lost';
    const named = Object.hasOwn(r.metadata, rules.metadataKey)
      ? r.metadata[rules.metadataKey]
      : undefined;
    const taken = named !== undefined ? claimedBy.get(named) : undefined;
    const hint = taken
      ? ` Its metadata names ledger entry ${named}, which already matches ${taken}: this may be a duplicate reversal.`
      : '';
    emit({
      objectType: r.kind,
      objectId: r.id,
      ledgerEntryId: null,
      account: r.account,
      currency: r.currency,
      kind: 'missing_in_ledger',
      severity: movedNothing && !rules.severity?.missing_in_ledger ? 'low' : undefined,
      amountAtRisk: facts > 0 ? 0 : r.amount,
      expected: null,
      actual: { amount: r.amount, currency: r.currency, status: r.status, parent_id: r.parentId },
      message:
        `${capitalize(label)} ${r.id} for ${money(r.amount, r.currency)}${onAccount(r.account)} ` +
        `(${r.parentId}) has no matching ledger entry.` +
        (movedNothing ? ` It was ${r.status}, so no money moved.` : '') +
        hint,
    });
  }

  // Entries Stripe does not have (yet). With confirmation on, an entry naming something Stripe can
  // be asked about waits for the lookup's answer (or a sweep's listing): a lost webhook must not
  // look like a missing reversal. It is still counted as explained, so no drift is raised for it.
  const missingInStripe: LedgerEntry[] = [];
  const projectedIds = new Set(unit.reversals.map((r) => r.id));
  const confirmedAt = new Map<LedgerEntry, number>();
  for (const e of matching.unmatchedEntries) {
    explained += e.amount;
    if (!pastGrace(entryGraceStartMs(e))) continue;
    if (rules.confirmMissingInStripe && stripeLookupFor(e, projectedIds) !== null) {
      if (!absenceConfirmed(e)) continue;
      confirmedAt.set(e, e.absentConfirmedAtMs!);
    }
    missingInStripe.push(e);
  }

  // Transfer totals (Connect only, and only once the transfer itself is projected).
  const absorbed = new Set<LedgerEntry>();
  if (unit.kind === 'transfer_reversal' && unit.transfer) {
    const t = unit.transfer;
    const projected = unit.reversals.reduce((s, r) => s + r.amount, 0);
    const reversed = Math.max(projected, t.amountReversed);
    const ledgerTotal = unit.ledger.reduce((s, e) => s + e.amount, 0);
    const base = {
      objectType: 'transfer' as const,
      objectId: t.id,
      ledgerEntryId: null,
      account: t.account,
      currency: t.currency,
    };
    if (reversed > t.amount) {
      // The stronger statement: this also explains any gap between the two totals.
      emit({
        ...base,
        kind: 'over_reversed',
        amountAtRisk: reversed - t.amount,
        expected: { max_reversible: t.amount },
        actual: { amount_reversed: t.amountReversed, projected_total: projected },
        message:
          `Transfer ${t.id}${onAccount(t.account)} was for ${money(t.amount, t.currency)}, but ${money(reversed, t.currency)} ` +
          `of reversals are recorded against it: ${money(reversed - t.amount, t.currency)} more than was transferred.`,
      });
    } else {
      const stripeGap = projected - t.amountReversed;
      // The ledger's total against amount_reversed, less what per-reversal mismatches explain.
      // Every ledger/Stripe difference on a single reversal is itself a mismatch (or waiting out
      // its grace period), so with today's matching this equals stripeGap; it stays as a guard so
      // that a ledger-side difference nothing else explains can never pass silently.
      const ledgerGap = ledgerTotal - t.amountReversed - explained;
      if (stripeGap < 0) {
        // Stripe counts reversals we have not projected yet (e.g. beyond the 10 embedded in the
        // transfer event). Ledger entries naming transfer reversals we do not have that add up to
        // exactly that gap are the same root cause: raise the drift only, naming them.
        const naming = missingInStripe.filter(
          (e) =>
            e.stripeId !== null &&
            e.stripeId.startsWith('trr_') &&
            !unit.reversals.some((r) => r.id === e.stripeId) &&
            sameCurrency(e.currency, t.currency),
        );
        const sum = naming.reduce((s, e) => s + e.amount, 0);
        if (naming.length > 0 && sum === -stripeGap) for (const e of naming) absorbed.add(e);
      }
      if (stripeGap !== 0 || ledgerGap !== 0) {
        // Stripe's own times only: when we received or re-fetched the transfer says nothing
        // about how old the disagreement is (a sweep re-fetching it must not hide it again).
        const since = Math.max(t.createdMs, ...unit.reversals.map((r) => r.createdMs));
        if (pastGrace(since)) {
          const gap = stripeGap !== 0 ? stripeGap : ledgerGap;
          const covered = [...absorbed].map((e) => e.id);
          const message =
            stripeGap < 0
              ? `Stripe reports ${money(t.amountReversed, t.currency)} reversed on transfer ${t.id}${onAccount(t.account)}, ` +
                `but the reversals on record add up to ${money(projected, t.currency)}: ${money(-stripeGap, t.currency)} of ` +
                `reversals are missing from our records.` +
                (covered.length > 0
                  ? ` Ledger entries ${covered.join(', ')} account for the difference, so the reversals have likely not been synced yet.`
                  : '')
              : stripeGap > 0
                ? `The reversals on record for transfer ${t.id}${onAccount(t.account)} add up to ${money(projected, t.currency)}, ` +
                  `but Stripe reports only ${money(t.amountReversed, t.currency)} reversed (${money(stripeGap, t.currency)} too much).`
                : `The ledger's reversals for transfer ${t.id}${onAccount(t.account)} add up to ${money(ledgerTotal, t.currency)}, ` +
                  `which differs from the ${money(t.amountReversed, t.currency)} Stripe reports reversed by ` +
                  `${money(Math.abs(ledgerGap), t.currency)} that no single reversal explains.`;
          emit({
            ...base,
            kind: 'transfer_total_drift',
            amountAtRisk: Math.abs(gap),
            expected: { amount_reversed: t.amountReversed },
            actual: {
              projected_total: projected,
              ledger_total: ledgerTotal,
              ...(covered.length > 0 ? { ledger_entries_covering_gap: covered } : {}),
            },
            message,
          });
        }
      }
    }
  }

  const reversalsById = new Map(unit.reversals.map((r) => [r.id, r] as const));
  for (const e of missingInStripe) {
    if (absorbed.has(e)) continue;
    const label = LABEL[e.kind];
    const elsewhere = e.stripeId !== null ? reversalsById.get(e.stripeId) : undefined;
    // An entry expecting the reversal to fail expects no money to move: nothing is at risk, and
    // the message says so, or the amount it names reads as money lost next to "$0.00 at risk".
    const expectsNoMoney = e.expectedStatus === 'canceled' || e.expectedStatus === 'lost';
    const noRisk = expectsNoMoney
      ? ` Nothing is at risk: the entry expects it to be ${e.expectedStatus}, so no money was to move; the entry itself is what needs checking.`
      : '';
    const message =
      elsewhere && !accountsCompatible(elsewhere.account, e.account)
        ? `Ledger entry ${e.id} records ${label} ${e.stripeId} for ${money(e.amount, e.currency)}${onAccount(e.account)}, ` +
          `but Stripe has ${e.stripeId}${onAccount(elsewhere.account)}.`
        : `Ledger entry ${e.id} records a ${label}${e.stripeId ? ` ${e.stripeId}` : ''} of ${money(e.amount, e.currency)}` +
          `${onAccount(e.account)}${e.parentId ? ` against ${e.parentId}` : ''}, but Stripe has no such reversal` +
          (confirmedAt.has(e)
            ? ` (confirmed absent in Stripe at ${new Date(confirmedAt.get(e)!).toISOString()}).`
            : '.') +
          noRisk;
    emit({
      objectType: e.kind,
      objectId: e.stripeId,
      ledgerEntryId: e.id,
      account: e.account,
      currency: e.currency,
      kind: 'missing_in_stripe',
      amountAtRisk: expectsNoMoney ? 0 : e.amount,
      expected: {
        amount: e.amount,
        currency: e.currency,
        status: e.expectedStatus,
        parent_id: e.parentId,
      },
      actual: elsewhere ? { account: elsewhere.account } : null,
      message,
    });
  }

  return sortMismatches(out);
}

/** Deterministic order: by fingerprint (unique for valid input), then content. */
export function sortMismatches(ms: readonly Mismatch[]): Mismatch[] {
  return ms
    .map((m) => ({ m, key: JSON.stringify(m) }))
    .sort(
      (a, b) =>
        (a.m.fingerprint < b.m.fingerprint ? -1 : a.m.fingerprint > b.m.fingerprint ? 1 : 0) ||
        (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    )
    .map((x) => x.m);
}
