import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { startEventWorker, type EventWorker } from '../../src/projections/worker.js';
import { startReconcileWorker, type ReconcileWorker } from '../../src/reconciliation/worker.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { captureLog, injectEvent, loadFixtureEvent, testConfig } from '../support/events.js';

let db: TestDatabase;
let rt: Runtime;
let app: FastifyInstance;
let events: EventWorker;
let recon: ReconcileWorker;

beforeAll(async () => {
  db = await createTestDatabase();
  rt = createRuntime(
    testConfig({ DATABASE_URL: db.url, RECON_GRACE_PERIOD: '0s' }),
    captureLog('warn').log,
  );
  app = await buildApp(rt);
  events = startEventWorker(rt, { concurrency: 4, stripe: null, reconcileDelayMs: 20 });
  recon = startReconcileWorker(rt, { concurrency: 4 });
});

afterAll(async () => {
  await events?.close();
  await recon?.close();
  await app?.close();
  await rt?.close();
  await db?.close();
});

describe('GET /metrics', () => {
  it('reports webhook outcomes, projection, reconciliation and open mismatches', async () => {
    // A credit reversal created long ago and still processing: stuck, with no ledger entry.
    const ev = loadFixtureEvent('treasury.credit_reversal.created');
    expect((await injectEvent(app, ev)).statusCode).toBe(200);
    await waitFor(
      async () => (await db.pool.query(`SELECT 1 FROM mismatches WHERE status = 'open'`)).rowCount,
      { what: 'a mismatch' },
    );
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toMatch(/recon_webhook_requests_total\{outcome="[a-z_]+"\} [1-9]/);
    expect(r.body).toMatch(
      /recon_events_projected_total\{type="treasury\.credit_reversal\.created"\} 1/,
    );
    expect(r.body).toMatch(/recon_projection_batch_seconds_count [1-9]/);
    expect(r.body).toMatch(/recon_reconcile_runs_total\{trigger="worker",result="ok"\} [1-9]/);
    expect(r.body).toMatch(/recon_mismatches_open\{kind="stuck_processing",severity="[a-z]+"\} 1/);
  });
});
