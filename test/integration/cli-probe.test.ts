import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cliEnv,
  createEmptyDatabase,
  freePort,
  http,
  killAllChildren,
  runCli,
  sql,
  startCli,
  type CliProcess,
} from '../support/cli.js';
import { randomQueuePrefix, redisUrl, waitFor } from '../support/db.js';
import {
  TEST_OPERATOR_TOKEN,
  TEST_STRIPE_API_KEY,
  TEST_WEBHOOK_SECRET,
} from '../support/events.js';

/**
 * Every role can be probed (issue #13): `recon worker`, which serves no other HTTP, answers
 * `/healthz`, `/readyz` and `/metrics` on METRICS_PORT; `recon serve` answers them there too,
 * besides its own port. Real child processes, as an orchestrator and Prometheus see them.
 */

let dbUrl: string;

beforeAll(async () => {
  dbUrl = await createEmptyDatabase();
  const r = await runCli(['migrate'], cliEnv({ DATABASE_URL: dbUrl }), { timeoutMs: 60_000 });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  // Something for the scrape-time gauges to find: an open mismatch with money at risk, and a
  // completed full sweep.
  await sql(
    dbUrl,
    `INSERT INTO mismatches (id, fingerprint, kind, severity, status, unit_key, object_type,
                             object_id, currency, amount_at_risk, message)
     VALUES ('mm_probe_1', 'fp_probe_1', 'reversal_lost', 'critical', 'open', 'u1',
             'debit_reversal', 'debrev_probe_1', 'usd', 4200, 'lost')`,
  );
  await sql(
    dbUrl,
    `INSERT INTO sweep_runs (id, status, trigger, started_at, finished_at)
     VALUES ('sweep_probe_1', 'completed', 'cron', now() - interval '90 seconds', now())`,
  );
}, 90_000);

afterEach(async () => {
  await killAllChildren();
});

afterAll(async () => {
  await killAllChildren();
});

const env = (vars: Record<string, string> = {}) =>
  cliEnv({
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: randomQueuePrefix(),
    STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    STRIPE_API_KEY: TEST_STRIPE_API_KEY,
    STRIPE_API_BASE: 'http://127.0.0.1:1',
    OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    RECON_SWEEP_CRON: '',
    ...vars,
  });

async function waitHealthy(proc: CliProcess, base: string): Promise<void> {
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`recon exited early\n${proc.transcript()}`);
      try {
        return (await http(base, 'GET', '/healthz', { timeoutMs: 2_000 })).status === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 40_000, intervalMs: 100, what: `${base}/healthz` },
  );
}

describe('recon worker on METRICS_PORT', () => {
  it('answers /healthz, /readyz and /metrics with recon_* metrics, and stops with the worker', async () => {
    const metricsPort = await freePort();
    const proc = startCli(['worker'], env({ METRICS_PORT: String(metricsPort) }));
    const base = `http://127.0.0.1:${metricsPort}`;
    await waitHealthy(proc, base);

    const health = await http<{ status: string }>(base, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');

    const ready = await http<{ status: string; postgres: string; redis: string }>(
      base,
      'GET',
      '/readyz',
    );
    expect(ready.status, ready.text).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', postgres: 'ok', redis: 'ok' });

    const m = await http(base, 'GET', '/metrics');
    expect(m.status).toBe(200);
    const text = m.text;
    // Every series is recon_*, the runtime's own metrics included.
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]!);
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => !n.startsWith('recon_'))).toEqual([]);
    expect(text).toMatch(/^recon_process_cpu_seconds_total /m);
    // The new ones: queues (read from Redis at scrape time), the database's view, the counters.
    for (const queue of ['stripe-events', 'reconcile', 'alerts', 'sweep']) {
      for (const state of ['waiting', 'delayed', 'active', 'failed'])
        expect(text).toMatch(
          new RegExp(`^recon_queue_jobs\\{queue="${queue}",state="${state}"\\} \\d+$`, 'm'),
        );
      expect(text).toMatch(
        new RegExp(
          `^recon_queue_oldest_waiting_job_age_seconds\\{queue="${queue}"\\} [\\d.e+-]+$`,
          'm',
        ),
      );
      expect(text).toMatch(
        new RegExp(`^recon_queue_dead_letter_jobs\\{queue="${queue}"\\} \\d+$`, 'm'),
      );
    }
    expect(text).toMatch(/^recon_scrape_collector_up\{collector="queues"\} 1$/m);
    expect(text).toMatch(/^recon_scrape_collector_up\{collector="database"\} 1$/m);
    expect(text).toMatch(/^recon_mismatches_open\{kind="reversal_lost",severity="critical"\} 1$/m);
    expect(text).toMatch(/^recon_mismatches_open_amount_at_risk\{currency="usd"\} 4200$/m);
    expect(text).toMatch(/^recon_sweep_last_success_timestamp_seconds \d+(\.\d+)?$/m);
    const duration = Number(/^recon_sweep_last_duration_seconds (\S+)$/m.exec(text)?.[1]);
    expect(duration).toBeCloseTo(90, 0);
    for (const name of [
      'recon_alert_deliveries_total',
      'recon_stripe_api_errors_total',
      'recon_sweep_duration_seconds',
      'recon_reconcile_runs_total',
      'recon_events_projected_total',
    ])
      expect(names).toContain(name);

    // Anything else on that port is not an API.
    expect((await http(base, 'GET', '/api/mismatches')).status).toBe(401);

    proc.signal('SIGTERM');
    const exit = await proc.waitForExit(20_000);
    expect(exit.code, proc.transcript()).toBe(0);
    await expect(http(base, 'GET', '/healthz', { timeoutMs: 2_000 })).rejects.toThrow();
  }, 60_000);

  it('METRICS_PORT=0 serves nothing; a taken METRICS_PORT fails the start with one line', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as AddressInfo).port;
      const r = await runCli(['worker'], env({ METRICS_PORT: String(port) }), {
        timeoutMs: 30_000,
      });
      expect(r.code, r.stdout + r.stderr).toBe(69);
      expect(r.stderr.trim().split('\n'), r.stderr).toEqual([
        `recon: metrics port ${port} on 127.0.0.1 is already in use (set METRICS_PORT, or 0 to disable it)`,
      ]);
    } finally {
      busy.close();
    }

    const proc = startCli(['worker'], env({ METRICS_PORT: '0' }));
    await waitFor(() => proc.stdout.includes('workers started') || !proc.running, {
      timeoutMs: 40_000,
      what: 'workers started',
    });
    expect(proc.running, proc.transcript()).toBe(true);
    expect(proc.stdout).not.toContain('probe server listening');
  }, 90_000);
});

describe('recon serve on METRICS_PORT', () => {
  it('keeps its own routes and serves the probes there too, honouring METRICS_TOKEN', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const metricsToken = 'metrics_token_0123456789abcdef';
    const proc = startCli(
      ['serve'],
      env({ PORT: String(port), METRICS_PORT: String(metricsPort), METRICS_TOKEN: metricsToken }),
    );
    const main = `http://127.0.0.1:${port}`;
    const probes = `http://127.0.0.1:${metricsPort}`;
    await waitHealthy(proc, probes);

    for (const base of [main, probes]) {
      expect((await http(base, 'GET', '/healthz')).status).toBe(200);
      expect((await http(base, 'GET', '/readyz?role=receiver')).status).toBe(200);
      expect((await http(base, 'GET', '/metrics')).status).toBe(401);
      const m = await http(base, 'GET', '/metrics', { token: metricsToken });
      expect(m.status).toBe(200);
      expect(m.text).toContain('recon_webhook_requests_total');
      expect(m.text).toMatch(/^recon_queue_jobs\{queue="stripe-events",state="waiting"\} \d+$/m);
    }
    // The operator API stays on the main port only.
    expect(
      (await http(main, 'GET', '/api/mismatches', { token: TEST_OPERATOR_TOKEN })).status,
    ).toBe(200);
    expect(
      (await http(probes, 'GET', '/api/mismatches', { token: TEST_OPERATOR_TOKEN })).status,
    ).toBe(404);

    proc.signal('SIGTERM');
    expect((await proc.waitForExit(20_000)).code, proc.transcript()).toBe(0);
  }, 60_000);
});
