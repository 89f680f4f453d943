import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cliEnv,
  createEmptyDatabase,
  freePort,
  http,
  killAllChildren,
  runCli,
  startCli,
  type CliProcess,
} from '../support/cli.js';
import { randomQueuePrefix, waitFor } from '../support/db.js';
import { ScratchRedis } from '../support/redis.js';
import { TEST_OPERATOR_TOKEN, TEST_WEBHOOK_SECRET } from '../support/events.js';

/**
 * SIGTERM while Redis is down used to hang forever (BullMQ waits for its connection to come back
 * before a worker can close). A stop now has a deadline (SHUTDOWN_TIMEOUT), and a second signal
 * exits at once. The test runs its own Redis, stopped under the real `recon start`.
 */

let dbUrl: string;

let redis: ScratchRedis;

beforeAll(async () => {
  dbUrl = await createEmptyDatabase();
  redis = new ScratchRedis(await freePort());
});
afterEach(async () => {
  await killAllChildren();
  redis?.stop();
});
afterAll(() => redis?.stop());

async function startRecon(): Promise<{ proc: CliProcess; base: string }> {
  redis.start();
  const port = await freePort();
  const proc = startCli(
    ['start'],
    cliEnv({
      DATABASE_URL: dbUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: randomQueuePrefix(),
      STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      STRIPE_API_KEY: 'sk_test_shutdown_0123456789',
      STRIPE_API_BASE: 'http://127.0.0.1:1',
      OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT: '3s',
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`recon start exited early\n${proc.transcript()}`);
      return (await http(base, 'GET', '/readyz', { timeoutMs: 2_000 })).status === 200;
    },
    { timeoutMs: 40_000, intervalMs: 100, what: 'recon start ready' },
  );
  return { proc, base };
}

describe('shutdown with Redis down', () => {
  it('SIGTERM exits within SHUTDOWN_TIMEOUT, naming what it abandoned if it had to', async () => {
    const { proc } = await startRecon();
    redis.stop();
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    proc.signal('SIGTERM');
    const exit = await proc.waitForExit(15_000);
    const ms = Date.now() - t0;
    expect(ms, proc.transcript()).toBeLessThan(3_000 + 2_000);
    if (exit.code !== 0) {
      expect(exit.code, proc.transcript()).toBe(1);
      const last = proc
        .logLines()
        .find((l) => String(l.msg).startsWith('shutdown deadline passed'));
      expect(last?.abandoned, proc.transcript()).toBeInstanceOf(Array);
    }
  });

  it('a second signal exits at once', async () => {
    const { proc } = await startRecon();
    redis.stop();
    await new Promise((r) => setTimeout(r, 500));
    proc.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    if (proc.running) proc.signal('SIGTERM');
    const exit = await proc.waitForExit(10_000);
    expect(Date.now() - t0, proc.transcript()).toBeLessThan(1_500);
    expect([0, 1]).toContain(exit.code);
  });
});

describe('shutdown while starting', () => {
  it('a SIGTERM the moment the workers are up (before the role finished starting) still drains and exits 0', async () => {
    expect((await runCli(['migrate'], cliEnv({ DATABASE_URL: dbUrl }))).code).toBe(0);
    redis.start();
    const proc = startCli(
      ['worker'],
      cliEnv({
        DATABASE_URL: dbUrl,
        REDIS_URL: redis.url,
        QUEUE_PREFIX: randomQueuePrefix(),
        STRIPE_API_KEY: 'sk_test_shutdown_0123456789',
        STRIPE_API_BASE: 'http://127.0.0.1:1',
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT: '10s',
      }),
    );
    // The first log line of the start: from here on a signal must be handled, not kill the process.
    await waitFor(
      async () => {
        if (!proc.running) throw new Error(`recon worker exited early\n${proc.transcript()}`);
        return proc.stdout.includes('"msg":"workers started"');
      },
      { timeoutMs: 40_000, intervalMs: 5, what: 'workers started' },
    );
    proc.signal('SIGTERM');
    const exit = await proc.waitForExit(20_000);
    expect(exit.signal, proc.transcript()).toBeNull();
    expect(exit.code, proc.transcript()).toBe(0);
  });
});
