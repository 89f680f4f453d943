import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { startEventWorker } from '../../src/projections/worker.js';
import { startStripeLookupWorker } from '../../src/reconciliation/stripe-lookup.js';
import { startReconcileWorker } from '../../src/reconciliation/worker.js';
import { createRuntime } from '../../src/runtime.js';
import { createSimulator } from '../../src/simulator/index.js';
import { createTestDatabase, waitFor } from '../support/db.js';
import { reconcileIdle } from '../support/db.js';
import {
  captureLog,
  injectEvent,
  makeEvent,
  testConfig,
  type StripeEventEnvelope,
} from '../support/events.js';
import {
  creditReversal,
  debitReversal,
  transfer,
  transferReversal,
} from '../support/projection-objects.js';

/**
 * DONE-WHEN: signed Stripe events and ledger entries, in either order, through the real receiver,
 * projection worker and reconcile worker; GET /api/mismatches lists exactly the planted problems;
 * corrected ledger entries (and Stripe catching up) resolve every one of them.
 */

const AUTH = { authorization: 'Bearer op_test_token_0123456789abcdef' };
const nowSec = () => Math.floor(Date.now() / 1_000);
const DAY = 86_400;

function stripeEvents(): Array<StripeEventEnvelope<object>> {
  const t0 = nowSec() - 3_600;
  const trA = [
    transferReversal({ id: 'trr_A1', transfer: 'tr_A', amount: 3_000, created: t0 }),
    transferReversal({ id: 'trr_A2', transfer: 'tr_A', amount: 2_000, created: t0 }),
  ];
  const trB = [transferReversal({ id: 'trr_B1', transfer: 'tr_B', amount: 1_000, created: t0 })];
  const trG = [transferReversal({ id: 'trr_G1', transfer: 'tr_G', amount: 1_000, created: t0 })];
  return [
    // A: the ledger records 2500 for a 2000 reversal → amount_mismatch.
    makeEvent('transfer.reversed', transfer({ id: 'tr_A', amount: 10_000, created: t0 }, trA)),
    // B: a reversal the ledger never heard of → missing_in_ledger.
    makeEvent('transfer.reversed', transfer({ id: 'tr_B', amount: 5_000, created: t0 }, trB)),
    // D: a debit reversal Stripe says was lost, the ledger expected won → reversal_lost.
    makeEvent(
      'treasury.debit_reversal.completed',
      debitReversal({
        id: 'debrev_D1',
        received_debit: 'rd_D',
        amount: 1_000,
        created: t0,
        status: 'failed',
      }),
    ),
    // E: a credit reversal Stripe canceled, the ledger expected posted → reversal_canceled.
    makeEvent(
      'treasury.credit_reversal.created',
      creditReversal({
        id: 'credrev_E1',
        received_credit: 'rc_E',
        amount: 1_200,
        created: t0,
        status: 'canceled',
      }),
    ),
    // F: processing for 6 days (> RECON_STUCK_AFTER_CREDIT_REVERSAL=5d) → stuck_processing.
    makeEvent(
      'treasury.credit_reversal.created',
      creditReversal({
        id: 'credrev_F1',
        received_credit: 'rc_F',
        amount: 800,
        created: nowSec() - 6 * DAY,
        status: 'processing',
      }),
    ),
    // G: Stripe says 3000 reversed, only 1000 of reversals are known → transfer_total_drift.
    makeEvent(
      'transfer.updated',
      transfer({ id: 'tr_G', amount: 8_000, created: t0, amount_reversed: 3_000 }, trG),
    ),
    // H, I: controls that agree (won debit reversal; posted credit reversal matched by metadata).
    makeEvent(
      'treasury.debit_reversal.completed',
      debitReversal({
        id: 'debrev_H1',
        received_debit: 'rd_H',
        amount: 4_000,
        created: t0,
        status: 'succeeded',
        transaction: 'trxn_H1',
      }),
    ),
    makeEvent(
      'treasury.credit_reversal.posted',
      creditReversal({
        id: 'credrev_I1',
        received_credit: 'rc_I',
        amount: 1_500,
        created: t0,
        status: 'posted',
        metadata: { ledger_entry_id: 'le_I1' },
      }),
    ),
  ];
}

const ledger = () => [
  {
    id: 'le_A1',
    kind: 'transfer_reversal',
    stripe_id: 'trr_A1',
    parent_id: 'tr_A',
    amount: 3_000,
    currency: 'usd',
  },
  {
    id: 'le_A2',
    kind: 'transfer_reversal',
    stripe_id: 'trr_A2',
    parent_id: 'tr_A',
    amount: 2_500,
    currency: 'usd',
  },
  // C: the ledger records a credit reversal Stripe does not have → missing_in_stripe.
  {
    id: 'le_C1',
    kind: 'credit_reversal',
    stripe_id: 'credrev_C1',
    parent_id: 'rc_C',
    amount: 700,
    currency: 'usd',
    expected_status: 'posted',
  },
  {
    id: 'le_D1',
    kind: 'debit_reversal',
    stripe_id: 'debrev_D1',
    parent_id: 'rd_D',
    amount: 1_000,
    currency: 'usd',
    expected_status: 'won',
  },
  {
    id: 'le_E1',
    kind: 'credit_reversal',
    stripe_id: 'credrev_E1',
    parent_id: 'rc_E',
    amount: 1_200,
    currency: 'usd',
    expected_status: 'posted',
  },
  {
    id: 'le_F1',
    kind: 'credit_reversal',
    stripe_id: 'credrev_F1',
    parent_id: 'rc_F',
    amount: 800,
    currency: 'usd',
    expected_status: 'posted',
  },
  {
    id: 'le_G1',
    kind: 'transfer_reversal',
    stripe_id: 'trr_G1',
    parent_id: 'tr_G',
    amount: 1_000,
    currency: 'usd',
  },
  {
    id: 'le_H1',
    kind: 'debit_reversal',
    stripe_id: 'debrev_H1',
    parent_id: 'rd_H',
    amount: 4_000,
    currency: 'usd',
    expected_status: 'succeeded',
  },
  {
    id: 'le_I1',
    kind: 'credit_reversal',
    parent_id: 'rc_I',
    amount: 1_500,
    currency: 'USD',
    expected_status: 'posted',
  },
];

const PLANTED = [
  'amount_mismatch:trr_A2:le_A2',
  'missing_in_ledger:trr_B1:-',
  'missing_in_stripe:credrev_C1:le_C1',
  'reversal_canceled:credrev_E1:-',
  'reversal_lost:debrev_D1:-',
  'stuck_processing:credrev_F1:-',
  'transfer_total_drift:tr_G:-',
].sort();

interface ApiMismatch {
  id: string;
  fingerprint: string;
  kind: string;
  status: string;
  object_id: string | null;
  resolution_reason: string | null;
}

async function scenario(order: 'ledger first' | 'stripe first') {
  const db = await createTestDatabase();
  // Entries naming objects we never projected are looked up before they are called missing: the
  // simulator has none of the injected objects, so every such lookup answers 404.
  const sim = await createSimulator({ seed: 12 });
  const config = testConfig({
    DATABASE_URL: db.url,
    RECON_GRACE_PERIOD: '0s',
    STRIPE_API_KEY: sim.apiKey,
    STRIPE_API_BASE: sim.url,
    RECON_LOOKUP_RATE_LIMIT: '1000',
  });
  const rt = createRuntime(config, captureLog('warn').log);
  const app: FastifyInstance = await buildApp(rt);
  const events = startEventWorker(rt, { concurrency: 8, stripe: null, reconcileDelayMs: 50 });
  const recon = startReconcileWorker(rt, { concurrency: 8 });
  const lookups = startStripeLookupWorker(rt, { pollMs: 100 });
  try {
    const deliver = async (list: Array<StripeEventEnvelope<object>>) => {
      for (const ev of list) expect((await injectEvent(app, ev)).statusCode).toBe(200);
      await waitFor(
        async () =>
          (await db.pool.query(`SELECT 1 FROM stripe_events WHERE status <> 'processed'`))
            .rowCount === 0,
        { what: 'events projected' },
      );
    };
    const postLedger = async (entries: object[]) => {
      const r = await app.inject({
        method: 'POST',
        url: '/api/ledger/entries',
        headers: AUTH,
        payload: { entries },
      });
      expect(r.statusCode, r.body).toBe(200);
      return r.json() as { results: Array<{ id: string; result: string }> };
    };
    const list = async (query: string) => {
      const out: ApiMismatch[] = [];
      let after = '';
      for (;;) {
        const r = await app.inject({
          method: 'GET',
          url: `/api/mismatches?limit=3&${query}${after}`,
          headers: AUTH,
        });
        expect(r.statusCode, r.body).toBe(200);
        const body = r.json() as { object: string; data: ApiMismatch[]; has_more: boolean };
        expect(body.object).toBe('list');
        out.push(...body.data);
        if (!body.has_more) return out;
        after = `&starting_after=${body.data.at(-1)!.id}`;
      }
    };
    const idle = () => reconcileIdle(rt);
    const openFingerprints = async () =>
      (await list('status=open')).map((m) => m.fingerprint).sort();

    if (order === 'ledger first') {
      await postLedger(ledger());
      await waitFor(async () => (await openFingerprints()).length === 9, {
        what: 'ledger-only mismatches',
      });
      await deliver(stripeEvents());
    } else {
      await deliver(stripeEvents());
      await waitFor(async () => (await openFingerprints()).length > 0, {
        what: 'stripe-only mismatches',
      });
      await postLedger(ledger());
    }

    await waitFor(
      async () => JSON.stringify(await openFingerprints()) === JSON.stringify(PLANTED),
      {
        what: 'exactly the planted mismatches',
        timeoutMs: 30_000,
      },
    ).catch(async (err) => {
      throw new Error(`open: ${JSON.stringify(await openFingerprints())}`, { cause: err });
    });
    await waitFor(idle, { what: 'reconcile queue idle' });
    expect(await openFingerprints()).toEqual(PLANTED);

    // The operator views: filters, one mismatch, the reversal with its ledger entries.
    const lost = await list('status=open&kind=reversal_lost');
    expect(lost.map((m) => m.object_id)).toEqual(['debrev_D1']);
    const one = await app.inject({
      method: 'GET',
      url: `/api/mismatches/${lost[0]!.id}`,
      headers: AUTH,
    });
    expect(one.json()).toMatchObject({
      object: 'mismatch',
      kind: 'reversal_lost',
      status: 'open',
      severity: 'critical',
    });
    const rev = await app.inject({ method: 'GET', url: '/api/reversals/trr_A2', headers: AUTH });
    expect(rev.statusCode, rev.body).toBe(200);
    expect(rev.json().ledger_entries.map((e: { id: string }) => e.id)).toEqual(['le_A2']);
    expect(rev.json().mismatches.map((m: ApiMismatch) => m.kind)).toEqual(['amount_mismatch']);
    const revI = await app.inject({
      method: 'GET',
      url: '/api/reversals/credrev_I1',
      headers: AUTH,
    });
    expect(revI.json()).toMatchObject({
      ledger_entries: [{ id: 'le_I1', match_method: 'metadata' }],
      mismatches: [],
    });

    // Corrections: the ledger fixes its side; Stripe catches up on its side.
    const fixed = await postLedger([
      {
        id: 'le_A2',
        kind: 'transfer_reversal',
        stripe_id: 'trr_A2',
        parent_id: 'tr_A',
        amount: 2_000,
        currency: 'usd',
      },
      {
        id: 'le_B1',
        kind: 'transfer_reversal',
        stripe_id: 'trr_B1',
        parent_id: 'tr_B',
        amount: 1_000,
        currency: 'usd',
      },
      {
        id: 'le_D1',
        kind: 'debit_reversal',
        stripe_id: 'debrev_D1',
        parent_id: 'rd_D',
        amount: 1_000,
        currency: 'usd',
        expected_status: 'lost',
      },
      {
        id: 'le_E1',
        kind: 'credit_reversal',
        stripe_id: 'credrev_E1',
        parent_id: 'rc_E',
        amount: 1_200,
        currency: 'usd',
        expected_status: 'canceled',
      },
      {
        id: 'le_G2',
        kind: 'transfer_reversal',
        stripe_id: 'trr_G2',
        parent_id: 'tr_G',
        amount: 2_000,
        currency: 'usd',
      },
    ]);
    expect(fixed.results.map((r) => r.result)).toEqual([
      'updated',
      'created',
      'updated',
      'updated',
      'created',
    ]);
    const t0 = nowSec() - 3_600;
    await deliver([
      makeEvent(
        'treasury.credit_reversal.created',
        creditReversal({
          id: 'credrev_C1',
          received_credit: 'rc_C',
          amount: 700,
          created: t0,
          status: 'posted',
        }),
      ),
      makeEvent(
        'treasury.credit_reversal.posted',
        creditReversal({
          id: 'credrev_F1',
          received_credit: 'rc_F',
          amount: 800,
          created: nowSec() - 6 * DAY,
          status: 'posted',
        }),
      ),
      makeEvent(
        'transfer.reversed',
        transfer({ id: 'tr_G', amount: 8_000, created: t0 }, [
          transferReversal({ id: 'trr_G1', transfer: 'tr_G', amount: 1_000, created: t0 }),
          transferReversal({ id: 'trr_G2', transfer: 'tr_G', amount: 2_000, created: t0 }),
        ]),
      ),
    ]);
    await waitFor(async () => (await openFingerprints()).length === 0, {
      what: 'all resolved',
      timeoutMs: 30_000,
    }).catch(async (err) => {
      throw new Error(`still open: ${JSON.stringify(await openFingerprints())}`, { cause: err });
    });
    const resolved = await list('status=resolved');
    expect(resolved.map((m) => m.fingerprint)).toEqual(expect.arrayContaining(PLANTED));
    for (const m of resolved) expect(m.resolution_reason).toMatch(/^no longer detected/);
    await waitFor(idle, { what: 'reconcile queue idle' });
    expect(await openFingerprints()).toEqual([]);
  } finally {
    await lookups.close();
    await recon.close();
    await events.close();
    await sim.close();
    await app.close();
    await rt.queues.reconcile.obliterate({ force: true }).catch(() => {});
    await rt.queues.events.obliterate({ force: true }).catch(() => {});
    await rt.close();
    await db.close();
  }
}

describe('reconciliation end to end', () => {
  it('ledger first, then Stripe: exactly the planted mismatches, then all resolved', () =>
    scenario('ledger first'));
  it('Stripe first, then the ledger: exactly the planted mismatches, then all resolved', () =>
    scenario('stripe first'));
});
