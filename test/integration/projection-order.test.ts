import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLike } from '../../src/inbox/envelope.js';
import { applyEvents } from '../../src/projections/apply.js';
import { startEventWorker } from '../../src/projections/worker.js';
import { createRuntime } from '../../src/runtime.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { captureLog, testConfig } from '../support/events.js';
import {
  TRUNCATE_PROJECTIONS_SQL,
  creditReversal,
  debitReversal,
  dumpProjections,
  receivedCredit,
  receivedDebit,
  transfer,
  transferReversal,
} from '../support/projection-objects.js';

/**
 * Delivery order is not guaranteed and duplicates happen: any permutation of a set of events,
 * with repeats, applied by concurrent workers in batches of any size, must leave exactly the rows
 * (and status history) that applying them once, in order, leaves.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

// Mixed case on purpose: ids must order the same in JavaScript and in Postgres (COLLATE "C").
const idChars = 'AaBbYyZz0189'.split('');
const idArb = fc.string({ unit: fc.constantFrom(...idChars), minLength: 6, maxLength: 6 });

const scenarioArb = fc.record({
  ids: fc.uniqueArray(idArb, { minLength: 24, maxLength: 24 }),
  gaps: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 24, maxLength: 24 }),
  debitOutcome: fc.constantFrom('won', 'lost'),
  unknownDebitStatus: fc.boolean(),
  reversalAmounts: fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 4 }),
  fullyReversed: fc.boolean(),
  metadataUpdates: fc.integer({ min: 0, max: 2 }),
  account: fc.constantFrom(null, 'acct_1Connected'),
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** The events of one scenario, in the order Stripe created them. */
function buildEvents(s: Scenario): EventLike[] {
  const events: EventLike[] = [];
  let t = 1_700_000_000;
  const push = (type: string, object: Record<string, unknown>) => {
    const i = events.length;
    t += s.gaps[i % s.gaps.length]!;
    events.push({ id: `evt_${s.ids[i]!}`, type, created: t, account: s.account, data: { object } });
  };
  const rc = 'rc_Prop1';
  const rd = 'rd_Prop1';
  const credrev = 'credrev_Prop1';
  const debrev = 'debrev_Prop1';
  const tr = 'tr_Prop1';

  push('treasury.received_credit.created', receivedCredit({ id: rc }));
  push('treasury.credit_reversal.created', creditReversal({ id: credrev, received_credit: rc }));
  push(
    'treasury.received_credit.succeeded',
    receivedCredit({
      id: rc,
      linked_flows: { credit_reversal: credrev },
      reversal_details: { deadline: null, restricted_reason: 'already_reversed' },
    }),
  );
  push(
    'treasury.credit_reversal.posted',
    creditReversal({
      id: credrev,
      received_credit: rc,
      status: 'posted',
      status_transitions: { posted_at: t + 1 },
      metadata: { ledger_entry_id: 'le_1' },
    }),
  );

  push('treasury.received_debit.created', receivedDebit({ id: rd }));
  push('treasury.debit_reversal.created', debitReversal({ id: debrev, received_debit: rd }));
  push(
    'treasury.debit_reversal.initial_credit_granted',
    debitReversal({ id: debrev, received_debit: rd, metadata: { note: 'provisional' } }),
  );
  if (s.unknownDebitStatus) {
    // A future Stripe word: stored raw, never crashes, never moves the normalised status.
    push(
      'treasury.debit_reversal.created',
      debitReversal({ id: debrev, received_debit: rd, status: 'under_review' }),
    );
  }
  const won = s.debitOutcome === 'won';
  push(
    'treasury.debit_reversal.completed',
    debitReversal({
      id: debrev,
      received_debit: rd,
      status: won ? 'succeeded' : 'failed',
      transaction: won ? 'trxn_Won1' : null,
      status_transitions: { completed_at: t + 1 },
    }),
  );

  const total = s.reversalAmounts.reduce((a, b) => a + b, 0);
  const amount = s.fullyReversed ? total : total + 500;
  push('transfer.created', transfer({ id: tr, amount }));
  const revs: Record<string, unknown>[] = [];
  let metadata: Record<string, string> = {};
  s.reversalAmounts.forEach((a, i) => {
    revs.unshift(transferReversal({ id: `trr_Prop${i}`, transfer: tr, amount: a, created: t + 1 }));
    const reversedSoFar = revs.reduce((x, r) => x + (r.amount as number), 0);
    push(
      'transfer.reversed',
      transfer({ id: tr, amount, metadata, reversed: reversedSoFar === amount }, [...revs]),
    );
    if (i < s.metadataUpdates) {
      metadata = { ...metadata, [`k${i}`]: `v${i}` };
      push(
        'transfer.updated',
        transfer({ id: tr, amount, metadata, reversed: reversedSoFar === amount }, [...revs]),
      );
    }
  });
  return events;
}

const deliveryArb = scenarioArb.chain((s) => {
  const n = buildEvents(s).length;
  return fc.record({
    scenario: fc.constant(s),
    order: fc.array(fc.nat(), { minLength: n, maxLength: n }),
    duplicates: fc.array(fc.nat({ max: n - 1 }), { maxLength: 6 }),
    workerOf: fc.array(fc.nat({ max: 3 }), { minLength: n + 6, maxLength: n + 6 }),
    batchSize: fc.integer({ min: 1, max: 4 }),
  });
});

async function reset() {
  await db.pool.query(TRUNCATE_PROJECTIONS_SQL);
}

describe('projection ordering', () => {
  it('any permutation, with duplicates, on 4 concurrent workers converges to in-order rows', async () => {
    await fc.assert(
      fc.asyncProperty(
        deliveryArb,
        async ({ scenario, order, duplicates, workerOf, batchSize }) => {
          const events = buildEvents(scenario);

          await reset();
          for (const e of events) await applyEvents(db.pool, null, [e]);
          const expected = await dumpProjections(db.pool);

          const shuffled = events
            .map((e, i) => ({ e, k: order[i]! }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.e);
          for (const d of duplicates)
            shuffled.splice((d * 7) % (shuffled.length + 1), 0, events[d]!);
          const lanes: EventLike[][] = [[], [], [], []];
          shuffled.forEach((e, i) => lanes[workerOf[i]!]!.push(e));

          await reset();
          await Promise.all(
            lanes.map(async (lane) => {
              for (let i = 0; i < lane.length; i += batchSize) {
                await applyEvents(db.pool, null, lane.slice(i, i + batchSize));
              }
            }),
          );
          const actual = await dumpProjections(db.pool);
          expect(actual).toEqual(expected);

          // And the in-order rows are the right ones.
          const cr = expected.credit_reversals![0]!;
          expect(cr.status).toBe('posted');
          const dr = expected.debit_reversals![0]!;
          expect(dr.status).toBe(scenario.debitOutcome);
          expect(dr.initial_credit_granted).toBe(true);
          const t = expected.transfers![0]!;
          const total = scenario.reversalAmounts.reduce((a, b) => a + b, 0);
          expect(t.amount_reversed).toBe(total);
          expect(t.reversed).toBe(scenario.fullyReversed);
          expect(expected.transfer_reversals).toHaveLength(scenario.reversalAmounts.length);
          const dh = expected.status_history!.filter((h) => h.object_id === 'debrev_Prop1');
          expect(dh.map((h) => [h.from_status, h.to_status]).sort()).toEqual(
            [
              [null, 'processing'],
              ['processing', scenario.debitOutcome],
            ].sort(),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a single batch holding every event (merged in TypeScript) matches in-order processing', async () => {
    await fc.assert(
      fc.asyncProperty(deliveryArb, async ({ scenario, order }) => {
        const events = buildEvents(scenario);
        await reset();
        for (const e of events) await applyEvents(db.pool, null, [e]);
        const expected = await dumpProjections(db.pool);
        const shuffled = events
          .map((e, i) => ({ e, k: order[i]! }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.e);
        await reset();
        await applyEvents(db.pool, null, [...shuffled, ...shuffled.slice(0, 3)]);
        expect(await dumpProjections(db.pool)).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  });

  it('through BullMQ: shuffled jobs with duplicates on a worker with concurrency 8 converge too', async () => {
    const rt = createRuntime(testConfig({ DATABASE_URL: db.url }), captureLog('warn').log);
    const worker = startEventWorker(rt, { concurrency: 8, stripe: null, maxBatchSize: 3 });
    let done = 0;
    worker.consumer.on('completed', () => void done++);
    try {
      await fc.assert(
        fc.asyncProperty(deliveryArb, async ({ scenario, order, duplicates }) => {
          const events = buildEvents(scenario);
          await reset();
          for (const e of events) await applyEvents(db.pool, null, [e]);
          const expected = await dumpProjections(db.pool);

          await reset();
          const shuffled = events
            .map((e, i) => ({ e, k: order[i]! }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.e);
          for (const d of duplicates) shuffled.push(events[d]!);
          const start = done;
          await rt.queues.events.addBulk(
            shuffled.map((e, i) => ({
              name: e.type,
              // A distinct job id per copy: BullMQ would drop a repeated one, Stripe does not.
              data: {
                id: e.id,
                type: e.type,
                account: e.account ?? null,
                payload: JSON.stringify(e),
              },
              opts: { jobId: `${e.id}-${i}` },
            })),
          );
          await waitFor(() => done - start === shuffled.length, { what: 'all jobs processed' });
          expect(await dumpProjections(db.pool)).toEqual(expected);
        }),
        { numRuns: 10 },
      );
    } finally {
      await worker.close();
      await rt.close();
    }
  });
});
