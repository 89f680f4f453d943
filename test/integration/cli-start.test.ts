import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import {
  cliEnv,
  createEmptyDatabase,
  freePort,
  http,
  killAllChildren,
  sql,
  startCli,
  type CliProcess,
} from '../support/cli.js';
import { randomQueuePrefix, redisUrl, waitFor } from '../support/db.js';
import {
  TEST_OPERATOR_TOKEN,
  TEST_WEBHOOK_SECRET,
  makeEvent,
  signedRequest,
  stripeId,
} from '../support/events.js';
import {
  creditReversal,
  debitReversal,
  transfer,
  transferReversal,
} from '../support/projection-objects.js';

/**
 * `recon start` as an operator runs it: one process that migrates an empty database, serves the
 * webhook receiver and operator API, and runs every worker; SIGTERM drains and exits 0. Events it
 * acknowledged before a SIGTERM are all projected once it is started again.
 */

const nowSec = () => Math.floor(Date.now() / 1_000);

let sim: Simulator;
let dbUrl: string;
let queuePrefix: string;

beforeAll(async () => {
  sim = await createSimulator({ seed: 11 });
  dbUrl = await createEmptyDatabase();
  queuePrefix = randomQueuePrefix();
});

afterEach(async () => {
  await killAllChildren();
});

afterAll(async () => {
  await sim?.close();
});

interface Started {
  proc: CliProcess;
  base: string;
}

/**
 * `recon <role>` on the file's database and queue prefix, on a fresh port. Resolves once it is
 * ready: GET /readyz 200 for `start` and `serve`, the "workers started" log line for `worker`.
 */
async function start(role: 'start' | 'serve' | 'worker' = 'start'): Promise<Started> {
  const port = await freePort();
  const proc = startCli(
    [role],
    cliEnv({
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl(),
      QUEUE_PREFIX: queuePrefix,
      STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      STRIPE_API_KEY: sim.apiKey,
      STRIPE_API_BASE: sim.url,
      OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`recon ${role} exited early`);
      if (role === 'worker') return proc.logLines().some((l) => l.msg === 'workers started');
      return (await http(base, 'GET', '/readyz', { timeoutMs: 2_000 })).status === 200;
    },
    { timeoutMs: 40_000, intervalMs: 100, what: `recon ${role} ready` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.transcript()}`, { cause: err });
  });
  return { proc, base };
}

/** SIGTERM, then: exit code 0 within 15 s, a clean shutdown in the log, no error lines. */
async function stopCleanly({ proc }: Started): Promise<number> {
  const t0 = Date.now();
  proc.signal('SIGTERM');
  const exit = await proc.waitForExit(15_000);
  const ms = Date.now() - t0;
  expect(exit, proc.transcript()).toMatchObject({ code: 0, signal: null });
  const msgs = proc.logLines().map((l) => String(l.msg));
  expect(msgs, proc.transcript()).toContain('shutting down: draining in-flight work');
  expect(msgs.at(-1), proc.transcript()).toBe('stopped');
  const errors = proc.logLines().filter((l) => Number(l.level) >= 50);
  expect(errors, proc.transcript()).toEqual([]);
  return ms;
}

async function postEvent(base: string, event: object) {
  const { payload, headers } = signedRequest(event, TEST_WEBHOOK_SECRET);
  return http<{ received?: boolean }>(base, 'POST', '/webhooks/stripe', {
    body: payload,
    headers,
  });
}

interface ApiMismatch {
  kind: string;
  status: string;
  object_id: string | null;
  ledger_entry_id: string | null;
}

async function mismatches(base: string, status: 'open' | 'resolved'): Promise<ApiMismatch[]> {
  const r = await http<{ data: ApiMismatch[]; has_more: boolean }>(
    base,
    'GET',
    `/api/mismatches?status=${status}&limit=100`,
    { token: TEST_OPERATOR_TOKEN },
  );
  expect(r.status, r.text).toBe(200);
  expect(r.body.has_more).toBe(false);
  return r.body.data;
}

const key = (m: ApiMismatch) => `${m.kind}:${m.object_id}`;

describe('recon start', () => {
  it('migrates an empty database, projects signed events, reconciles the ledger, and stops on SIGTERM', async () => {
    const s = await start();
    // The empty database was migrated by `start` itself.
    expect(s.proc.stdout).toMatch(/applied migration \d{14}_init/);
    const applied = await sql<{ n: number }>(
      dbUrl,
      `SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL`,
    );
    expect(applied[0]!.n).toBeGreaterThanOrEqual(3);

    // Stripe's objects, created an hour ago (past the default 15m grace period).
    const t0 = nowSec() - 3_600;
    const tr = stripeId('tr');
    const trr = stripeId('trr');
    const credrev = stripeId('credrev');
    const rc = stripeId('rc');
    const debrev = stripeId('debrev');
    const rd = stripeId('rd');
    const cr = { id: credrev, received_credit: rc, amount: 1_200, created: t0 };
    const events = [
      makeEvent('transfer.created', transfer({ id: tr, amount: 10_000, created: t0 })),
      makeEvent(
        'transfer.reversed',
        transfer({ id: tr, amount: 10_000, created: t0 }, [
          transferReversal({ id: trr, transfer: tr, amount: 2_500, created: t0 }),
        ]),
      ),
      makeEvent('treasury.credit_reversal.created', creditReversal(cr), { created: t0 }),
      makeEvent(
        'treasury.credit_reversal.posted',
        creditReversal({ ...cr, status: 'posted', status_transitions: { posted_at: t0 + 60 } }),
        { created: t0 + 60 },
      ),
      makeEvent(
        'treasury.debit_reversal.created',
        debitReversal({ id: debrev, received_debit: rd, amount: 700, created: t0 }),
      ),
    ];
    for (const ev of events) {
      const r = await postEvent(s.base, ev);
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ received: true, duplicate: false });
    }
    // A redelivery is acknowledged as a duplicate; a forged signature is refused.
    expect((await postEvent(s.base, events[0]!)).body).toMatchObject({ duplicate: true });
    const forged = signedRequest(events[0]!, 'whsec_not_the_configured_secret');
    const bad = await http(s.base, 'POST', '/webhooks/stripe', {
      body: forged.payload,
      headers: forged.headers,
    });
    expect(bad.status).toBe(400);
    // The operator API needs the token.
    expect((await http(s.base, 'GET', `/api/reversals/${trr}`)).status).toBe(401);

    const reversal = (id: string) =>
      http<Record<string, unknown>>(s.base, 'GET', `/api/reversals/${id}`, {
        token: TEST_OPERATOR_TOKEN,
      });
    await waitFor(
      async () =>
        (await Promise.all([trr, credrev, debrev].map(reversal))).every((r) => r.status === 200) &&
        (await reversal(credrev)).body.normalized_status === 'posted',
      { timeoutMs: 20_000, intervalMs: 100, what: 'all three reversals projected' },
    );
    expect((await reversal(trr)).body).toMatchObject({
      id: trr,
      object: 'transfer_reversal',
      amount: 2_500,
      transfer: tr,
      normalized_status: 'succeeded',
    });
    const credit = (await reversal(credrev)).body;
    expect(credit).toMatchObject({ id: credrev, amount: 1_200, normalized_status: 'posted' });
    expect((credit.status_history as Array<{ to: string }>).map((h) => h.to)).toEqual([
      'processing',
      'posted',
    ]);
    expect((await reversal(debrev)).body).toMatchObject({
      id: debrev,
      normalized_status: 'processing',
    });
    const transferView = await http<Record<string, unknown>>(
      s.base,
      'GET',
      `/api/transfers/${tr}`,
      {
        token: TEST_OPERATOR_TOKEN,
      },
    );
    expect(transferView.body).toMatchObject({ id: tr, amount_reversed: 2_500 });

    // Nothing in the ledger yet: every reversal is missing from it.
    const missing = [trr, credrev, debrev].map((id) => `missing_in_ledger:${id}`).sort();
    await waitFor(
      async () =>
        JSON.stringify((await mismatches(s.base, 'open')).map(key).sort()) ===
        JSON.stringify(missing),
      { timeoutMs: 20_000, intervalMs: 100, what: 'three missing_in_ledger mismatches' },
    );

    // The ledger arrives: two agree, one has the wrong amount.
    const ledger = await http<{ results: Array<{ id: string; result: string }> }>(
      s.base,
      'POST',
      '/api/ledger/entries',
      {
        token: TEST_OPERATOR_TOKEN,
        json: {
          entries: [
            {
              id: 'le_cli_trr',
              kind: 'transfer_reversal',
              stripe_id: trr,
              parent_id: tr,
              amount: 2_500,
              currency: 'usd',
              expected_status: 'succeeded',
            },
            {
              id: 'le_cli_credrev',
              kind: 'credit_reversal',
              stripe_id: credrev,
              parent_id: rc,
              amount: 1_000,
              currency: 'usd',
              expected_status: 'posted',
            },
            {
              id: 'le_cli_debrev',
              kind: 'debit_reversal',
              stripe_id: debrev,
              parent_id: rd,
              amount: 700,
              currency: 'usd',
            },
          ],
        },
      },
    );
    expect(ledger.status, ledger.text).toBe(200);
    expect(ledger.body.results.map((r) => r.result)).toEqual(['created', 'created', 'created']);

    await waitFor(
      async () =>
        JSON.stringify((await mismatches(s.base, 'open')).map(key)) ===
        JSON.stringify([`amount_mismatch:${credrev}`]),
      { timeoutMs: 20_000, intervalMs: 100, what: 'only the amount mismatch left open' },
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}: open = ${JSON.stringify((await mismatches(s.base, 'open')).map(key))}`,
      );
    });
    expect((await mismatches(s.base, 'resolved')).map(key).sort()).toEqual(missing);
    expect((await reversal(credrev)).body).toMatchObject({
      ledger_entries: [{ id: 'le_cli_credrev' }],
      mismatches: [{ kind: 'amount_mismatch' }],
    });

    const ms = await stopCleanly(s);
    expect(ms).toBeLessThan(15_000);
  });

  it('loses nothing it acknowledged when SIGTERM arrives mid-traffic: a restart projects every 2xx event', async () => {
    const migrated = await sql(dbUrl, `SELECT 1 FROM "_prisma_migrations"`).catch(() => []);
    const s = await start();
    // On a database that is already current (after the first test), start applies nothing.
    if (migrated.length) expect(s.proc.stdout).not.toMatch(/applied migration/);

    const acked = await trafficThenSigterm(s, 'Start');
    // start drains: whatever it acknowledged is projected, or still pending in the inbox.
    const again = await start();
    await allProjected(acked);
    const one = await http(again.base, 'GET', `/api/reversals/${acked.at(-1)!.object}`, {
      token: TEST_OPERATOR_TOKEN,
    });
    expect(one.status, one.text).toBe(200);
    await stopCleanly(again);
  });

  it('serve acknowledges and stops on SIGTERM mid-traffic; a later `recon worker` projects all of it', async () => {
    const s = await start('serve');
    const acked = await trafficThenSigterm(s, 'Serve');
    // No worker ran: the acknowledged events wait in the inbox (and in BullMQ), none projected.
    expect(await projectedIds(acked)).toEqual([]);
    const w = await start('worker');
    await allProjected(acked);
    await stopCleanly(w);
  });
});

interface Acked {
  event: string;
  object: string;
}

/**
 * Four senders post signed credit-reversal events until the server refuses them; SIGTERM goes out
 * once 40 are acknowledged, and the process must then exit 0 with a clean shutdown. Returns the
 * acknowledged (2xx) ones, each checked to be stored in the inbox.
 */
async function trafficThenSigterm(s: Started, tag: string): Promise<Acked[]> {
  const created = nowSec() - 3_600;
  const acked: Acked[] = [];
  const refused: number[] = [];
  let n = 0;
  const sender = async () => {
    while (n < 5_000) {
      const i = n++;
      const id = `credrev_cli${tag}${String(i).padStart(5, '0')}`;
      const ev = makeEvent(
        'treasury.credit_reversal.created',
        creditReversal({ id, received_credit: `rc_cli${tag}${i}`, amount: 100 + i, created }),
      );
      const r = await postEvent(s.base, ev).catch(() => ({ status: 0 }));
      if (r.status < 200 || r.status >= 300) {
        refused.push(r.status);
        return; // the server is going away: this sender is done
      }
      acked.push({ event: ev.id, object: id });
    }
  };
  const senders = Promise.all([sender(), sender(), sender(), sender()]);
  await waitFor(() => acked.length >= 40, { timeoutMs: 20_000, what: '40 acknowledged events' });
  await stopCleanly(s);
  await senders;
  // Refusals are a closing server (503) or a closed port (0), never another error.
  expect(
    refused.every((r) => r === 0 || r === 503),
    refused.join(','),
  ).toBe(true);
  // Acknowledged means stored: every 2xx event is in the inbox.
  const stored = await sql<{ id: string }>(
    dbUrl,
    `SELECT id FROM stripe_events WHERE id = ANY($1)`,
    [acked.map((a) => a.event)],
  );
  expect(stored.length).toBe(acked.length);
  return acked;
}

async function projectedIds(acked: Acked[]): Promise<string[]> {
  const rows = await sql<{ id: string }>(
    dbUrl,
    `SELECT id FROM credit_reversals WHERE id = ANY($1)`,
    [acked.map((a) => a.object)],
  );
  return rows.map((r) => r.id);
}

/** Every acknowledged event projected and its inbox row processed (bounded). */
async function allProjected(acked: Acked[]): Promise<void> {
  await waitFor(
    async () => {
      if ((await projectedIds(acked)).length !== acked.length) return false;
      const left = await sql(
        dbUrl,
        `SELECT 1 FROM stripe_events WHERE id = ANY($1) AND status <> 'processed'`,
        [acked.map((a) => a.event)],
      );
      return left.length === 0;
    },
    {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: `all ${acked.length} acknowledged events projected`,
    },
  ).catch(async (err: Error) => {
    const got = new Set(await projectedIds(acked));
    const missing = acked.filter((a) => !got.has(a.object)).map((a) => a.object);
    throw new Error(`${err.message}: not projected ${JSON.stringify(missing)}`, { cause: err });
  });
}
