import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { cliEnv, killAllChildren, startCli } from '../support/cli.js';
import { createTestDatabase, randomQueuePrefix, redisUrl, waitFor } from '../support/db.js';
import type { TestDatabase } from '../support/db.js';
import {
  TEST_OPERATOR_TOKEN,
  TEST_WEBHOOK_SECRET,
  buildTestApp,
  testConfig,
} from '../support/events.js';

/**
 * A bad or revoked STRIPE_API_KEY: `recon worker` warns once at start and keeps running; /readyz
 * shows the key check in its detail but stays 200 for it.
 */

let sim: Simulator;
let db: TestDatabase;
const rts: Runtime[] = [];

beforeAll(async () => {
  sim = await createSimulator({ seed: 5 });
  db = await createTestDatabase();
});
afterEach(async () => {
  sim.setApiKeyState({ state: 'active' });
  await killAllChildren();
});
afterAll(async () => {
  for (const rt of rts) await rt.close();
  await db.close();
  await sim.close();
});

async function app() {
  const rt = createRuntime(
    testConfig({ DATABASE_URL: db.url, STRIPE_API_KEY: sim.apiKey, STRIPE_API_BASE: sim.url }),
  );
  rts.push(rt);
  return buildTestApp(rt);
}

interface Ready {
  status: string;
  stripe_key?: { status: string; kind?: string; mode?: string; message?: string };
}

describe('/readyz stripe_key', () => {
  it('shows a working key, and a revoked one without failing readiness', async () => {
    const ok = await app();
    try {
      // Ready once Redis is connected; the key check does not take part.
      await waitFor(async () => (await ok.inject('/readyz')).statusCode === 200, {
        what: 'readiness',
      });
      await waitFor(
        async () => (await ok.inject('/readyz')).json<Ready>().stripe_key?.status === 'ok',
        { what: 'the key check' },
      );
      expect((await ok.inject('/readyz')).json<Ready>().stripe_key).toMatchObject({
        status: 'ok',
        kind: 'secret',
        mode: 'test',
      });
      // The receiver's readiness never uses the key, so it does not show it.
      expect((await ok.inject('/readyz?role=receiver')).json()).not.toHaveProperty('stripe_key');
    } finally {
      await ok.close();
    }

    sim.setApiKeyState({ state: 'revoked' });
    const revoked = await app();
    try {
      await waitFor(
        async () =>
          (await revoked.inject('/readyz')).json<Ready>().stripe_key?.status === 'invalid',
        { what: 'the key check' },
      );
      await waitFor(async () => (await revoked.inject('/readyz')).statusCode === 200, {
        what: 'readiness with a revoked key',
      });
      const res = await revoked.inject('/readyz');
      expect(res.json<Ready>().status).toBe('ok');
      expect(res.json<Ready>().stripe_key?.message).toContain('Stripe rejects the secret test key');
      expect(res.body).not.toContain(sim.apiKey);
    } finally {
      await revoked.close();
    }
  });
});

describe('recon worker with a revoked key', () => {
  it('logs one warning and keeps running', async () => {
    sim.setApiKeyState({ state: 'revoked' });
    const proc = startCli(
      ['worker'],
      cliEnv({
        DATABASE_URL: db.url,
        REDIS_URL: redisUrl(),
        QUEUE_PREFIX: randomQueuePrefix(),
        STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
        STRIPE_API_KEY: sim.apiKey,
        STRIPE_API_BASE: sim.url,
        OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
        LOG_LEVEL: 'info',
        RECON_SWEEP_CRON: '',
      }),
    );
    await waitFor(
      () =>
        proc
          .logLines()
          .some((l) => String(l.msg).startsWith('Stripe API key check: Stripe rejects')),
      { timeoutMs: 40_000, what: 'the key warning' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.transcript()}`, { cause: err });
    });
    const warning = proc.logLines().filter((l) => String(l.msg).startsWith('Stripe API key check'));
    expect(warning).toHaveLength(1);
    expect(warning[0]).toMatchObject({ level: 40, stripeKey: 'invalid' });
    expect(proc.transcript()).not.toContain(sim.apiKey);
    expect(proc.running).toBe(true);
    proc.signal('SIGTERM');
    expect((await proc.waitForExit(15_000)).code).toBe(0);
  });
});
