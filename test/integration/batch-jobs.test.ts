import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { upsertLedgerEntries } from '../../src/ledger/store.js';
import { listDeadLetters } from '../../src/queue/dead-letter.js';
import { startEventWorker, type EventWorker } from '../../src/projections/worker.js';
import { startReconcileWorker, type ReconcileWorker } from '../../src/reconciliation/worker.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, queuedEventIds, waitFor, type TestDatabase } from '../support/db.js';
import { captureLog, injectEvent, makeEvent, stripeId, testConfig } from '../support/events.js';
import { debitReversal, transfer } from '../support/projection-objects.js';

/**
 * The batch mechanisms of the throughput design, against real Postgres and Redis:
 *   - a job is a committed batch, and one event that Postgres refuses never sinks its batch;
 *   - the intent to reconcile lives in Postgres (the outbox), so wiping Redis loses no unit.
 */

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

async function statuses(ids: string[]): Promise<Record<string, string>> {
  const { rows } = await db.pool.query<{ id: string; status: string }>(
    'SELECT id, status FROM stripe_events WHERE id = ANY($1)',
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.id, r.status]));
}

describe('one bad event in a batch', () => {
  let rt: Runtime;
  let app: FastifyInstance;
  let worker: EventWorker | undefined;
  let logs: ReturnType<typeof captureLog>;
  beforeAll(async () => {
    rt = createRuntime(
      testConfig({ DATABASE_URL: db.url, JOB_ATTEMPTS: '2', JOB_BACKOFF: '50ms' }),
      (logs = captureLog('warn')).log,
    );
    app = await buildApp(rt);
    await waitFor(() => rt.redis.status === 'ready', { what: 'redis' });
  });
  afterAll(async () => {
    await worker?.close();
    await db.pool.query('DROP TRIGGER IF EXISTS refuse_some ON transfers').catch(() => {});
    await app?.close();
    await rt?.close();
  });

  it('commits the 40 good events of the batch; each culprit retries and dead-letters alone', async () => {
    // Postgres itself refuses two rows (a data exception from a trigger, as it would for text it
    // cannot store): the failure happens inside the batch's transaction, after mapping.
    const bad = [stripeId('tr'), stripeId('tr')];
    await db.pool.query(`
      CREATE OR REPLACE FUNCTION refuse_some() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id IN ('${bad[0]}', '${bad[1]}') THEN
          RAISE EXCEPTION 'refused row %', NEW.id USING ERRCODE = '22021';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_some BEFORE INSERT OR UPDATE ON transfers
        FOR EACH ROW EXECUTE FUNCTION refuse_some();`);
    const good = Array.from({ length: 40 }, () => stripeId('tr'));
    const events = [...good.slice(0, 20), bad[0]!, ...good.slice(20), bad[1]!].map((id) =>
      makeEvent('transfer.created', transfer({ id })),
    );
    const res = await Promise.all(events.map((ev) => injectEvent(app, ev)));
    expect(res.every((r) => r.statusCode === 200)).toBe(true);
    const ids = events.map((e) => e.id);
    // Queued before any worker runs: they are in a handful of batch jobs, not 42.
    await waitFor(async () => (await queuedEventIds(rt)).length === 42, { what: 'all queued' });
    expect((await rt.queues.events.getJobs(['waiting'])).length).toBeLessThan(10);

    worker = startEventWorker(rt, { concurrency: 100, stripe: null });
    const badEvents = events.filter((e) => bad.includes(e.data.object.id as string));
    const badIds = badEvents.map((e) => e.id);
    await waitFor(
      async () => {
        const s = await statuses(ids);
        return ids.every((id) => s[id] === (badIds.includes(id) ? 'failed' : 'processed'));
      },
      { what: '40 processed, 2 failed', timeoutMs: 30_000 },
    ).catch(async (err) => {
      console.log(logs.text().slice(-3000));
      throw err;
    });
    const projected = await db.pool.query('SELECT id FROM transfers WHERE id = ANY($1)', [
      [...good, ...bad],
    ]);
    expect(projected.rows.map((r) => r.id).sort()).toEqual([...good].sort());

    // Each culprit sits in the dead-letter view on its own, with its own error.
    const dead = await listDeadLetters(rt);
    expect(dead.map((d) => d.ref).sort()).toEqual([...badIds].sort());
    for (const d of dead) expect(d.failedReason).toMatch(/refused row tr_/);
    const { rows } = await db.pool.query(
      'SELECT last_error FROM stripe_events WHERE id = ANY($1)',
      [badIds],
    );
    for (const r of rows) expect(r.last_error).toMatch(/refused row/);
  });
});

describe('Redis wiped after the projections committed', () => {
  it('loses no unit: every lost debit reversal still raises reversal_lost', async () => {
    const rt = createRuntime(testConfig({ DATABASE_URL: db.url }), captureLog('silent').log);
    const app = await buildApp(rt);
    let events: EventWorker | undefined;
    let recon: ReconcileWorker | undefined;
    try {
      await waitFor(() => rt.redis.status === 'ready', { what: 'redis' });
      const n = 50;
      const t0 = Math.floor(Date.now() / 1000) - 3_600;
      const units = Array.from({ length: n }, (_, i) => ({
        rd: stripeId('rd'),
        debrev: stripeId('debrev'),
        amount: 1_000 + i,
      }));
      // The ledger expects every one won.
      await upsertLedgerEntries(
        rt,
        units.map((u) => ({
          id: `le_${u.debrev}`,
          kind: 'debit_reversal' as const,
          stripe_id: u.debrev,
          parent_id: u.rd,
          amount: u.amount,
          currency: 'usd',
          expected_status: 'won' as const,
          expected_status_raw: 'won',
          account: null,
          occurred_at: t0 * 1000,
          metadata: {},
        })),
        'api',
      );
      events = startEventWorker(rt, { concurrency: 200, stripe: null });
      const evs = units.map((u) =>
        makeEvent(
          'treasury.debit_reversal.completed',
          debitReversal({
            id: u.debrev,
            received_debit: u.rd,
            amount: u.amount,
            created: t0,
            status: 'failed',
          }),
        ),
      );
      for (const r of await Promise.all(evs.map((ev) => injectEvent(app, ev))))
        expect(r.statusCode).toBe(200);
      await waitFor(
        async () =>
          Object.values(await statuses(evs.map((e) => e.id))).filter((s) => s === 'processed')
            .length === n,
        { what: 'all projected' },
      );
      await events.close();
      events = undefined;

      // Redis restarts empty: every key of this installation is gone (wake-ups included).
      const wipe = new Redis(rt.config.REDIS_URL);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await wipe.scan(
            cursor,
            'MATCH',
            `${rt.config.QUEUE_PREFIX}:*`,
            'COUNT',
            1000,
          );
          if (keys.length) await wipe.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        wipe.disconnect();
      }
      const mine = units.map((u) => u.rd);
      const waiting = await db.pool.query(
        'SELECT count(*)::int AS n FROM reconcile_outbox WHERE unit_key = ANY($1)',
        [mine],
      );
      expect(waiting.rows[0].n).toBe(n); // the intent survived in Postgres

      recon = startReconcileWorker(rt, { concurrency: 40 });
      await waitFor(
        async () => {
          const { rows } = await db.pool.query(
            `SELECT count(*)::int AS n FROM mismatches WHERE kind = 'reversal_lost' AND status = 'open'
               AND object_id = ANY($1)`,
            [units.map((u) => u.debrev)],
          );
          return rows[0].n === n;
        },
        { what: `${n} reversal_lost`, timeoutMs: 30_000 },
      );
      const left = await db.pool.query(
        'SELECT count(*)::int AS n FROM reconcile_outbox WHERE unit_key = ANY($1)',
        [mine],
      );
      expect(left.rows[0].n).toBe(0);
    } finally {
      await events?.close();
      await recon?.close();
      await app.close();
      await rt.close();
    }
  });
});
