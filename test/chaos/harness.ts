import { execFileSync } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import http from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { expect } from 'vitest';
import { projectionDataset } from '../../bench/lib/dataset.js';
import { signatureHeader } from '../../bench/lib/events.js';
import { parseEvent } from '../../src/inbox/envelope.js';
import { applyEvents } from '../../src/projections/apply.js';
import {
  cliEnv,
  createEmptyDatabase,
  freePort,
  http as httpCall,
  runCli,
  sql,
  startCli,
  type CliProcess,
} from '../support/cli.js';
import { createTestDatabase, randomQueuePrefix } from '../support/db.js';
import { TEST_OPERATOR_TOKEN, TEST_WEBHOOK_SECRET } from '../support/events.js';
import { dumpProjections } from '../support/projection-objects.js';
import { ScratchRedis } from '../support/redis.js';

/**
 * The chaos suite's harness: the real `recon` processes as children, a Redis of the test's own
 * (stopped and restarted empty at will), a TCP proxy in front of the shared Postgres (cut and
 * restored at will — the shared server itself is never touched), a signed sender that behaves
 * like Stripe (retries whatever was not acknowledged with a 2xx), and counts read back from
 * Postgres. Every scenario ends by comparing the projections with a fault-free reference built
 * in-process from the same events, so "nothing lost, nothing applied twice" is checked row by row.
 */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `fn` is truthy; fails with `what` and the last value after `timeoutMs`. */
export async function until<T>(
  fn: () => Promise<T>,
  what: string,
  timeoutMs = 120_000,
  intervalMs = 200,
): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      last = await fn();
      if (last) return last as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() - t0 > timeoutMs)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`,
      );
    await sleep(intervalMs);
  }
}

// --- Postgres behind a proxy the test controls ------------------------------------------------

/**
 * A TCP proxy in front of the shared Postgres. `cut()` drops every connection and refuses new
 * ones (as a Postgres crash or restart looks from the client); `restore()` accepts again.
 */
export class PgProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #listening = false;
  constructor(
    readonly port: number,
    private readonly upstream = { host: '127.0.0.1', port: 5432 },
  ) {
    this.#server = createServer((client) => {
      const up = createConnection(this.upstream);
      this.#sockets.add(client).add(up);
      const drop = () => {
        client.destroy();
        up.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(up);
      };
      client.on('error', drop).on('close', drop);
      up.on('error', drop).on('close', drop);
      client.pipe(up);
      up.pipe(client);
    });
  }
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }
  async restore(): Promise<void> {
    if (this.#listening) return;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#listening = true;
  }
  cut(): void {
    if (this.#listening) this.#server.close();
    this.#listening = false;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }
}

// --- where alerts go ------------------------------------------------------------------------

/** An HTTP sink for ALERT_WEBHOOK_URL: which mismatches were announced, in which notifications. */
export class AlertSink {
  readonly #server: HttpServer;
  /** mismatch object id → distinct notification ids that announced it as opened. */
  readonly opened = new Map<string, Set<string>>();
  deliveries = 0;
  url = '';
  constructor() {
    this.#server = createHttpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        this.deliveries++;
        try {
          const n = JSON.parse(body) as {
            id: string;
            type: string;
            mismatches: Array<{ object_id: string | null; kind: string }>;
          };
          if (n.type === 'mismatch.opened')
            for (const m of n.mismatches) {
              const key = `${m.kind}:${m.object_id}`;
              const ids = this.opened.get(key) ?? new Set<string>();
              ids.add(n.id);
              this.opened.set(key, ids);
            }
        } catch {
          // not ours to judge; the count above still shows it arrived
        }
        res.writeHead(204).end();
      });
    });
  }
  async start(): Promise<void> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    const addr = this.#server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/alerts`;
  }
  announced(kind: string, objectId: string): number {
    return this.opened.get(`${kind}:${objectId}`)?.size ?? 0;
  }
  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

// --- Stripe, as a sender --------------------------------------------------------------------

export interface SenderFigures {
  /** Distinct events acknowledged with a 2xx. */
  acked: number;
  /** Requests answered 503 (the receiver up, its inbox unavailable). */
  unavailable: number;
  /** Requests that found no receiver (connection refused or reset). */
  refused: number;
  /** Any other answer (never expected: a 4xx or 5xx other than 503). */
  other: Map<number, number>;
}

/**
 * Delivers every event like Stripe does: signed, concurrently, and again after a short pause
 * until a 2xx comes back. `ackedIds` is the receiver's promise: each id in it must be stored.
 */
export class Sender {
  readonly ackedIds = new Set<string>();
  readonly figures: SenderFigures = { acked: 0, unavailable: 0, refused: 0, other: new Map() };
  #agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  #stopped = false;
  sent = 0;

  constructor(
    private readonly target: () => string,
    private readonly secret = TEST_WEBHOOK_SECRET,
  ) {}

  async #post(payload: string): Promise<number> {
    const url = new URL('/webhooks/stripe', this.target());
    return new Promise<number>((resolve) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          agent: this.#agent,
          timeout: 15_000,
          headers: {
            'content-type': 'application/json',
            'stripe-signature': signatureHeader(payload, this.secret),
            'content-length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
      req.end(payload);
    });
  }

  /** Sends every delivery (several may share an event id), `concurrency` at a time. */
  async send(
    deliveries: ReadonlyArray<{ id: string }>,
    {
      concurrency = 16,
      onProgress,
    }: { concurrency?: number; onProgress?: (n: number) => void } = {},
  ): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (!this.#stopped && next < deliveries.length) {
        const ev = deliveries[next++]!;
        const payload = JSON.stringify(ev);
        for (let attempt = 0; !this.#stopped; attempt++) {
          const status = await this.#post(payload);
          if (status >= 200 && status < 300) {
            this.ackedIds.add(ev.id);
            this.figures.acked = this.ackedIds.size;
            break;
          }
          if (status === 503) this.figures.unavailable++;
          else if (status === 0) this.figures.refused++;
          else this.figures.other.set(status, (this.figures.other.get(status) ?? 0) + 1);
          await sleep(Math.min(1_000, 50 * 2 ** Math.min(attempt, 5)));
        }
        this.sent++;
        onProgress?.(this.sent);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  }

  stop(): void {
    this.#stopped = true;
    this.#agent.destroy();
  }
}

// --- one installation under test ------------------------------------------------------------

export type Dataset = ReturnType<typeof projectionDataset>;

/** The planted lost debit reversals: each must end as one open `reversal_lost` mismatch. */
export function lostDebitReversals(data: Dataset): string[] {
  const lost = new Set<string>();
  for (const e of data.events) {
    const o = e.data.object as { id: string; object: string; status?: string };
    if (o.object === 'treasury.debit_reversal' && o.status === 'failed') lost.add(o.id);
  }
  return [...lost];
}

/** Projections of the same events with no fault at all: what every scenario must end with. */
export async function referenceProjections(data: Dataset) {
  const db = await createTestDatabase();
  try {
    for (let i = 0; i < data.events.length; i += 500)
      await applyEvents(db.pool, null, data.events.slice(i, i + 500).map(parseEvent));
    return await dumpProjections(db.pool);
  } finally {
    await db.close();
  }
}

export interface Counts {
  inbox: number;
  processed: number;
  pending: number;
  failed: number;
  outbox: number;
  objects: number;
  mismatches: Record<string, number>;
  /** Mismatch rows beyond one per (kind, object): a unit reconciled twice into two rows. */
  duplicateMismatches: number;
}

export class Installation {
  readonly redis: ScratchRedis;
  readonly prefix = randomQueuePrefix();
  readonly alerts = new AlertSink();
  proxy: PgProxy | null = null;
  dbUrl = '';
  port = 0;

  private constructor(redisPort: number) {
    this.redis = new ScratchRedis(redisPort);
  }

  /** A migrated empty database, a Redis of its own, an alert sink; Postgres via a proxy if asked. */
  static async create({ proxy = false } = {}): Promise<Installation> {
    const inst = new Installation(await freePort());
    inst.dbUrl = await createEmptyDatabase();
    const m = await runCli(['migrate'], cliEnv({ DATABASE_URL: inst.dbUrl }), {
      timeoutMs: 60_000,
    });
    expect(m.code, m.stderr).toBe(0);
    inst.redis.start();
    await inst.alerts.start();
    inst.port = await freePort();
    if (proxy) {
      inst.proxy = new PgProxy(await freePort());
      await inst.proxy.restore();
    }
    return inst;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The environment of every child: fast failover, no ledger grace (only planted facts flag). */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return cliEnv({
      DATABASE_URL: this.proxy ? this.proxy.via(this.dbUrl) : this.dbUrl,
      REDIS_URL: this.redis.url,
      QUEUE_PREFIX: this.prefix,
      STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      STRIPE_API_KEY: 'sk_test_chaos_0123456789abcdef',
      STRIPE_API_BASE: 'http://127.0.0.1:1',
      OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
      PORT: String(this.port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      // No ledger is loaded: within this grace nothing is "missing in the ledger", so the only
      // mismatches are the planted lost debit reversals (a fact that flags at once).
      RECON_GRACE_PERIOD: '30d',
      // A killed worker's jobs are taken over after this; a lost enqueue is retried after that.
      JOB_LOCK_DURATION: '3s',
      RELAY_INTERVAL: '1s',
      RELAY_STUCK_AFTER: '10s',
      SHUTDOWN_TIMEOUT: '10s',
      ALERT_WEBHOOK_URL: this.alerts.url,
      ALERT_LOG: 'false',
      ALERT_GROUP_WINDOW: '200ms',
      ALERT_BACKOFF: '200ms',
      ...extra,
    });
  }

  start(role: 'serve' | 'worker' | 'start', extra: Record<string, string> = {}): CliProcess {
    return startCli([role], this.env(extra));
  }

  /** Waits for a role with an HTTP server to answer /healthz (it may be not ready yet). */
  async listening(proc: CliProcess, timeoutMs = 40_000): Promise<void> {
    await until(
      async () => {
        if (!proc.running) throw new Error(`recon exited early\n${proc.transcript()}`);
        return (await httpCall(this.base, 'GET', '/healthz', { timeoutMs: 2_000 })).status === 200;
      },
      `recon ${proc.args.join(' ')} listening`,
      timeoutMs,
      100,
    );
  }

  async counts(): Promise<Counts> {
    const q = <R extends Record<string, unknown>>(text: string) => sql<R>(this.dbUrl, text);
    const [inbox] = await q<{ total: number; processed: number; pending: number; failed: number }>(
      `SELECT count(*)::int AS total,
              count(*) FILTER (WHERE status = 'processed')::int AS processed,
              count(*) FILTER (WHERE status = 'pending')::int AS pending,
              count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM stripe_events`,
    );
    const [outbox] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM reconcile_outbox`);
    const [objects] = await q<{ n: number }>(
      `SELECT ((SELECT count(*) FROM transfers) + (SELECT count(*) FROM transfer_reversals)
             + (SELECT count(*) FROM credit_reversals) + (SELECT count(*) FROM debit_reversals)
             + (SELECT count(*) FROM received_credits) + (SELECT count(*) FROM received_debits))::int AS n`,
    );
    const kinds = await q<{ kind: string; n: number }>(
      `SELECT kind, count(*)::int AS n FROM mismatches WHERE status = 'open' GROUP BY kind`,
    );
    const [dup] = await q<{ n: number }>(
      `SELECT coalesce(sum(c - 1), 0)::int AS n
         FROM (SELECT count(*) AS c FROM mismatches GROUP BY kind, object_id) x`,
    );
    return {
      inbox: inbox!.total,
      processed: inbox!.processed,
      pending: inbox!.pending,
      failed: inbox!.failed,
      outbox: outbox!.n,
      objects: objects!.n,
      mismatches: Object.fromEntries(kinds.map((k) => [k.kind, k.n])),
      duplicateMismatches: dup!.n,
    };
  }

  /** One Redis command on the installation's own Redis (redis-cli; '' when Redis is down). */
  redisCli(...args: string[]): string {
    try {
      return execFileSync('redis-cli', ['-p', String(this.redis.port), ...args], {
        encoding: 'utf8',
        timeout: 5_000,
      }).trim();
    } catch {
      return '';
    }
  }

  /** Jobs of a queue in a state: active (held by a worker), wait, failed (the dead letters). */
  jobs(
    queue: 'stripe-events' | 'reconcile' | 'alerts',
    state: 'active' | 'wait' | 'failed',
  ): number {
    const key = `${this.prefix}:${queue}:${state}`;
    return Number(this.redisCli(state === 'failed' ? 'ZCARD' : 'LLEN', key) || 0);
  }

  /** Ids of the open `reversal_lost` mismatches' objects. */
  async lostFlagged(): Promise<Set<string>> {
    const rows = await sql<{ object_id: string }>(
      this.dbUrl,
      `SELECT object_id FROM mismatches WHERE kind = 'reversal_lost' AND status = 'open'`,
    );
    return new Set(rows.map((r) => r.object_id));
  }

  /** Which of `ids` have no inbox row. */
  async missingFromInbox(ids: Iterable<string>): Promise<string[]> {
    const want = [...ids];
    const rows = await sql<{ id: string }>(
      this.dbUrl,
      `SELECT id FROM stripe_events WHERE id = ANY($1::text[])`,
      [want],
    );
    const have = new Set(rows.map((r) => r.id));
    return want.filter((id) => !have.has(id));
  }

  /**
   * Waits until everything acknowledged is projected and reconciled: every inbox row processed,
   * the outbox empty and every planted lost reversal flagged. Returns the seconds it took.
   */
  async settled(expectedEvents: number, lost: readonly string[], timeoutMs = 180_000) {
    const t0 = Date.now();
    let lastPrint = t0;
    await until(
      async () => {
        const c = await this.counts();
        if (Date.now() - lastPrint >= 5_000) {
          lastPrint = Date.now();
          console.log(
            `[chaos] settling ${Math.round((lastPrint - t0) / 1000)} s: ${JSON.stringify(c)}`,
          );
        }
        if (c.inbox < expectedEvents || c.processed < c.inbox || c.outbox > 0) return false;
        const flagged = await this.lostFlagged();
        return lost.every((id) => flagged.has(id));
      },
      'every event projected and every unit reconciled',
      timeoutMs,
      250,
    );
    return (Date.now() - t0) / 1_000;
  }

  /** Waits until each lost reversal was announced; returns the seconds it took. */
  async announced(lost: readonly string[], timeoutMs = 90_000): Promise<number> {
    const t0 = Date.now();
    await until(
      async () => lost.every((id) => this.alerts.announced('reversal_lost', id) > 0),
      'every lost reversal announced to the alert sink',
      timeoutMs,
      100,
    );
    return (Date.now() - t0) / 1_000;
  }

  /** Mismatches announced by more than one distinct notification (a duplicate alert). */
  duplicateAlerts(): number {
    let n = 0;
    for (const ids of this.alerts.opened.values()) if (ids.size > 1) n++;
    return n;
  }

  async dump() {
    return dumpProjections({
      query: async (text: string) => ({ rows: await sql(this.dbUrl, text) }),
    });
  }

  async close(): Promise<void> {
    this.proxy?.cut();
    this.redis.stop();
    await this.alerts.stop();
  }
}

/** One line of figures per scenario, in the test output and CI log. */
export function report(scenario: string, figures: Record<string, unknown>): void {
  const parts = Object.entries(figures).map(
    ([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v)}`,
  );
  console.log(`[chaos] ${scenario}: ${parts.join(' ')}`);
}

export { projectionDataset };
