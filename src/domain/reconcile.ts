import { describeDuration } from './duration.js';
import { fingerprint } from './fingerprint.js';
import { REVERSAL_ID_PREFIX } from './ids.js';
import { absenceConfirmed, entryGraceStartMs, stripeLookupFor } from './lookup.js';
import {
  accountsCompatible,
  matchUnit,
  sameCurrency,
  type ReversalMatch,
  type UnitMatching,
} from './match.js';
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
  TransferSnapshot,
} from './types.js';

/**
 * reconcile(): one unit's Stripe projection and ledger entries in, its mismatches out. Pure: no
 * IO, `now` is an argument, and the result does not depend on the order of the input arrays.
 * The rules are written out for payments engineers in `README.md` beside this file; the comments
 * here say why the code is shaped the way it is. One function per rule below, named after the
 * kind it raises; `reconcile()` is the driver.
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

const money = (amount: number, currency: string) => formatMoney(amount, currency);

// Grace runs from the evidence's own time (see lookup.ts); re-exported for existing callers.
export { entryGraceStartMs };

/** A mismatch before its fingerprint and (unless the rule sets one) its severity. */
type Draft = Omit<Mismatch, 'fingerprint' | 'severity'> & { severity?: Severity };

/** What every rule may read. */
interface RuleContext {
  unit: ReconUnit;
  rules: ReconRules;
  now: number;
  matching: UnitMatching;
}

function pastGrace(ctx: RuleContext, sinceMs: number): boolean {
  return ctx.now - sinceMs >= ctx.rules.graceMs;
}

export function reconcile(unit: ReconUnit, rules: ReconRules, now: number): Mismatch[] {
  const ctx: RuleContext = { unit, rules, now, matching: matchUnit(unit, rules) };
  const drafts: Draft[] = [];
  // Matched reversals: facts, then the pair comparison, then extra claimants.
  for (const m of ctx.matching.matched) {
    drafts.push(...reversalFacts(ctx, m.reversal, m.primary.entry));
    drafts.push(...pairMismatches(m));
    const duplicate = duplicateMatch(ctx, m);
    if (duplicate) drafts.push(duplicate);
  }
  drafts.push(...missingInLedger(ctx));
  const candidates = missingInStripeCandidates(ctx);
  const totals = transferTotals(ctx, candidates);
  drafts.push(...totals.drafts);
  drafts.push(...missingInStripe(ctx, candidates, totals.absorbed));
  return sortMismatches(drafts.map((d) => finish(d, rules)));
}

function finish(d: Draft, rules: ReconRules): Mismatch {
  const { severity, ...rest } = d;
  return {
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
  };
}

/**
 * Ledger-minus-Stripe amount already explained by a per-reversal mismatch (raised, or waiting out
 * its grace period): every matched pair's difference, extra claimants, unmatched entries, less
 * unmatched reversals. The transfer-total check subtracts it so that a per-reversal problem is
 * never counted again as drift.
 */
function explainedAmount(matching: UnitMatching): number {
  let explained = 0;
  for (const { reversal: r, primary, extras } of matching.matched) {
    explained += primary.entry.amount - r.amount;
    explained += extras.reduce((s, c) => s + c.entry.amount, 0);
  }
  for (const r of matching.unmatchedReversals) explained -= r.amount;
  for (const e of matching.unmatchedEntries) explained += e.amount;
  return explained;
}

// --- Facts about the Stripe object itself: lost, canceled, stuck ---------------------------------

type ObjectFact = Omit<Draft, 'kind' | 'amountAtRisk' | 'expected' | 'actual' | 'message'>;

/** The facts about one reversal, matched to `e` or not (then `e` is null). */
function reversalFacts(ctx: RuleContext, r: StripeReversal, e: LedgerEntry | null): Draft[] {
  const expectedStatus = e?.expectedStatus ?? null;
  const base: ObjectFact = {
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
  return [
    reversalLost(r, expectedStatus, base, ledgerSays),
    reversalCanceled(r, expectedStatus, base, ledgerSays),
    stuckProcessing(ctx, r, expectedStatus, base),
  ].filter((d): d is Draft => d !== null);
}

/** A lost debit reversal is a fact: it flags at once, whatever the grace period. */
function reversalLost(
  r: StripeReversal,
  expectedStatus: string | null,
  base: ObjectFact,
  ledgerSays: string,
): Draft | null {
  if (r.status !== 'lost' || expectedStatus === 'lost') return null;
  const credit = r.initialCreditGranted
    ? ` A provisional credit of ${money(r.amount, r.currency)} was already granted for it and will be taken back.`
    : '';
  return {
    ...base,
    kind: 'reversal_lost',
    amountAtRisk: r.amount,
    expected: { status: expectedStatus },
    actual: { status: r.status, status_raw: r.statusRaw },
    message:
      `${capitalize(LABEL[r.kind])} ${r.id} for ${money(r.amount, r.currency)}${onAccount(r.account)} was lost: ` +
      `the disputed debit will not be returned.${credit}${ledgerSays}`,
  };
}

/** So is a cancellation: Stripe will not move this money. */
function reversalCanceled(
  r: StripeReversal,
  expectedStatus: string | null,
  base: ObjectFact,
  ledgerSays: string,
): Draft | null {
  if (r.status !== 'canceled' || expectedStatus === 'canceled') return null;
  return {
    ...base,
    kind: 'reversal_canceled',
    amountAtRisk: r.amount,
    expected: { status: expectedStatus },
    actual: { status: r.status, status_raw: r.statusRaw },
    message:
      `${capitalize(LABEL[r.kind])} ${r.id} for ${money(r.amount, r.currency)}${onAccount(r.account)} was canceled ` +
      `by Stripe, so the money was not moved.${ledgerSays}`,
  };
}

function stuckProcessing(
  ctx: RuleContext,
  r: StripeReversal,
  expectedStatus: string | null,
  base: ObjectFact,
): Draft | null {
  if (r.status !== 'processing' || r.kind === 'transfer_reversal') return null;
  const limit = ctx.rules.stuckAfterMs[r.kind];
  const age = ctx.now - r.createdMs;
  if (!(age > limit)) return null;
  const configured = severityFor('stuck_processing', ctx.rules);
  return {
    ...base,
    kind: 'stuck_processing',
    severity: age > 2 * limit ? raiseSeverity(configured) : configured,
    amountAtRisk: r.amount,
    expected: { status: expectedStatus, within_ms: limit },
    actual: { status: r.status, processing_for_ms: age },
    message:
      `${capitalize(LABEL[r.kind])} ${r.id} for ${money(r.amount, r.currency)}${onAccount(r.account)} has been ` +
      `processing for ${describeDuration(age)}, longer than the expected ${describeDuration(limit)}.`,
  };
}

// --- A matched pair: currency or amount, status, extra claimants ---------------------------------

type PairBase = Pick<Draft, 'objectType' | 'objectId' | 'ledgerEntryId' | 'account'>;

function pairMismatches({ reversal: r, primary }: ReversalMatch): Draft[] {
  const e = primary.entry;
  const pair: PairBase = {
    objectType: r.kind as ObjectType,
    objectId: r.id,
    ledgerEntryId: e.id,
    account: r.account ?? e.account,
  };
  // The amounts cannot be compared across currencies: a currency mismatch is not also an
  // amount_mismatch.
  return [
    currencyMismatch(r, e, pair) ?? amountMismatch(r, e, pair),
    statusMismatch(r, e, pair),
  ].filter((d): d is Draft => d !== null);
}

function currencyMismatch(r: StripeReversal, e: LedgerEntry, pair: PairBase): Draft | null {
  if (sameCurrency(r.currency, e.currency)) return null;
  return {
    ...pair,
    kind: 'currency_mismatch',
    currency: r.currency,
    amountAtRisk: r.amount,
    expected: { amount: e.amount, currency: e.currency },
    actual: { amount: r.amount, currency: r.currency },
    message:
      `${capitalize(LABEL[r.kind])} ${r.id} is ${money(r.amount, r.currency)} in Stripe, but ledger entry ${e.id} ` +
      `records it in ${e.currency.toUpperCase()} (${money(e.amount, e.currency)}).`,
  };
}

function amountMismatch(r: StripeReversal, e: LedgerEntry, pair: PairBase): Draft | null {
  if (r.amount === e.amount) return null;
  const diff = Math.abs(r.amount - e.amount);
  return {
    ...pair,
    kind: 'amount_mismatch',
    currency: r.currency,
    amountAtRisk: diff,
    expected: { amount: e.amount, currency: e.currency },
    actual: { amount: r.amount, currency: r.currency },
    message:
      `${capitalize(LABEL[r.kind])} ${r.id} is ${money(r.amount, r.currency)} in Stripe, but ledger entry ${e.id} ` +
      `records ${money(e.amount, e.currency)} (a difference of ${money(diff, r.currency)}).`,
  };
}

/**
 * Only two final words can contradict each other: an expected `processing` is the ledger not
 * having booked the outcome yet, and a Stripe `processing` has not decided yet (stuck covers it).
 * Lost and canceled have their own kinds.
 */
function statusMismatch(r: StripeReversal, e: LedgerEntry, pair: PairBase): Draft | null {
  const want = e.expectedStatus;
  const got = r.status;
  if (
    want === null ||
    want === got ||
    want === 'processing' ||
    got === 'processing' ||
    got === 'lost' ||
    got === 'canceled'
  ) {
    return null;
  }
  return {
    ...pair,
    kind: 'status_mismatch',
    currency: r.currency,
    amountAtRisk: r.amount,
    expected: { status: want },
    actual: { status: got, status_raw: r.statusRaw },
    message: `Ledger entry ${e.id} expects ${LABEL[r.kind]} ${r.id} (${money(r.amount, r.currency)}) to be ${want}, but Stripe shows it ${got}.`,
  };
}

/**
 * Grace from the newest claimant's own time: a ledger posting a fresh entry before removing the
 * old one is given the grace period, an import of two old claims is not.
 */
function duplicateMatch(
  ctx: RuleContext,
  { reversal: r, primary, extras }: ReversalMatch,
): Draft | null {
  if (extras.length === 0) return null;
  const extraAmount = extras.reduce((s, c) => s + c.entry.amount, 0);
  const newest = Math.max(...extras.map((c) => entryGraceStartMs(c.entry)));
  if (!pastGrace(ctx, newest)) return null;
  const ids = [primary.entry, ...extras.map((c) => c.entry)].map((x) => x.id);
  const draft: Draft = {
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
      `${capitalize(LABEL[r.kind])} ${r.id} (${money(r.amount, r.currency)}) is claimed by ${ids.length} ledger ` +
      `entries (${ids.join(', ')}); only one should record it.`,
  };
  return draft;
}

// --- Reversals the ledger does not know (yet) ---------------------------------------------------

function missingInLedger(ctx: RuleContext): Draft[] {
  const { matching, rules } = ctx;
  const claimedBy = new Map<string, string>();
  for (const m of matching.matched) {
    for (const c of [m.primary, ...m.extras]) claimedBy.set(c.entry.id, m.reversal.id);
  }
  const out: Draft[] = [];
  for (const r of matching.unmatchedReversals) {
    const facts = reversalFacts(ctx, r, null);
    out.push(...facts);
    if (!pastGrace(ctx, r.createdMs)) continue;
    const movedNothing = r.status === 'canceled' || r.status === 'lost';
    const named = Object.hasOwn(r.metadata, rules.metadataKey)
      ? r.metadata[rules.metadataKey]
      : undefined;
    const taken = named !== undefined ? claimedBy.get(named) : undefined;
    const hint = taken
      ? ` Its metadata names ledger entry ${named}, which already matches ${taken}: this may be a duplicate reversal.`
      : '';
    out.push({
      objectType: r.kind,
      objectId: r.id,
      ledgerEntryId: null,
      account: r.account,
      currency: r.currency,
      kind: 'missing_in_ledger',
      severity: movedNothing && !rules.severity?.missing_in_ledger ? 'low' : undefined,
      amountAtRisk: facts.length > 0 ? 0 : r.amount,
      expected: null,
      actual: { amount: r.amount, currency: r.currency, status: r.status, parent_id: r.parentId },
      message:
        `${capitalize(LABEL[r.kind])} ${r.id} for ${money(r.amount, r.currency)}${onAccount(r.account)} ` +
        `(${r.parentId}) has no matching ledger entry.` +
        (movedNothing ? ` It was ${r.status}, so no money moved.` : '') +
        hint,
    });
  }
  return out;
}

// --- Entries Stripe does not have (yet) ---------------------------------------------------------

/** An unmatched entry past grace, and when Stripe confirmed it absent (if confirmation applies). */
interface MissingCandidate {
  entry: LedgerEntry;
  confirmedAtMs: number | null;
}

/**
 * With confirmation on, an entry naming something Stripe can be asked about waits for the
 * lookup's answer (or a sweep's listing): a lost webhook must not look like a missing reversal. It
 * is still counted as explained (explainedAmount), so no drift is raised for it.
 */
function missingInStripeCandidates(ctx: RuleContext): MissingCandidate[] {
  const out: MissingCandidate[] = [];
  const projectedIds = new Set(ctx.unit.reversals.map((r) => r.id));
  for (const e of ctx.matching.unmatchedEntries) {
    if (!pastGrace(ctx, entryGraceStartMs(e))) continue;
    let confirmedAtMs: number | null = null;
    if (ctx.rules.confirmMissingInStripe && stripeLookupFor(e, projectedIds) !== null) {
      if (!absenceConfirmed(e)) continue;
      confirmedAtMs = e.absentConfirmedAtMs!;
    }
    out.push({ entry: e, confirmedAtMs });
  }
  return out;
}

function missingInStripe(
  ctx: RuleContext,
  candidates: readonly MissingCandidate[],
  absorbed: ReadonlySet<LedgerEntry>,
): Draft[] {
  const reversalsById = new Map(ctx.unit.reversals.map((r) => [r.id, r] as const));
  const out: Draft[] = [];
  for (const { entry: e, confirmedAtMs } of candidates) {
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
          (confirmedAtMs !== null
            ? ` (confirmed absent in Stripe at ${new Date(confirmedAtMs).toISOString()}).`
            : '.') +
          noRisk;
    out.push({
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
  return out;
}

// --- Transfer totals (Connect only, and only once the transfer itself is projected) -------------

interface Totals {
  t: TransferSnapshot;
  /** Σ projected reversals. */
  projected: number;
  /** The larger of `projected` and Stripe's `amount_reversed`. */
  reversed: number;
  ledgerTotal: number;
  base: Pick<Draft, 'objectType' | 'objectId' | 'ledgerEntryId' | 'account' | 'currency'>;
}

/**
 * over_reversed, else transfer_total_drift; and the missing-in-Stripe entries the drift covers
 * (`absorbed`: raised as part of the drift, not on their own).
 */
function transferTotals(
  ctx: RuleContext,
  candidates: readonly MissingCandidate[],
): { drafts: Draft[]; absorbed: ReadonlySet<LedgerEntry> } {
  const { unit } = ctx;
  const t = unit.transfer;
  if (unit.kind !== 'transfer_reversal' || !t) return { drafts: [], absorbed: new Set() };
  const projected = unit.reversals.reduce((s, r) => s + r.amount, 0);
  const totals: Totals = {
    t,
    projected,
    reversed: Math.max(projected, t.amountReversed),
    ledgerTotal: unit.ledger.reduce((s, e) => s + e.amount, 0),
    base: {
      objectType: 'transfer',
      objectId: t.id,
      ledgerEntryId: null,
      account: t.account,
      currency: t.currency,
    },
  };
  // The stronger statement: it also explains any gap between the two totals.
  const over = overReversed(totals);
  if (over) return { drafts: [over], absorbed: new Set() };
  const absorbed = entriesCoveringGap(unit, totals, candidates);
  const drift = transferTotalDrift(ctx, totals, absorbed);
  return { drafts: drift ? [drift] : [], absorbed };
}

function overReversed({ t, projected, reversed, base }: Totals): Draft | null {
  if (!(reversed > t.amount)) return null;
  return {
    ...base,
    kind: 'over_reversed',
    amountAtRisk: reversed - t.amount,
    expected: { max_reversible: t.amount },
    actual: { amount_reversed: t.amountReversed, projected_total: projected },
    message:
      `Transfer ${t.id}${onAccount(t.account)} was for ${money(t.amount, t.currency)}, but ${money(reversed, t.currency)} ` +
      `of reversals are recorded against it: ${money(reversed - t.amount, t.currency)} more than was transferred.`,
  };
}

/**
 * Stripe counts reversals we have not projected yet (e.g. beyond the 10 embedded in the transfer
 * event). Ledger entries naming transfer reversals we do not have that add up to exactly that gap
 * are the same root cause: raise the drift only, naming them.
 */
function entriesCoveringGap(
  unit: ReconUnit,
  { t, projected }: Totals,
  candidates: readonly MissingCandidate[],
): Set<LedgerEntry> {
  const absorbed = new Set<LedgerEntry>();
  const stripeGap = projected - t.amountReversed;
  if (!(stripeGap < 0)) return absorbed;
  const naming = candidates
    .map((c) => c.entry)
    .filter(
      (e) =>
        e.stripeId !== null &&
        e.stripeId.startsWith(REVERSAL_ID_PREFIX.transfer_reversal) &&
        !unit.reversals.some((r) => r.id === e.stripeId) &&
        sameCurrency(e.currency, t.currency),
    );
  const sum = naming.reduce((s, e) => s + e.amount, 0);
  if (naming.length > 0 && sum === -stripeGap) for (const e of naming) absorbed.add(e);
  return absorbed;
}

function transferTotalDrift(
  ctx: RuleContext,
  { t, projected, ledgerTotal, base }: Totals,
  absorbed: ReadonlySet<LedgerEntry>,
): Draft | null {
  const stripeGap = projected - t.amountReversed;
  // The ledger's total against amount_reversed, less what per-reversal mismatches explain. Every
  // ledger/Stripe difference on a single reversal is itself a mismatch (or waiting out its grace
  // period), so with today's matching this equals stripeGap; it stays as a guard so that a
  // ledger-side difference nothing else explains can never pass silently.
  const ledgerGap = ledgerTotal - t.amountReversed - explainedAmount(ctx.matching);
  if (stripeGap === 0 && ledgerGap === 0) return null;
  // Stripe's own times only: when we received or re-fetched the transfer says nothing about how
  // old the disagreement is (a sweep re-fetching it must not hide it again).
  const since = Math.max(t.createdMs, ...ctx.unit.reversals.map((r) => r.createdMs));
  if (!pastGrace(ctx, since)) return null;
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
  return {
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
  };
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
