import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onMismatchChanges, alertQueue } from '../../src/alerts/queue.js';
import { verifySignature } from '../../src/alerts/signature.js';
import { startAlertWorker, type AlertWorker } from '../../src/alerts/worker.js';
import { validateLedgerEntry, type LedgerEntryInput } from '../../src/ledger/schema.js';
import { upsertLedgerEntries } from '../../src/ledger/store.js';
import { alertDeliveriesTotal } from '../../src/metrics.js';
import { persistMismatches, type UnitMismatch } from '../../src/reconciliation/persist.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { runSweep } from '../../src/sweep/start.js';
import { createTestDatabase, waitFor, type TestDatabase } from '../support/db.js';
import { captureLog, testConfig, type CapturedLog } from '../support/events.js';

/**
 * Alerts end to end, at local HTTP sinks: one alert per problem (signed), bursts grouped into one
 * message, one resolution notice, and a dead sink retried then dead-lettered while reconciliation
 * carries on.
 */

const SECRET = 'alert_secret_0123456789';
const CONNECTED = 'acct_1AlertsConnected';
const DAY = 86_400_000;

interface Hit {
  body: string;
  json: {
    id: string;
    type: string;
    created: number;
    mismatches: Array<{ id: string; kind: string; object_id: string | null; severity: string }>;
    summary?: { open: number };
  };
  headers: IncomingHttpHeaders;
}
interface Sink {
  url: string;
  hits: Hit[];
  close(): Promise<void>;
}

async function startSink(status = () => 200): Promise<Sink> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({ body, json: JSON.parse(body), headers: req.headers });
      res.writeHead(status()).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** `recon_alert_deliveries_total` as sink -> outcome -> count (the registry is process-wide). */
async function deliveries(): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const v of (await alertDeliveriesTotal.get()).values) {
    const sink = String(v.labels.sink);
    (out[sink] ??= {})[String(v.labels.outcome)] = v.value;
  }
  return out;
}

function entry(raw: Record<string, unknown>): LedgerEntryInput {
  const v = validateLedgerEntry({ currency: 'usd', ...raw });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.entry;
}

function mismatch(i: number, over: Partial<UnitMismatch> = {}): UnitMismatch {
  return {
    fingerprint: `missing_in_ledger:trr_burst${i}:-`,
    kind: 'missing_in_ledger',
    severity: 'high',
    objectType: 'transfer_reversal',
    objectId: `trr_burst${i}`,
    ledgerEntryId: null,
    account: null,
    currency: 'usd',
    amountAtRisk: 100 + i,
    expected: null,
    actual: { amount: 100 + i },
    message: `Transfer reversal trr_burst${i} is not in the ledger, "quoted", <b>html</b>`,
    unitKey: `tr_burst${i}`,
    ...over,
  };
}

const ofType = (s: Sink, type: string) => s.hits.filter((h) => h.json.type === type);

/**
 * Waits until the alerts queue has nothing waiting, delayed or active twice in a row — every
 * grouped check and delivery that was going to happen has happened (no bare sleeps).
 */
async function alertsSettled(r: Runtime): Promise<void> {
  let quiet = 0;
  await waitFor(
    async () => {
      const c = await alertQueue(r).getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      quiet = Object.values(c).every((n) => n === 0) ? quiet + 1 : 0;
      return quiet >= 3;
    },
    { intervalMs: 100, what: 'the alerts queue to settle' },
  );
}

let sim: Simulator;
let db: TestDatabase;
let rt: Runtime;
let worker: AlertWorker;
let hook: Sink;
let slack: Sink;
let logs: CapturedLog;

beforeAll(async () => {
  sim = await createSimulator({ seed: 11, startTime: Date.now() - 10 * DAY });
  hook = await startSink();
  slack = await startSink();
  db = await createTestDatabase();
  logs = captureLog('info');
  rt = createRuntime(
    testConfig({
      DATABASE_URL: db.url,
      STRIPE_API_KEY: sim.apiKey,
      STRIPE_API_BASE: sim.url,
      RECON_GRACE_PERIOD: '0s',
      RECON_SWEEP_RATE_LIMIT: '1000',
      RECON_SWEEP_ACCOUNTS: CONNECTED,
      ALERT_WEBHOOK_URL: hook.url,
      ALERT_WEBHOOK_SECRET: SECRET,
      SLACK_WEBHOOK_URL: slack.url,
      ALERT_LOG: 'true',
      ALERT_GROUP_WINDOW: '500ms',
      LOG_LEVEL: 'info',
    }),
    logs.log,
  );
  worker = await startAlertWorker(rt, { checkEveryMs: 0 });
});

afterAll(async () => {
  await worker?.close();
  await alertQueue(rt)
    .obliterate({ force: true })
    .catch(() => {});
  await rt?.close();
  await db?.close();
  await hook?.close();
  await slack?.close();
  await sim?.close();
});

describe('stuck, lost and canceled reversals', () => {
  it('raise exactly one alert each, signed, on every sink', async () => {
    const conn = sim.stripe({ stripeAccount: CONNECTED });
    const fa = await conn.treasury.financialAccounts.create({
      supported_currencies: ['usd'],
      features: {},
    });
    const rc1 = await conn.testHelpers.treasury.receivedCredits.create({
      amount: 5_000,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    const rc2 = await conn.testHelpers.treasury.receivedCredits.create({
      amount: 6_000,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    const rd = await conn.testHelpers.treasury.receivedDebits.create({
      amount: 7_000,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    const stuck = await conn.treasury.creditReversals.create({
      received_credit: rc1.id,
      metadata: { sim_outcome: 'stuck' },
    });
    const canceled = await conn.treasury.creditReversals.create({
      received_credit: rc2.id,
      metadata: { sim_outcome: 'canceled' },
    });
    const lost = await conn.treasury.debitReversals.create({
      received_debit: rd.id,
      metadata: { sim_outcome: 'lost' },
    });
    await sim.advanceDays(4);
    await upsertLedgerEntries(
      rt,
      [
        entry({
          id: 'le_stuck',
          kind: 'credit_reversal',
          stripe_id: stuck.id,
          parent_id: rc1.id,
          amount: 5_000,
          expected_status: 'posted',
          account: CONNECTED,
        }),
        entry({
          id: 'le_cancel',
          kind: 'credit_reversal',
          stripe_id: canceled.id,
          parent_id: rc2.id,
          amount: 6_000,
          expected_status: 'posted',
          account: CONNECTED,
        }),
        entry({
          id: 'le_lost',
          kind: 'debit_reversal',
          stripe_id: lost.id,
          parent_id: rd.id,
          amount: 7_000,
          expected_status: 'won',
          account: CONNECTED,
        }),
      ],
      'api',
    );

    const run = await runSweep(rt, { trigger: 'cli' });
    expect(run.status).toBe('completed');
    await waitFor(
      () =>
        ofType(hook, 'sweep.completed').length === 1 && ofType(hook, 'mismatch.opened').length >= 1,
      {
        what: 'opened + summary alerts',
      },
    );

    const opened = ofType(hook, 'mismatch.opened').flatMap((h) => h.json.mismatches);
    const byObject = (id: string) => opened.filter((m) => m.object_id === id).map((m) => m.kind);
    expect(byObject(stuck.id)).toEqual(['stuck_processing']);
    expect(byObject(canceled.id)).toEqual(['reversal_canceled']);
    expect(byObject(lost.id)).toEqual(['reversal_lost']);
    expect(opened).toHaveLength(3);

    for (const h of hook.hits) {
      expect(verifySignature(h.headers['recon-signature'] as string, h.body, SECRET)).toBe(true);
      expect(verifySignature(h.headers['recon-signature'] as string, h.body, 'wrong-secret')).toBe(
        false,
      );
      expect(h.headers['recon-notification-id']).toBe(h.json.id);
    }
    // Slack got the same messages, as text + blocks.
    await waitFor(() => slack.hits.length === hook.hits.length, { what: 'slack deliveries' });
    const slackOpened = slack.hits.find((h) =>
      (h.json as unknown as { text: string }).text.includes('new reconciliation mismatch'),
    );
    expect(slackOpened).toBeDefined();
    expect((slackOpened!.json as unknown as { blocks: unknown[] }).blocks.length).toBeGreaterThan(
      1,
    );
    // And the log sink wrote a line.
    expect(
      logs
        .lines()
        .some((l) => (l.alert as { type?: string } | undefined)?.type === 'mismatch.opened'),
    ).toBe(true);

    // A second sweep finds the same problems: no new alert, only its summary.
    const before = ofType(hook, 'mismatch.opened').length;
    await runSweep(rt, { trigger: 'cli' });
    await waitFor(() => ofType(hook, 'sweep.completed').length === 2, { what: 'second summary' });
    await alertsSettled(rt);
    expect(ofType(hook, 'mismatch.opened').length).toBe(before);
    expect(ofType(hook, 'sweep.completed')[1]!.json.summary?.open).toBe(3);
  });
});

describe('bursts and resolutions', () => {
  it('groups 200 new mismatches into one message and sends one resolution notice', async () => {
    const opened0 = ofType(hook, 'mismatch.opened').length;
    const slack0 = slack.hits.length;
    const all = Array.from({ length: 200 }, (_, i) => mismatch(i));
    // Four reconcile batches in quick succession, each announcing its changes.
    for (let b = 0; b < 4; b++) {
      const batch = all.slice(b * 50, b * 50 + 50);
      const changes = await persistMismatches(
        rt,
        batch.map((m) => m.unitKey!),
        batch,
        Date.now(),
      );
      expect(changes.opened).toHaveLength(50);
      await onMismatchChanges(rt, changes);
    }
    // A kind that does not alert by default: never announced, so never "resolved" either.
    const quiet = mismatch(999, {
      kind: 'duplicate_match',
      fingerprint: 'duplicate_match:trr_q:-',
      unitKey: 'tr_quiet',
    });
    await onMismatchChanges(rt, await persistMismatches(rt, ['tr_quiet'], [quiet], Date.now()));

    await waitFor(() => ofType(hook, 'mismatch.opened').length > opened0, {
      what: 'the grouped alert',
    });
    await alertsSettled(rt);
    const burst = ofType(hook, 'mismatch.opened').slice(opened0);
    expect(burst).toHaveLength(1);
    expect(burst[0]!.json.mismatches).toHaveLength(200);
    expect(new Set(burst[0]!.json.mismatches.map((m) => m.object_id)).size).toBe(200);
    const slackBurst = slack.hits.slice(slack0);
    expect(slackBurst).toHaveLength(1);
    const blocks = (slackBurst[0]!.json as unknown as { blocks: Array<{ type: string }> }).blocks;
    expect(blocks.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(blocks)).toContain('and 180 more');

    // Everything clears: one resolution notice, carrying the 200 that had been announced.
    const changes = await persistMismatches(
      rt,
      [...all.map((m) => m.unitKey!), 'tr_quiet'],
      [],
      Date.now(),
    );
    expect(changes.resolved).toHaveLength(201);
    await onMismatchChanges(rt, changes);
    await waitFor(() => ofType(hook, 'mismatch.resolved').length === 1, {
      what: 'resolution notice',
    });
    await alertsSettled(rt);
    const resolved = ofType(hook, 'mismatch.resolved');
    expect(resolved).toHaveLength(1);
    expect(resolved[0]!.json.mismatches).toHaveLength(200);
    expect(resolved[0]!.json.mismatches.some((m) => m.kind === 'duplicate_match')).toBe(false);
    const { rows } = await rt.pool.query(
      `SELECT 1 FROM mismatches WHERE status = 'resolved' AND notified_severity IS NOT NULL`,
    );
    expect(rows).toHaveLength(0);
  });

  it('re-notifies when severity rises, not when it stays', async () => {
    const m = mismatch(500, { severity: 'medium', unitKey: 'tr_sev' });
    await onMismatchChanges(rt, await persistMismatches(rt, ['tr_sev'], [m], Date.now()));
    await waitFor(
      () =>
        ofType(hook, 'mismatch.opened').some((h) =>
          h.json.mismatches.some((x) => x.object_id === 'trr_burst500'),
        ),
      { what: 'opened' },
    );
    await onMismatchChanges(
      rt,
      await persistMismatches(rt, ['tr_sev'], [{ ...m, message: 'seen again' }], Date.now()),
    );
    await onMismatchChanges(
      rt,
      await persistMismatches(rt, ['tr_sev'], [{ ...m, severity: 'critical' }], Date.now()),
    );
    await waitFor(() => ofType(hook, 'mismatch.escalated').length === 1, { what: 'escalation' });
    await alertsSettled(rt);
    const mentions = hook.hits.filter(
      (h) =>
        h.json.mismatches.some((x) => x.object_id === 'trr_burst500') &&
        h.json.type !== 'sweep.completed',
    );
    expect(
      mentions.map((h) => [
        h.json.type,
        h.json.mismatches.find((x) => x.object_id === 'trr_burst500')!.severity,
      ]),
    ).toEqual([
      ['mismatch.opened', 'medium'],
      ['mismatch.escalated', 'critical'],
    ]);
  });
});

describe('a failing sink', () => {
  let db2: TestDatabase;
  let rt2: Runtime;
  let worker2: AlertWorker;
  let dead: Sink;
  let logs2: CapturedLog;

  beforeAll(async () => {
    dead = await startSink(() => 500);
    db2 = await createTestDatabase();
    logs2 = captureLog('info');
    rt2 = createRuntime(
      testConfig({
        DATABASE_URL: db2.url,
        ALERT_WEBHOOK_URL: dead.url,
        ALERT_LOG: 'true',
        ALERT_ATTEMPTS: '3',
        ALERT_BACKOFF: '20ms',
        ALERT_GROUP_WINDOW: '50ms',
        LOG_LEVEL: 'info',
      }),
      logs2.log,
    );
    worker2 = await startAlertWorker(rt2, { checkEveryMs: 0 });
  });
  afterAll(async () => {
    await worker2?.close();
    await alertQueue(rt2)
      .obliterate({ force: true })
      .catch(() => {});
    await rt2?.close();
    await db2?.close();
    await dead?.close();
  });

  it('is retried with backoff, then dead-lettered, while reconciliation carries on', async () => {
    const before = await deliveries();
    const m = mismatch(1, { unitKey: 'tr_dead' });
    await onMismatchChanges(rt2, await persistMismatches(rt2, ['tr_dead'], [m], Date.now()));
    const failed = await waitFor(
      async () => {
        const jobs = await alertQueue(rt2).getFailed();
        return jobs.length === 1 ? jobs : null;
      },
      { what: 'the delivery to land in the failed set' },
    );
    expect(failed[0]!.data).toMatchObject({ job: 'deliver', sink: 'webhook' });
    expect(failed[0]!.attemptsMade).toBe(3);
    // Counted by sink and outcome: two retried attempts, then the one that gave up.
    expect((await deliveries()).webhook?.retried ?? 0).toBe((before.webhook?.retried ?? 0) + 2);
    expect((await deliveries()).webhook?.failed ?? 0).toBe((before.webhook?.failed ?? 0) + 1);
    expect((await deliveries()).log?.delivered ?? 0).toBeGreaterThan(before.log?.delivered ?? 0);
    expect(failed[0]!.failedReason).toMatch(/500/);
    expect(dead.hits).toHaveLength(3);
    // Every retry carried the same notification id, so a receiver could dedupe them.
    expect(new Set(dead.hits.map((h) => h.json.id)).size).toBe(1);
    // The log sink is a separate delivery: it went out at once.
    expect(
      logs2
        .lines()
        .filter((l) => (l.alert as { type?: string } | undefined)?.type === 'mismatch.opened'),
    ).toHaveLength(1);
    expect(logs2.text()).not.toContain(dead.url);

    // Reconciliation is unaffected: more changes persist and announce without waiting on the sink.
    const started = Date.now();
    const next = await persistMismatches(
      rt2,
      ['tr_dead2'],
      [mismatch(2, { unitKey: 'tr_dead2' })],
      Date.now(),
    );
    await onMismatchChanges(rt2, next);
    expect(next.opened).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2_000);
    await waitFor(async () => (await alertQueue(rt2).getFailed()).length === 2, {
      what: 'second dead letter',
    });
  });
});
