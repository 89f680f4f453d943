import http from 'node:http';
import pg from 'pg';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createLogger } from '../src/log/logger.js';
import { loadPayloads } from '../src/inbox/statements.js';
import { parseEvent } from '../src/inbox/envelope.js';
import { applyEvents } from '../src/projections/apply.js';
import { eventJobs } from '../src/queue/producer.js';
import { reconcileDueUnits } from '../src/reconciliation/reconcile-units.js';
import { createRuntime } from '../src/runtime.js';
import { QUEUE_NAMES } from '../src/queue/queues.js';
import {
  BENCH_SECRET,
  REDIS_URL,
  benchConfig,
  benchQueuePrefix,
  deployedWorkerNodeArgs,
  dropQueuePrefix,
  freshDatabase,
  percentile,
  round,
  sleep,
  spawnTs,
  until,
} from './lib/common.js';
import { BENCH_ACCOUNT, Ids, debitReversal, event, signatureHeader } from './lib/events.js';
import { projectionDataset } from './lib/dataset.js';

export { projectionDataset };

export interface ProjectionResult {
  /** Unique events queued (what the workers had to project). */
  events: number;
  /** Deliveries in the inbox load, redeliveries of the same event id included. */
  deliveries: number;
  seconds: number;
  eventsPerSec: number;
  /** Until the inbox was all processed (projection alone). */
  projectedSeconds: number;
  projected: Record<string, number>;
  mismatchesOpen: number;
  failedJobs: number;
  workerPeakRssMb: number;
  /** The worker's V8 heap (used, reserved), external and ArrayBuffer memory when its RSS peaked (MB). */
  workerMemoryAtPeak: Record<string, number>;
  /** BullMQ Lua scripts Redis ran per event (INFO commandstats, before/after). */
  redisScriptsPerEvent: number;
  /** Postgres commits and WAL bytes per event (pg_stat_database, pg_current_wal_lsn). */
  pgCommitsPerEvent: number;
  walBytesPerEvent: number;
  /** The same events applied straight from the inbox by one loop of the same SQL, no queue. */
  bare: { eventsPerSec: number; seconds: number; writeEventsPerSec: number };
  /** The same loop with the projection write path on the bare pg pool instead of Prisma. */
  barePg: { eventsPerSec: number; seconds: number; writeEventsPerSec: number };
  /** bare.writeEventsPerSec / barePg.writeEventsPerSec: what Prisma costs on the write path. */
  prismaWriteRatio: number;
  /** eventsPerSec / bare.eventsPerSec. */
  bareRatio: number;
  e2e: Array<{
    rate: number;
    /** `deployed`: receiver and workers in processes of their own; `start`: one process. */
    topology: 'deployed' | 'start';
    sent: number;
    seen: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    ackP99Ms: number;
  }>;
}

export async function preload(
  pool: pg.Pool,
  prefix: string | null,
  data: ReturnType<typeof projectionDataset>,
) {
  const L = data.ledger;
  for (let i = 0; i < L.length; i += 5_000) {
    const b = L.slice(i, i + 5_000);
    await pool.query(
      `INSERT INTO ledger_entries (id, kind, stripe_id, parent_id, amount, currency, expected_status, account, occurred_at, updated_at)
       SELECT u.id, u.kind, u.stripe_id, u.parent_id, u.amount, 'usd', u.expected_status, NULL, now() - interval '1 hour', now() - interval '1 hour'
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[])
              AS u(id, kind, stripe_id, parent_id, amount, expected_status)`,
      [
        b.map((e) => e.id),
        b.map((e) => e.kind),
        b.map((e) => e.stripe_id),
        b.map((e) => e.parent_id),
        b.map((e) => e.amount),
        b.map((e) => e.expected_status),
      ],
    );
  }
  const redis = prefix === null ? null : new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = !redis
    ? null
    : new Queue(QUEUE_NAMES.events, {
        connection: redis,
        prefix: prefix ?? undefined,
        defaultJobOptions: {
          removeOnComplete: true,
          removeOnFail: false,
          attempts: 10,
          backoff: { type: 'exponential', delay: 1_000 },
        },
      });
  const D = data.deliveries;
  for (let i = 0; i < D.length; i += 1_000) {
    const b = D.slice(i, i + 1_000).map((e) => ({ e, payload: JSON.stringify(e) }));
    // The receiver's path: inbox rows first (a redelivery is a no-op), then the batch's job.
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO stripe_events (id, type, account, livemode, api_version, created, payload, status, enqueued_at)
       SELECT u.id, u.type, u.account, false, u.api_version, u.created, u.payload, 'pending', now()
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[]) AS u(id, type, account, api_version, created, payload)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        b.map((x) => x.e.id),
        b.map((x) => x.e.type),
        b.map((x) => x.e.account ?? null),
        b.map((x) => x.e.api_version),
        b.map((x) => x.e.created),
        b.map((x) => x.payload),
      ],
    );
    const fresh = new Set(rows.map((r) => r.id));
    const seen = new Set<string>();
    const jobs = b.filter((x) => fresh.has(x.e.id) && !seen.has(x.e.id) && seen.add(x.e.id));
    // One job per committed batch, as the receiver adds them.
    await queue?.addBulk(eventJobs(jobs.map((x) => ({ id: x.e.id }))));
  }
  await queue?.close();
  redis?.disconnect();
}

/** Script calls Redis has run so far (BullMQ's commands are all Lua scripts). */
async function redisScripts(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval|evalsha_ro|eval_ro|fcall):calls=(\d+)/gm))
    n += Number(m[2]);
  return n;
}

/** Commits of this database and the cluster's WAL position, for per-event figures. */
async function pgCounters(pool: pg.Pool): Promise<{ commits: number; wal: bigint }> {
  const { rows } = await pool.query<{ commits: string; wal: string }>(
    `SELECT xact_commit::text AS commits,
            pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS wal
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  return { commits: Number(rows[0]!.commits), wal: BigInt(rows[0]!.wal.split('.')[0]!) };
}

async function queuesIdle(redis: Redis, prefix: string, pool: pg.Pool): Promise<boolean> {
  const base = `${prefix}:${QUEUE_NAMES.events}`;
  const [wait, active, delayed, prioritized, reconciling] = await Promise.all([
    redis.llen(`${base}:wait`),
    redis.llen(`${base}:active`),
    redis.zcard(`${base}:delayed`),
    redis.zcard(`${base}:prioritized`),
    redis.llen(`${prefix}:${QUEUE_NAMES.reconcile}:active`),
  ]);
  if (wait + active + delayed + prioritized + reconciling > 0) return false;
  // The reconcile queue always holds its next tick: the work left is the outbox.
  const { rows } = await pool.query<{ any: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM reconcile_outbox) AS any',
  );
  return !rows[0]!.any;
}

/**
 * Whether any inbox row is still pending. EXISTS, not count(*): polled every 20 ms, a count of
 * up to 100 k pending rows took ~90 ms of Postgres CPU each time — most of a core, taken from the
 * workers under test (pg_stat_statements, 4 December).
 */
async function anyPending(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM stripe_events WHERE status = 'pending') AS any`,
  );
  return rows[0]!.any;
}

/** Throughput: N queued events, then the workers start; time until projected and reconciled. */
async function throughput(n: number, log: (m: string) => void) {
  const url = await freshDatabase('projection');
  const prefix = benchQueuePrefix('projection');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const data = projectionDataset(n);
  log(
    `projection: preloading ${data.events.length} events (${data.deliveries.length} deliveries), ${data.ledger.length} ledger entries`,
  );
  await preload(pool, prefix, data);
  await pool.query('CHECKPOINT');
  const scripts0 = await redisScripts(redis);
  const pg0 = await pgCounters(pool);
  const workers = spawnTs('bench/projection/workers.ts', ['work', url, prefix], {}, [
    ...deployedWorkerNodeArgs(),
    ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-projection'] : []),
  ]);
  try {
    const { started } = await workers.message<{ started: number }>('started');
    let projectedAt = 0;
    await until(
      async () => {
        if (!projectedAt && !(await anyPending(pool))) projectedAt = Date.now();
        if (!(await queuesIdle(redis, prefix, pool))) return false;
        return !(await anyPending(pool)) && (await queuesIdle(redis, prefix, pool));
      },
      300_000,
      20,
      'projection to drain',
    );
    const seconds = (Date.now() - started) / 1_000;
    log(
      `projection: inbox processed after ${round((projectedAt - started) / 1_000, 2)} s, reconciled after ${round(seconds, 2)} s`,
    );
    const counts = await pool.query<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM transfers) AS transfers, (SELECT count(*)::int FROM transfer_reversals) AS "transferReversals",
              (SELECT count(*)::int FROM credit_reversals) AS "creditReversals", (SELECT count(*)::int FROM debit_reversals) AS "debitReversals",
              (SELECT count(*)::int FROM mismatches WHERE status = 'open') AS open`,
    );
    const failedJobs = await redis.zcard(`${prefix}:${QUEUE_NAMES.events}:failed`);
    // Other benches are not running; the shared Redis's other clients add a little noise.
    const scripts = (await redisScripts(redis)) - scripts0;
    const pg1 = await pgCounters(pool);
    workers.proc.stdin!.write('stop\n');
    const { stopped } = await workers.message<{
      stopped: { peakRssMb: number; atPeak: Record<string, number> };
    }>('stopped');
    await Promise.race([workers.exited, sleep(10_000)]);
    const { open, ...projected } = counts.rows[0]!;
    for (const [k, v] of Object.entries(data.objects)) {
      if (projected[k] !== v)
        throw new Error(`projection incomplete: ${k} ${projected[k]} of ${v}`);
    }
    return {
      events: data.events.length,
      deliveries: data.deliveries.length,
      seconds: round(seconds, 2),
      eventsPerSec: round(data.events.length / seconds, 0),
      projectedSeconds: round((projectedAt - started) / 1_000, 2),
      projected,
      mismatchesOpen: open!,
      failedJobs,
      workerPeakRssMb: stopped.peakRssMb,
      workerMemoryAtPeak: stopped.atPeak,
      redisScriptsPerEvent: round(scripts / data.events.length, 4),
      pgCommitsPerEvent: round((pg1.commits - pg0.commits) / data.events.length, 4),
      walBytesPerEvent: round(Number(pg1.wal - pg0.wal) / data.events.length, 0),
    };
  } finally {
    workers.proc.kill('SIGKILL');
    await pool.end();
    redis.disconnect();
    await dropQueuePrefix(prefix);
  }
}

/**
 * End to end at a steady rate: signed events through the real receiver, each a lost debit
 * reversal (flags at once, whatever the grace period); latency = from sending the request to the
 * mismatch row being visible to a poller. Topology `deployed`: the receiver and the workers in
 * processes of their own, as the shipped deployment files run them (`recon serve` and
 * `recon worker`); `start`: both in one process, like `recon start`.
 */
async function endToEnd(
  rate: number,
  seconds: number,
  topology: 'deployed' | 'start',
  log: (m: string) => void,
) {
  const url = await freshDatabase('e2e');
  const prefix = benchQueuePrefix('e2e');
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const spawnRole = (role: 'serve' | 'receive' | 'work') =>
    spawnTs('bench/projection/workers.ts', [role, url, prefix], {}, [
      ...deployedWorkerNodeArgs(),
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-e2e'] : []),
    ]);
  const server = spawnRole(topology === 'start' ? 'serve' : 'receive');
  const workers = topology === 'start' ? undefined : spawnRole('work');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const ids = new Ids();
  const sentAt = new Map<string, number>();
  const seenAt = new Map<string, number>();
  const acks: number[] = [];
  try {
    const { port } = await server.message<{ port: number }>('port');
    if (workers) await workers.message('started');
    const post = (payload: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            path: '/webhooks/stripe',
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/json',
              'stripe-signature': signatureHeader(payload, BENCH_SECRET),
              'content-length': Buffer.byteLength(payload),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(payload);
      });

    // A mismatch is visible when the transaction that wrote it commits, which is when Postgres
    // delivers a NOTIFY sent from it: a bench-only trigger (one pg_notify per row written) tells
    // us, at the cost of a few microseconds per mismatch. Polling the table every 10 ms, as this
    // bench did, scanned every reversal_lost row each time (7.5 ms of Postgres CPU per poll at
    // 20 k rows), a third of a core taken from the system under test.
    await pool.query(`
      CREATE FUNCTION bench_mismatch_visible() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.kind = 'reversal_lost' THEN PERFORM pg_notify('bench_mismatch', NEW.object_id); END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER bench_mismatch_visible AFTER INSERT OR UPDATE ON mismatches
        FOR EACH ROW EXECUTE FUNCTION bench_mismatch_visible();`);
    const listener = await pool.connect();
    listener.on('notification', (n) => {
      const id = n.payload ?? '';
      if (!seenAt.has(id) && sentAt.has(id)) seenAt.set(id, performance.now());
    });
    await listener.query('LISTEN bench_mismatch');
    let polling = true;
    let lastSend = performance.now();
    const poller = (async () => {
      while (polling || seenAt.size < sentAt.size) {
        if (!polling && performance.now() - lastSend > 10_000) break;
        await sleep(50);
      }
      listener.release();
    })();
    const total = rate * seconds;
    const start = performance.now();
    const inflight: Promise<void>[] = [];
    log(`projection: end to end (${topology}), ${total} events at ${rate}/s`);
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1_000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const now = Math.floor(Date.now() / 1000);
      const dr = ids.next('debrev');
      const payload = JSON.stringify(
        event(
          'treasury.debit_reversal.completed',
          debitReversal(dr, ids.next('rd'), 1_000, 'failed', now),
          ids.next('evt'),
          now,
          BENCH_ACCOUNT,
        ),
      );
      const t = performance.now();
      sentAt.set(dr, t);
      lastSend = t;
      inflight.push(
        post(payload).then((status) => {
          if (status !== 200) throw new Error(`receiver answered ${status}`);
          acks.push(performance.now() - t);
        }),
      );
    }
    await Promise.all(inflight);
    polling = false;
    await poller;
    const lat = [...seenAt].map(([id, t]) => t - sentAt.get(id)!).sort((a, b) => a - b);
    acks.sort((a, b) => a - b);
    for (const p of [server, workers]) {
      if (!p) continue;
      p.proc.stdin!.write('stop\n');
      await p.message('stopped');
      await Promise.race([p.exited, sleep(10_000)]);
    }
    return {
      rate,
      topology,
      sent: sentAt.size,
      seen: seenAt.size,
      p50Ms: round(percentile(lat, 50), 0),
      p99Ms: round(percentile(lat, 99), 0),
      maxMs: round(lat[lat.length - 1] ?? Number.NaN, 0),
      ackP99Ms: round(percentile(acks, 99), 1),
    };
  } finally {
    agent.destroy();
    server.proc.kill('SIGKILL');
    workers?.proc.kill('SIGKILL');
    await pool.end();
    await dropQueuePrefix(prefix);
  }
}

/**
 * The ceiling of this design on this box: the same events applied straight from the inbox by one
 * loop of the same SQL (applyEvents, then the outbox drained through reconcileDueUnits), no queue,
 * no second process. `via` is how the projection write path (applyEvents' transaction) reaches
 * Postgres: through Prisma, as the product does, or on the bare pg pool Prisma rides on; the
 * reconcile half runs on the pool either way, as the reconcile worker runs it. `writeSeconds` times applyEvents alone.
 */
async function bareBaseline(n: number, via: 'prisma' | 'pg', log: (m: string) => void) {
  const url = await freshDatabase(`projection_bare_${via}`);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const data = projectionDataset(n);
  await preload(pool, null, data);
  await pool.query('CHECKPOINT');
  const rt = createRuntime(benchConfig(url), createLogger({ level: 'warn' }));
  try {
    const started = Date.now();
    let writeMs = 0;
    // The worker reads its batches by id (the job carries them): so does the loop, in the order
    // the events arrived, 500 at a time.
    const { rows: ids } = await rt.pool.query<{ id: string }>(
      `SELECT id FROM stripe_events WHERE status = 'pending' ORDER BY received_at, id`,
    );
    for (let i = 0; i < ids.length; i += 500) {
      const payloads = await loadPayloads(
        rt.prisma,
        ids.slice(i, i + 500).map((r) => r.id),
      );
      const events = [...payloads.values()].map((p) => parseEvent(p));
      const w = performance.now();
      await applyEvents(via === 'prisma' ? rt.prisma : rt.pool, null, events, {
        reconcileDebounceMs: 0,
      });
      writeMs += performance.now() - w;
      // The reconcile half the way the reconcile worker runs it: batches of 200 due units taken
      // and reconciled in one transaction each, on the pool.
      while ((await reconcileDueUnits(rt, 200, { db: rt.pool })).taken === 200);
    }
    const seconds = (Date.now() - started) / 1_000;
    const eventsPerSec = round(data.events.length / seconds, 0);
    const writeEventsPerSec = round(data.events.length / (writeMs / 1_000), 0);
    log(
      `projection (bare loop, write path via ${via}): ${eventsPerSec} events/s; the write path alone ${writeEventsPerSec} events/s`,
    );
    return { eventsPerSec, seconds: round(seconds, 2), writeEventsPerSec };
  } finally {
    await rt.close();
    await pool.end();
  }
}

export async function benchProjection(opts: {
  log: (m: string) => void;
  events?: number;
  rates?: number[];
  seconds?: number;
}): Promise<ProjectionResult> {
  const n = opts.events ?? Number(process.env.BENCH_PROJECTION_EVENTS ?? 100_000);
  // While tuning the worker, BENCH_PROJECTION_SKIP_BARE=1 skips the two bare loops (no ratio).
  const skipBare = process.env.BENCH_PROJECTION_SKIP_BARE === '1';
  const none = { eventsPerSec: Number.NaN, seconds: Number.NaN, writeEventsPerSec: Number.NaN };
  // The pg variant first, then Prisma: each on its own fresh database, same events.
  const barePg = skipBare ? none : await bareBaseline(n, 'pg', opts.log);
  const bare = skipBare ? none : await bareBaseline(n, 'prisma', opts.log);
  const prismaWriteRatio = round(bare.writeEventsPerSec / barePg.writeEventsPerSec, 2);
  console.log(
    `projection write path: Prisma ${bare.writeEventsPerSec} events/s, raw pg ${barePg.writeEventsPerSec} events/s: ${prismaWriteRatio}× (${round((1 / prismaWriteRatio - 1) * 100, 0)} % more time through Prisma)`,
  );
  const t = await throughput(n, opts.log);
  const bareRatio = round(t.eventsPerSec / bare.eventsPerSec, 2);
  // The plain line scripts read.
  console.log(
    `projection: ${t.eventsPerSec} events/s, ${t.redisScriptsPerEvent} Redis scripts/event, ${bareRatio}× the bare baseline`,
  );
  opts.log(
    `projection: ${t.pgCommitsPerEvent} Postgres commits/event, ${t.walBytesPerEvent} WAL bytes/event, worker peak RSS ${t.workerPeakRssMb} MB (${Object.entries(
      t.workerMemoryAtPeak,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
  );
  const e2e = [];
  const rates = process.env.BENCH_PROJECTION_RATES?.split(',').map(Number).filter(Boolean) ?? [
    500, 2_000,
  ];
  // As deployed (receiver and worker processes: the target), then all in one process (recon start).
  const topologies = (process.env.BENCH_E2E_TOPOLOGIES ?? 'deployed,start').split(',') as Array<
    'deployed' | 'start'
  >;
  for (const topology of topologies)
    for (const rate of opts.rates ?? rates)
      e2e.push(await endToEnd(rate, opts.seconds ?? 10, topology, opts.log));
  return { ...t, bare, barePg, prismaWriteRatio, bareRatio, e2e };
}
