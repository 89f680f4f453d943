import {
  BENCH_ACCOUNT,
  Ids,
  creditReversal,
  debitReversal,
  event,
  prng,
  receivedCredit,
  receivedDebit,
  shuffle,
  transfer,
  transferReversal,
  type EventEnvelope,
} from './events.js';

/**
 * The projection dataset: the benchmark's workload, and the chaos suite's (test/chaos), so both
 * push the same realistic mix of events through the system.
 */

export interface LedgerRow {
  id: string;
  kind: string;
  stripe_id: string;
  parent_id: string;
  amount: number;
  expected_status: string | null;
}

/**
 * ~n events in lifecycles of 12 per (transfer, received credit, received debit) triple:
 * transfer.created → .reversed (1 reversal) → .reversed (2) → .updated (same snapshot, new event);
 * received_credit created → succeeded, credit_reversal created → posted; received_debit created,
 * debit_reversal created → initial_credit_granted → completed (2 % lost). Plus a ledger entry per
 * reversal with 1 % amount drift. Shuffled; 3 % of deliveries are redeliveries of an event id.
 */
export function projectionDataset(n: number, seed = 42) {
  const rand = prng(seed);
  const ids = new Ids(`p${seed}`);
  const t0 = Math.floor(Date.now() / 1000) - 3_600;
  const events: EventEnvelope[] = [];
  const ledger: LedgerRow[] = [];
  const amount = (x: number) => (rand() < 0.01 ? x + 1 : x);
  const triples = Math.ceil(n / 12);
  for (let i = 0; i < triples; i++) {
    const t = t0 + (i % 600);
    const tr = ids.next('tr');
    const r1 = transferReversal(ids.next('trr'), tr, 300, t + 10);
    const r2 = transferReversal(ids.next('trr'), tr, 400, t + 20);
    events.push(event('transfer.created', transfer(tr, 1_100, [], t), ids.next('evt'), t));
    events.push(event('transfer.reversed', transfer(tr, 1_100, [r1], t), ids.next('evt'), t + 10));
    events.push(
      event('transfer.reversed', transfer(tr, 1_100, [r1, r2], t), ids.next('evt'), t + 20),
    );
    events.push(
      event('transfer.updated', transfer(tr, 1_100, [r1, r2], t), ids.next('evt'), t + 20),
    );
    ledger.push({
      id: `le_${r1.id}`,
      kind: 'transfer_reversal',
      stripe_id: r1.id,
      parent_id: tr,
      amount: amount(300),
      expected_status: null,
    });
    ledger.push({
      id: `le_${r2.id}`,
      kind: 'transfer_reversal',
      stripe_id: r2.id,
      parent_id: tr,
      amount: amount(400),
      expected_status: null,
    });

    const rc = ids.next('rc');
    const cr = ids.next('credrev');
    events.push(
      event(
        'treasury.received_credit.created',
        receivedCredit(rc, 1_000, 'processing', t),
        ids.next('evt'),
        t,
        BENCH_ACCOUNT,
      ),
    );
    events.push(
      event(
        'treasury.received_credit.succeeded',
        receivedCredit(rc, 1_000, 'succeeded', t),
        ids.next('evt'),
        t + 5,
        BENCH_ACCOUNT,
      ),
    );
    events.push(
      event(
        'treasury.credit_reversal.created',
        creditReversal(cr, rc, 1_000, 'processing', t + 10),
        ids.next('evt'),
        t + 10,
        BENCH_ACCOUNT,
      ),
    );
    events.push(
      event(
        'treasury.credit_reversal.posted',
        creditReversal(cr, rc, 1_000, 'posted', t + 10),
        ids.next('evt'),
        t + 30,
        BENCH_ACCOUNT,
      ),
    );
    ledger.push({
      id: `le_${cr}`,
      kind: 'credit_reversal',
      stripe_id: cr,
      parent_id: rc,
      amount: amount(1_000),
      expected_status: 'posted',
    });

    const rd = ids.next('rd');
    const dr = ids.next('debrev');
    const lost = rand() < 0.02;
    events.push(
      event(
        'treasury.received_debit.created',
        receivedDebit(rd, 1_000, 'succeeded', t),
        ids.next('evt'),
        t,
        BENCH_ACCOUNT,
      ),
    );
    events.push(
      event(
        'treasury.debit_reversal.created',
        debitReversal(dr, rd, 1_000, 'processing', t + 10),
        ids.next('evt'),
        t + 10,
        BENCH_ACCOUNT,
      ),
    );
    events.push(
      event(
        'treasury.debit_reversal.initial_credit_granted',
        debitReversal(dr, rd, 1_000, 'processing', t + 10),
        ids.next('evt'),
        t + 15,
        BENCH_ACCOUNT,
      ),
    );
    events.push(
      event(
        'treasury.debit_reversal.completed',
        debitReversal(dr, rd, 1_000, lost ? 'failed' : 'succeeded', t + 10),
        ids.next('evt'),
        t + 40,
        BENCH_ACCOUNT,
      ),
    );
    ledger.push({
      id: `le_${dr}`,
      kind: 'debit_reversal',
      stripe_id: dr,
      parent_id: rd,
      amount: amount(1_000),
      expected_status: 'won',
    });
  }
  const deliveries = [...events];
  for (const e of events) if (rand() < 0.03) deliveries.push(e);
  shuffle(deliveries, rand);
  return {
    events,
    deliveries,
    ledger,
    objects: {
      transfers: triples,
      transferReversals: 2 * triples,
      creditReversals: triples,
      debitReversals: triples,
    },
  };
}
