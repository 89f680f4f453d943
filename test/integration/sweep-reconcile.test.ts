import fc from 'fast-check';
import { REVERSAL_ID_PREFIX } from '../../src/domain/ids.js';
import { statusRank } from '../../src/domain/status.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../src/domain/reconcile.js';
import {
  NORMALIZED_STATUSES,
  REVERSAL_KINDS,
  type NormalizedStatus,
  type ReversalKind,
} from '../../src/domain/types.js';
import { loadUnits } from '../../src/reconciliation/load.js';
import {
  candidateUnitKeys,
  reconcileAllNarrowed,
} from '../../src/reconciliation/sweep-reconcile.js';
import { allUnitKeys } from '../../src/reconciliation/reconcile-all.js';
import { rulesFromConfig } from '../../src/reconciliation/reconcile-units.js';
import { createTestRuntime } from '../unit/ledger/support.js';

/**
 * The SQL narrowing (src/reconciliation/sweep-reconcile.ts) against the pure reconciler, on real
 * Postgres: for random small datasets built near the clean/dirty boundary, every unit for which
 * reconcile() returns a mismatch — at any `now` — is among the candidate units.
 */

let t: Awaited<ReturnType<typeof createTestRuntime>>;
beforeAll(async () => {
  t = await createTestRuntime();
});
afterAll(async () => {
  await t?.close();
});

const DAY = 86_400_000;
const NOW = Date.now();
const KINDS: ReversalKind[] = ['transfer_reversal', 'credit_reversal', 'debit_reversal'];
// The statuses each kind can reach (those with a lifecycle rank) and the id prefixes, from the
// domain's own tables.
const STATUSES = Object.fromEntries(
  REVERSAL_KINDS.map((k) => [k, NORMALIZED_STATUSES.filter((st) => statusRank(k, st) > 0)]),
) as Record<ReversalKind, NormalizedStatus[]>;
const PREFIX = REVERSAL_ID_PREFIX;
const PARENTS: Record<ReversalKind, string[]> = {
  transfer_reversal: ['tr_1', 'tr_2', 'tr_3'],
  credit_reversal: ['rc_1', 'rc_2'],
  debit_reversal: ['rd_1', 'rd_2'],
};
const EXPECTED: Array<NormalizedStatus | null> = [null, ...NORMALIZED_STATUSES];

const amountArb = fc.constantFrom(300, 400, 1000);
const currencyArb = fc.constantFrom('usd', 'usd', 'usd', 'USD', 'eur');
const accountArb = fc.constantFrom<string | null>(null, null, 'acct_A', 'acct_B');

const reversalArb = fc.record({
  kind: fc.constantFrom(...KINDS),
  parentIdx: fc.nat(2),
  amount: amountArb,
  currency: currencyArb,
  account: accountArb,
  statusIdx: fc.nat(3),
  ageDays: fc.constantFrom(0, 1, 6, 20),
  metaTarget: fc.option(fc.nat(5), { nil: null }),
});

/** How an entry relates to the reversals: a faithful mirror, a mirror with one field off, or none. */
const entryArb = fc.record({
  target: fc.nat(7),
  mode: fc.constantFrom(
    'exact',
    'exact',
    'exact',
    'amount',
    'currency',
    'account',
    'status',
    'parent',
    'no_stripe_id',
    'unknown_id',
  ),
  expectedIdx: fc.nat(EXPECTED.length - 1),
  amount: amountArb,
  currency: currencyArb,
  account: accountArb,
  ageDays: fc.constantFrom(0, 1, 6, 20),
});

const datasetArb = fc.record({
  reversals: fc.array(reversalArb, { maxLength: 6 }),
  entries: fc.array(entryArb, { maxLength: 7 }),
  transfers: fc.array(
    fc.record({
      idx: fc.nat(2),
      amount: fc.constantFrom(700, 1000, 2000),
      drift: fc.constantFrom(0, 0, 0, 100, -300),
    }),
    { maxLength: 3 },
  ),
  openMismatch: fc.option(fc.constantFrom('tr_1', 'rc_2', 'rd_1', 'trr_gone'), { nil: null }),
});

type Dataset = typeof datasetArb extends fc.Arbitrary<infer T> ? T : never;

async function load(d: Dataset): Promise<void> {
  const pool = t.rt.pool;
  await pool.query(
    'TRUNCATE transfers, transfer_reversals, credit_reversals, debit_reversals, ledger_entries, mismatches',
  );
  const revs = d.reversals.map((r, i) => ({
    ...r,
    id: `${PREFIX[r.kind]}${i}`,
    parent: PARENTS[r.kind][r.parentIdx % PARENTS[r.kind].length]!,
    status: STATUSES[r.kind][r.statusIdx % STATUSES[r.kind].length]!,
  }));
  for (const r of revs) {
    const created = Math.floor((NOW - r.ageDays * DAY) / 1000);
    const meta = JSON.stringify(
      r.metaTarget === null ? {} : { ledger_entry_id: `le_${r.metaTarget}` },
    );
    if (r.kind === 'transfer_reversal') {
      await pool.query(
        `INSERT INTO transfer_reversals (id, transfer, account, livemode, amount, currency, metadata, created, status, snapshot_at, snapshot_id, raw)
         VALUES ($1, $2, $3, false, $4, $5, $6, $7, 'succeeded', 0, 'evt_x', '{}')`,
        [r.id, r.parent, r.account, r.amount, r.currency, meta, created],
      );
    } else {
      const table = r.kind === 'credit_reversal' ? 'credit_reversals' : 'debit_reversals';
      const parentCol = r.kind === 'credit_reversal' ? 'received_credit' : 'received_debit';
      await pool.query(
        `INSERT INTO ${table} (id, ${parentCol}, account, livemode, amount, currency, financial_account, network, status_raw, status, status_rank, metadata, created, snapshot_at, snapshot_id, raw)
         VALUES ($1, $2, $3, false, $4, $5, 'fa_1', 'ach', $6, $6, $7, $8, $9, 0, 'evt_x', '{}')`,
        [
          r.id,
          r.parent,
          r.account,
          r.amount,
          r.currency,
          r.status,
          r.status === 'processing' ? 1 : 3,
          meta,
          created,
        ],
      );
    }
  }
  const seenTransfers = new Set<string>();
  for (const tr of d.transfers) {
    const id = PARENTS.transfer_reversal[tr.idx]!;
    if (seenTransfers.has(id)) continue;
    seenTransfers.add(id);
    const sum = revs.filter((r) => r.parent === id).reduce((s, r) => s + r.amount, 0);
    await pool.query(
      `INSERT INTO transfers (id, account, livemode, amount, amount_reversed, currency, reversed, metadata, created, snapshot_at, snapshot_id, raw)
       VALUES ($1, NULL, false, $2, $3, 'usd', false, '{}', $4, 0, 'evt_x', '{}')`,
      [id, tr.amount, Math.max(0, sum + tr.drift), Math.floor((NOW - 30 * DAY) / 1000)],
    );
  }
  for (const [i, e] of d.entries.entries()) {
    const r = revs.length ? revs[e.target % revs.length]! : undefined;
    const mirror = r && e.mode !== 'no_stripe_id' && e.mode !== 'unknown_id';
    const kind = r?.kind ?? KINDS[e.target % 3]!;
    const stripeId =
      e.mode === 'no_stripe_id'
        ? null
        : e.mode === 'unknown_id' || !r
          ? `${PREFIX[kind]}gone${e.target}`
          : r.id;
    const parentId =
      e.mode === 'parent' || !r ? PARENTS[kind][(e.target + 1) % PARENTS[kind].length]! : r.parent;
    const expected =
      mirror && e.mode !== 'status' && e.expectedIdx % 2 === 0
        ? r.status === 'succeeded'
          ? null
          : r.status
        : EXPECTED[e.expectedIdx]!;
    const at = new Date(NOW - e.ageDays * DAY);
    await pool.query(
      `INSERT INTO ledger_entries (id, kind, stripe_id, parent_id, amount, currency, expected_status, account, occurred_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)`,
      [
        `le_${i}`,
        kind,
        stripeId,
        parentId,
        mirror && e.mode !== 'amount' ? r.amount : e.amount,
        mirror && e.mode !== 'currency' ? r.currency : e.currency,
        expected,
        mirror && e.mode !== 'account' ? r.account : e.account,
        at,
      ],
    );
  }
  if (d.openMismatch) {
    await pool.query(
      `INSERT INTO mismatches (id, fingerprint, kind, severity, status, unit_key, object_type, message)
       VALUES ('mm_test', 'fp_test', 'missing_in_ledger', 'high', 'open', $1, 'transfer_reversal', 'planted')`,
      [d.openMismatch],
    );
  }
}

describe('SQL narrowing (candidateUnitKeys)', () => {
  it('never drops a unit for which reconcile() returns mismatches', async () => {
    const rules = rulesFromConfig(t.rt.config);
    let dirtyUnits = 0;
    await fc.assert(
      fc.asyncProperty(datasetArb, async (d) => {
        await load(d);
        const candidates = new Set(await candidateUnitKeys(t.rt.prisma));
        const units = await loadUnits(t.rt, await allUnitKeys(t.rt));
        for (const unit of units) {
          for (const now of [NOW, NOW + 2 * DAY, NOW + 60 * DAY]) {
            const found = reconcile(unit, rules, now);
            if (found.length === 0) continue;
            dirtyUnits++;
            expect(candidates, `${unit.key}: ${found.map((m) => m.kind).join(', ')}`).toContain(
              unit.key,
            );
          }
        }
        if (d.openMismatch) expect(candidates).toContain(d.openMismatch);
      }),
      { numRuns: 150 },
    );
    expect(dirtyUnits).toBeGreaterThan(0); // the generator does reach the interesting side
  });

  it('reconcileAllNarrowed opens what reconcileAll would, and resolves mismatches of units now clean', async () => {
    await load({
      reversals: [
        {
          kind: 'credit_reversal',
          parentIdx: 0,
          amount: 400,
          currency: 'usd',
          account: null,
          statusIdx: 1,
          ageDays: 1,
          metaTarget: null,
        },
        {
          kind: 'debit_reversal',
          parentIdx: 0,
          amount: 300,
          currency: 'usd',
          account: null,
          statusIdx: 1,
          ageDays: 1,
          metaTarget: null,
        },
      ],
      entries: [
        {
          target: 0,
          mode: 'amount',
          expectedIdx: 0,
          amount: 1000,
          currency: 'usd',
          account: null,
          ageDays: 1,
        },
        {
          target: 1,
          mode: 'exact',
          expectedIdx: 0,
          amount: 300,
          currency: 'usd',
          account: null,
          ageDays: 1,
        },
      ],
      transfers: [],
      openMismatch: 'rd_1',
    });
    const r = await reconcileAllNarrowed(t.rt, { now: NOW });
    expect(r.units).toBe(2); // rc_1 (amount) and rd_1 (open mismatch); nothing else examined
    expect(r.changes.opened.map((o) => o.row.kind)).toEqual(['amount_mismatch']);
    expect(r.changes.resolved.map((m) => m.unit_key)).toEqual(['rd_1']);
  });
});
