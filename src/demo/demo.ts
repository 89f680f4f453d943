import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../config/config.js';
import { ensureDatabase, migrate } from '../db/migrate.js';
import { Prisma, rawRows } from '../db/prisma.js';
import { formatMoney } from '../domain/money.js';
import { ReconError, postgresUnavailable } from '../errors.js';
import { createProgress } from '../cli/progress.js';
import { createLogger } from '../log/logger.js';
import { startServer, startWorkers, type Stoppable } from '../roles.js';
import { renderReport } from '../reports/render.js';
import { createRedis } from '../queue/queues.js';
import { createRuntime, type Runtime } from '../runtime.js';
import { createSimulator, type Simulator } from '../simulator/index.js';
import { runSweep } from '../sweep/start.js';
import { Prng } from '../domain/prng.js';
import { playDay, type Planted } from './scenario.js';

export interface DemoOptions {
  /** Leave the receiver, workers and simulator running afterwards. */
  keep?: boolean;
  /** Receiver port; 0 picks a free one. @defaultValue 0, or 3000 with keep */
  port?: number;
  /** @defaultValue 42 */
  seed?: number;
  /** Transfers in the scripted day. @defaultValue 300 */
  transfers?: number;
  /** @defaultValue RECON_DEMO_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/recon_demo */
  databaseUrl?: string;
  /** @defaultValue REDIS_URL, else redis://127.0.0.1:6379 */
  redisUrl?: string;
  print?: (line: string) => void;
}

export interface DemoResult {
  ok: boolean;
  planted: Planted[];
  found: Array<{ kind: string; object_id: string | null; severity: string; message: string }>;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/**
 * Nine simulated days (Treasury reversals take days to settle) are played in seconds. The
 * reconciler reads the simulator's clock instead of the wall clock, so grace periods and stuck
 * thresholds mean what they mean in production. The clock starts nine days and two hours before
 * the demo started and so ends at that moment — never ahead of the wall clock: every ledger entry
 * written during the run is past the 15-minute grace, and time only moves forward afterwards.
 * With --keep the demo then switches to the wall clock itself (and the simulator follows it), so
 * the kept demo and every `recon` command pointed at its database run on one clock, with no
 * offset to store or share.
 */
const SIM_DAYS = 9;
const SIM_TAIL_MS = 2 * HOUR_MS;

/**
 * Opens the comment of a database the demo created: the only kind it will ever drop. The rest of
 * the comment names the run and its queue prefix, so the next run can remove the Redis keys of one
 * that was killed before it could.
 */
const DEMO_MARK = 'created by recon demo';
const DEMO_PREFIX = /^recon-demo-[0-9a-f]{8}$/;

/** The demo refuses to touch a database it cannot prove it made, or one that is in use. */
export class DemoDatabaseError extends ReconError {}

interface DemoRun {
  id: string;
  queuePrefix: string;
}

const markOf = (run: DemoRun) =>
  `${DEMO_MARK} ${run.id} on ${new Date().toISOString()}; queue prefix ${run.queuePrefix}; ` +
  'dropped and recreated by the next demo run';

/** The queue prefix a demo database's comment names (null for marks that predate it). */
function markedQueuePrefix(comment: string): string | null {
  const prefix = /; queue prefix (\S+);/.exec(comment)?.[1];
  return prefix && DEMO_PREFIX.test(prefix) ? prefix : null;
}

const OVERRIDE = 'point RECON_DEMO_DATABASE_URL at another database';

/**
 * Makes the demo's database: a `recon_demo…` database is created and marked, or dropped and
 * recreated if (and only if) an earlier demo run marked it and nothing is connected to it. Without
 * FORCE, so a session that connects meanwhile makes the drop fail rather than lose its connection.
 * Returns the queue prefix of the previous run, whose Redis keys may be left over.
 */
async function resetDemoDatabase(
  url: string,
  run: DemoRun,
): Promise<{ previousPrefix: string | null }> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  if (!name.startsWith('recon_demo')) {
    await ensureDatabase(url); // a database the user chose: never dropped
    return { previousPrefix: null };
  }
  u.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: u.toString() });
  await admin.connect().catch((err: unknown) => {
    throw postgresUnavailable(u.toString(), err);
  });
  const inUse = (who: string) =>
    new DemoDatabaseError(
      `database "${name}" is in use (${who}: a kept demo still running?), so it is not dropped; ` +
        `stop that, or ${OVERRIDE}`,
    );
  try {
    const { rows } = await admin.query<{ comment: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [name],
    );
    let previousPrefix: string | null = null;
    if (rows.length > 0) {
      const comment = rows[0]!.comment;
      // Someone else's recon_demo (or one from before the mark existed) is left alone: dropping a
      // database on a shared server is not a demo's call.
      if (!comment?.startsWith(DEMO_MARK))
        throw new DemoDatabaseError(
          `database "${name}" exists but was not created by recon demo, so it is not dropped; ` +
            `drop it yourself or ${OVERRIDE}`,
        );
      const sessions = await admin.query<{ who: string; n: number }>(
        `SELECT COALESCE(NULLIF(application_name, ''), 'a client') AS who, count(*)::int AS n
           FROM pg_stat_activity
          WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()
          GROUP BY 1 ORDER BY 1`,
        [name],
      );
      if (sessions.rows.length > 0)
        throw inUse(sessions.rows.map((r) => `${r.n} × ${r.who}`).join(', '));
      try {
        await admin.query(`DROP DATABASE "${name}"`);
      } catch (err) {
        // 55006 object_in_use: someone connected between the check and the drop.
        if ((err as { code?: string }).code === '55006')
          throw inUse('a session connected just now');
        throw err;
      }
      previousPrefix = markedQueuePrefix(comment);
    }
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.query(`COMMENT ON DATABASE "${name}" IS ${admin.escapeLiteral(markOf(run))}`);
    return { previousPrefix };
  } finally {
    await admin.end();
  }
}

/**
 * Deletes every key under a BullMQ prefix (SCAN, so a large Redis is not blocked), on a connection
 * of its own: it runs after the demo's runtime has closed, so nothing writes behind it.
 */
async function removeQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = createRedis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function drained(rt: Runtime): Promise<boolean> {
  const [events, reconcile, inbox] = await Promise.all([
    rt.queues.events.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'waiting-children',
    ),
    // The reconcile queue always holds the next safety tick: what counts is the outbox and
    // whether a drain is running.
    rt.queues.reconcile.getJobCounts('active'),
    rt.prisma.$queryRaw<Array<{ n: bigint }>>`
      SELECT (SELECT count(*) FROM stripe_events WHERE status = 'pending')
           + (SELECT count(*) FROM reconcile_outbox) AS n`,
  ]);
  const busy = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
  return busy(events) === 0 && busy(reconcile) === 0 && Number(inbox[0]!.n) === 0;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const started = Date.now();
  const step = (msg: string) =>
    print(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${msg}`);
  const seed = opts.seed ?? 42;
  const rng = new Prng(seed);
  const databaseUrl =
    opts.databaseUrl ??
    process.env.RECON_DEMO_DATABASE_URL ??
    'postgresql://postgres@127.0.0.1:5432/recon_demo';
  const redisUrl = opts.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const port = opts.port ?? (opts.keep ? 3000 : 0);

  print('recon demo — a platform day, played through the Stripe simulator');
  const run: DemoRun = {
    id: randomBytes(6).toString('hex'),
    queuePrefix: `recon-demo-${randomBytes(4).toString('hex')}`,
  };
  const { previousPrefix } = await resetDemoDatabase(databaseUrl, run);

  // Everything opened from here is closed by `cleanup`, in reverse order, exactly once: when the
  // demo returns or throws, or on Ctrl-C / SIGTERM in the middle of the run (a second signal
  // exits at once).
  const closers: Array<() => Promise<unknown>> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const close of closers.reverse()) await close().catch(() => {});
    })());
  let stopKept: (() => void) | null = null;
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(130);
    if (stopKept) return stopKept();
    print('interrupted: stopping the demo and removing its Redis keys');
    // After start-up is through, so that no worker still starting writes keys after the cleanup.
    void startup.then(cleanup).finally(() => process.exit(130));
  };
  let startedUp!: () => void;
  const startup = new Promise<void>((resolve) => (startedUp = resolve));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  closers.push(async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });

  try {
    // One named connection held for the demo's whole life: the next run sees the database in use
    // and refuses to drop it (the pool's connections come and go with load).
    const lease = new pg.Client({
      connectionString: databaseUrl,
      application_name: `recon demo ${run.id}`,
    });
    lease.on('error', () => {});
    closers.push(() => lease.end());
    await lease.connect();
    const mig = await migrate(databaseUrl);
    step(
      `database ${new URL(databaseUrl).pathname.slice(1)} ready (${mig.applied.length} migrations applied)`,
    );

    const sim: Simulator = await createSimulator({
      seed,
      startTime: started - SIM_DAYS * DAY_MS - SIM_TAIL_MS,
      webhook: { concurrency: 8, retryBaseMs: 50 },
    });
    closers.push(() => sim.close());
    // Webhook chaos: some deliveries duplicated, some reordered, a few never arrive (the sweep
    // recovers those from GET /v1/events).
    sim.setChaos({ duplicateRate: 0.08, reorderWindow: 8, dropRate: 0.03 });
    const secret = `whsec_demo_${randomBytes(12).toString('hex')}`;
    const operatorToken = randomBytes(18).toString('base64url');
    const config = loadConfig({
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      STRIPE_WEBHOOK_SECRET: secret,
      STRIPE_API_KEY: sim.apiKey,
      STRIPE_API_BASE: sim.url,
      OPERATOR_TOKEN: operatorToken,
      QUEUE_PREFIX: run.queuePrefix,
      PORT: String(port),
      HOST: '127.0.0.1',
      RELAY_INTERVAL: '1s',
      RECON_SWEEP_RATE_LIMIT: '500',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    });
    const logPath = join(tmpdir(), `recon-demo-${process.pid}.log`);
    const log = createLogger({ level: config.LOG_LEVEL }, createWriteStream(logPath));
    // The simulated clock while the day is played; the wall clock once a kept demo is handed over
    // (see SIM_DAYS), so that it and the recon commands pointed at it agree on the time.
    let wallClock = false;
    const rt = createRuntime(config, log, { clock: () => (wallClock ? Date.now() : sim.now()) });
    closers.push(async () => {
      await rt.close();
      // Demo queues are throwaway: remove all their keys (every queue under the demo's prefix) so
      // repeated runs leave Redis clean.
      await removeQueueKeys(redisUrl, config.QUEUE_PREFIX).catch(() => {});
    });
    // A run killed before it could clean up left its keys under the prefix its database names;
    // that database was idle and has been dropped, so nothing uses them any more.
    if (previousPrefix && previousPrefix !== run.queuePrefix)
      await removeQueueKeys(redisUrl, previousPrefix).catch(() => {});
    const stoppables: Stoppable[] = [];
    closers.push(async () => {
      for (const s of [...stoppables].sort((a, b) =>
        a.name === 'http' ? -1 : b.name === 'http' ? 1 : 0,
      )) {
        await s.stop().catch(() => {});
      }
    });
    const server = await startServer(rt);
    stoppables.push(...server.stoppables);
    stoppables.push(...(await startWorkers(rt)));
    startedUp();
    const address = server.app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;
    sim.addWebhookEndpoint({ url: `${base}/webhooks/stripe`, secret });
    step(`simulator on ${sim.url}, receiver on ${base} (logs: ${logPath})`);

    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${operatorToken}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (!res.ok)
        throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(json).slice(0, 500)}`);
      return json;
    };

    const bar = opts.print ? null : createProgress('playing the day', process.stdout);
    const scenario = await playDay(sim, rng, {
      transfers: opts.transfers ?? 300,
      onProgress: (done, total) => bar?.update(done, total),
      book: async (entry) => {
        await api('POST', '/api/ledger/entries', { entries: [entry] });
      },
    });
    bar?.stop();
    const c = scenario.counts;
    step(
      `played the day: ${c.transfers} transfers, ${c.transferReversals} transfer reversals, ` +
        `${c.creditReversals} credit reversals, ${c.debitReversals} debit reversals; ` +
        `${scenario.ledger.length} ledger entries booked through /api/ledger/entries`,
    );
    for (let d = 1; d <= SIM_DAYS; d++) await sim.advanceDays(1);
    await sim.advance(SIM_TAIL_MS);
    step(`advanced the simulated clock ${SIM_DAYS} days (credit reversals post, disputes resolve)`);

    await sim.idle();
    await waitUntil('the queues to drain', () => drained(rt));
    step(`webhooks delivered and projected; queues drained`);

    // The nightly sweep, run now: lists everything from Stripe (a canceled credit reversal sends
    // no webhook at all), recovers events whose delivery was lost, reconciles every unit and
    // writes the drift report.
    const sweep = await runSweep(rt, { trigger: 'cli' });
    step(
      `sweep ${sweep.status}: ${sweep.objects_fetched} objects listed, ${sweep.events_recovered} lost webhooks recovered, ` +
        `${sweep.units_done} units reconciled`,
    );
    await waitUntil('the queues to drain', () => drained(rt));

    // ---- summary -------------------------------------------------------------------------
    const stats = sim.stats();
    const inbox = (
      await rt.prisma.stripeEvent.groupBy({
        by: ['status'],
        _count: true,
        orderBy: { status: 'asc' },
      })
    ).map((g) => ({ status: g.status, n: g._count }));
    const stored = inbox.reduce((a, r) => a + r.n, 0);
    const byStatus = Object.fromEntries(inbox.map((r) => [r.status, r.n]));
    const reversals = await rawRows<{ kind: string; status: string; n: number; amount: number }>(
      rt.prisma,
      Prisma.sql`
      SELECT 'transfer reversal' AS kind, status, count(*)::int AS n, sum(amount)::bigint AS amount FROM transfer_reversals GROUP BY status
      UNION ALL SELECT 'credit reversal', status, count(*)::int, sum(amount)::bigint FROM credit_reversals GROUP BY status
      UNION ALL SELECT 'debit reversal', status, count(*)::int, sum(amount)::bigint FROM debit_reversals GROUP BY status
      ORDER BY 1, 2`,
    );

    const found: DemoResult['found'] = [];
    for (let after: string | undefined; ;) {
      const page = (await api(
        'GET',
        `/api/mismatches?status=open&limit=100${after ? `&starting_after=${after}` : ''}`,
      )) as {
        data: Array<{
          id: string;
          kind: string;
          object_id: string | null;
          severity: string;
          message: string;
        }>;
        has_more: boolean;
      };
      found.push(...page.data);
      if (!page.has_more || page.data.length === 0) break;
      after = page.data[page.data.length - 1]!.id;
    }

    const unmatched = [...scenario.planted];
    const extra: typeof found = [];
    for (const m of found) {
      const i = unmatched.findIndex(
        (p) => p.kind === m.kind && (p.objectId === null || p.objectId === m.object_id),
      );
      if (i >= 0) unmatched.splice(i, 1);
      else extra.push(m);
    }
    const ok = unmatched.length === 0 && extra.length === 0;

    print('');
    print('## Events');
    print(
      table(
        [
          'created by Stripe',
          'deliveries',
          'duplicate deliveries',
          'stored (unique)',
          'projected',
          'ignored',
          'failed',
        ],
        [
          [
            stats.eventsCreated,
            stats.deliveriesAttempted,
            stats.duplicated,
            stored,
            byStatus.processed ?? 0,
            byStatus.ignored ?? 0,
            byStatus.failed ?? 0,
          ].map(String),
        ],
      ),
    );
    print('');
    print('## Reversals');
    print(
      table(
        ['kind', 'status', 'count', 'amount'],
        reversals.map((r) => [r.kind, r.status, String(r.n), formatMoney(Number(r.amount), 'usd')]),
      ),
    );
    print('');
    print(`## Open mismatches (${found.length})`);
    print(
      table(
        ['kind', 'severity', 'object', 'what'],
        found.map((m) => [
          m.kind,
          m.severity,
          m.object_id ?? '—',
          m.message.length > 110 ? `${m.message.slice(0, 107)}…` : m.message,
        ]),
      ),
    );
    print('');
    if (ok) print(`✔ all ${scenario.planted.length} planted disagreements found, and nothing else`);
    else {
      for (const p of unmatched)
        print(`✘ planted but not found: ${p.kind} ${p.objectId ?? ''} (${p.why})`);
      for (const m of extra)
        print(`✘ found but not planted: ${m.kind} ${m.object_id ?? ''}: ${m.message}`);
    }
    if (sweep.report_id) {
      const report = await renderReport(rt, sweep.report_id, 'md');
      print('');
      print(report.content.trimEnd());
    }
    print('');
    if (opts.keep) {
      // Hand over to the wall clock: the simulator catches up (it ended at the moment the demo
      // started, never ahead), the demo's own reconciliation switches to Date.now() like every
      // recon command, and from then on the simulator follows, so Treasury objects keep moving.
      await sim.advance(Math.max(0, Date.now() - sim.now()));
      wallClock = true;
      const follow = setInterval(() => {
        const behind = Date.now() - sim.now();
        if (behind > 0) void sim.advance(behind).catch(() => {});
      }, 1_000);
      closers.push(async () => clearInterval(follow));
      await sim.idle();
      await waitUntil('the queues to drain', () => drained(rt));
      print('Look further (Authorization: Bearer <token>):');
      print(
        `  curl -H 'Authorization: Bearer ${operatorToken}' '${base}/api/mismatches?status=open'`,
      );
      print(
        `  curl -H 'Authorization: Bearer ${operatorToken}' '${base}/api/reports/latest?format=html' > report.html`,
      );
      if (found[0]?.object_id)
        print(
          `  curl -H 'Authorization: Bearer ${operatorToken}' '${base}/api/reversals/${found[0].object_id}'`,
        );
      print(`  ${base}/console   ${base}/metrics   ${base}/readyz`);
      print('');
      print('Run recon commands against this demo (e.g. npx recon reconcile, npx recon report):');
      print(
        `  export DATABASE_URL='${databaseUrl}' REDIS_URL='${redisUrl}' QUEUE_PREFIX='${config.QUEUE_PREFIX}' ` +
          `STRIPE_API_BASE='${sim.url}' STRIPE_API_KEY='${sim.apiKey}' ` +
          `STRIPE_WEBHOOK_SECRET='${secret}' OPERATOR_TOKEN='${operatorToken}'`,
      );
    } else {
      // The servers stop with this process: point at --keep rather than at URLs about to vanish.
      print('To explore the API, the HTML report and /metrics afterwards: npm run demo -- --keep');
    }
    step(opts.keep ? 'done — still running (--keep); Ctrl-C to stop' : 'done');

    if (opts.keep) await new Promise<void>((resolve) => (stopKept = resolve));
    return { ok, planted: scenario.planted, found };
  } finally {
    startedUp();
    await cleanup();
  }
}
