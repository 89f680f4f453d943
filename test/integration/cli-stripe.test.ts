import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HANDLED_EVENT_TYPES } from '../../src/domain/event-types.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { STRIPE_API_VERSION } from '../../src/stripe/client.js';
import { cliEnv, killAllChildren, runCli } from '../support/cli.js';
import { createTestDatabase, randomQueuePrefix, redisUrl } from '../support/db.js';
import { TEST_OPERATOR_TOKEN, TEST_WEBHOOK_SECRET } from '../support/events.js';

/**
 * `recon stripe setup` and `recon stripe check` as an operator runs them (child processes),
 * against the simulator through the real SDK.
 */
const URL_ = 'https://recon.example.com/webhooks/stripe';

let sim: Simulator;
let env: Record<string, string>;

interface SimEndpoint {
  id: string;
  url: string;
  connect: boolean;
  enabled_events: string[];
  api_version: string | null;
  status: string;
}

async function simEndpoints(): Promise<SimEndpoint[]> {
  const res = await fetch(`${sim.url}/_sim/webhook_endpoints`);
  return ((await res.json()) as { data: SimEndpoint[] }).data;
}

beforeEach(async () => {
  sim = await createSimulator({ seed: 14 });
  env = cliEnv({ STRIPE_API_KEY: sim.apiKey, STRIPE_API_BASE: sim.url });
});
afterEach(async () => {
  await killAllChildren();
  await sim.close();
});

describe('recon stripe setup', () => {
  it('--dry-run says what it would do and changes nothing', async () => {
    const r = await runCli(['stripe', 'setup', '--url', URL_, '--dry-run'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`would create the platform endpoint at ${URL_}`);
    expect(r.stdout).toContain(`would create the Connect endpoint at ${URL_} (connect: true)`);
    expect(r.stdout).toContain('dry run: nothing changed');
    expect(await simEndpoints()).toEqual([]);
  });

  it('creates both endpoints once, prints their secrets and the env line; a second run changes nothing', async () => {
    const first = await runCli(['stripe', 'setup', '--url', URL_], env);
    expect(first.code, first.stderr).toBe(0);
    const secrets = [...first.stdout.matchAll(/signing secret: (whsec_\S+)/g)].map((m) => m[1]);
    expect(secrets).toHaveLength(2);
    expect(first.stdout).toContain(`STRIPE_WEBHOOK_SECRET=${secrets.join(',')}`);
    const made = await simEndpoints();
    expect(made.map((e) => [e.url, e.connect, e.api_version, e.status])).toEqual([
      [URL_, false, STRIPE_API_VERSION, 'enabled'],
      [URL_, true, STRIPE_API_VERSION, 'enabled'],
    ]);
    for (const e of made)
      expect([...e.enabled_events].sort()).toEqual([...HANDLED_EVENT_TYPES].sort());

    const again = await runCli(['stripe', 'setup', '--url', URL_], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('whsec_');
    expect(again.stdout.match(/already set up; its existing secret is unchanged/g)).toHaveLength(2);
    expect((await simEndpoints()).map((e) => e.id)).toEqual(made.map((e) => e.id));
  });

  it('updates an endpoint that lacks events or is disabled, keeping its secret', async () => {
    const stripe = sim.stripe();
    const old = await stripe.webhookEndpoints.create({
      url: URL_,
      enabled_events: ['transfer.created', 'charge.refunded'],
      api_version: STRIPE_API_VERSION,
      connect: true,
      metadata: { recon_endpoint: 'connect' },
    });
    await stripe.webhookEndpoints.update(old.id, { disabled: true });
    const r = await runCli(['stripe', 'setup', '--url', URL_], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `Connect endpoint ${old.id} .*: updated \\(enabled_events \\+.*; enable it\\); its existing secret is unchanged`,
      ),
    );
    expect(r.stdout.match(/signing secret: whsec_/g)).toHaveLength(1); // the new platform one
    expect(r.stdout).toMatch(
      /STRIPE_WEBHOOK_SECRET=whsec_\S+,<connect endpoint's existing secret>/,
    );
    const got = await stripe.webhookEndpoints.retrieve(old.id);
    expect(got.status).toBe('enabled');
    expect(got.enabled_events).toEqual(
      expect.arrayContaining([...HANDLED_EVENT_TYPES, 'charge.refunded']),
    );
  });

  it('refuses, changing nothing, when an endpoint at the URL has no role tag', async () => {
    const stripe = sim.stripe();
    const manual = await stripe.webhookEndpoints.create({ url: URL_, enabled_events: ['*'] });
    const r = await runCli(['stripe', 'setup', '--url', URL_], env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${manual.id} at ${URL_} has no metadata recon_endpoint`);
    expect(await simEndpoints()).toHaveLength(1);
  });

  it('says in one line that the key is revoked', async () => {
    sim.setApiKeyState({ state: 'revoked' });
    const r = await runCli(['stripe', 'setup', '--url', URL_], env);
    expect(r.code).toBe(78);
    expect(r.stderr.trim()).toBe(
      'recon: could not list webhook endpoints: Stripe rejects STRIPE_API_KEY (401: wrong, rolled or revoked)',
    );
  });
});

describe('recon stripe check', () => {
  it('says exactly what is missing and exits 1; after setup it passes', async () => {
    const before = await runCli(['stripe', 'check'], env);
    expect(before.code).toBe(1);
    expect(before.stdout).toContain('key: Stripe accepts the secret test key');
    expect(before.stdout).toContain('platform endpoint: MISSING — no platform endpoint');
    expect(before.stdout).toContain('Connect endpoint: MISSING — no Connect endpoint');
    expect(before.stdout).toContain('FAIL: 2 problems');

    await sim.stripe().webhookEndpoints.create({
      url: URL_,
      enabled_events: ['transfer.created'],
      api_version: '2024-06-20',
      metadata: { recon_endpoint: 'platform' },
    });
    const partial = await runCli(['stripe', 'check', '--url', URL_], env);
    expect(partial.code).toBe(1);
    expect(partial.stdout).toContain(
      `its api_version is 2024-06-20, recon pins ${STRIPE_API_VERSION}`,
    );
    expect(partial.stdout).toContain('it does not get transfer.reversed');

    const setup = await runCli(['stripe', 'setup', '--url', URL_], env);
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.stdout).toContain('it replaces we_');
    const after = await runCli(['stripe', 'check', '--url', URL_], env);
    expect(after.code, after.stdout).toBe(0);
    expect(after.stdout).toContain('OK: key sk_test_… and both webhook endpoints are set up');
  });

  it('names the permissions a restricted key lacks', async () => {
    await sim.close();
    sim = await createSimulator({ seed: 14, apiKey: 'rk_test_recon_restricted' });
    env = cliEnv({ STRIPE_API_KEY: sim.apiKey, STRIPE_API_BASE: sim.url });
    sim.setApiKeyState({ state: 'forbidden', paths: ['/v1/accounts', '/v1/webhook_endpoints'] });
    const r = await runCli(['stripe', 'check'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('key: restricted (rk_)');
    expect(r.stdout).toContain('permission Transfers: Read: ok');
    expect(r.stdout).toMatch(/permission Connect \(Accounts\): Read: MISSING/);
    expect(r.stdout).toMatch(/permission Webhook Endpoints: Read: MISSING/);
    expect(r.stdout).toContain('webhook endpoints: MISSING — cannot list them');
  });

  it('fails at once on a revoked key', async () => {
    sim.setApiKeyState({ state: 'revoked' });
    const r = await runCli(['stripe', 'check'], env);
    expect(r.code).toBe(78);
    expect(r.stdout).toContain(
      'Stripe rejects the secret test key sk_test_… (401: wrong, rolled or revoked)',
    );
    expect(r.stdout).toContain('FAIL: replace STRIPE_API_KEY');
  });
});

describe('recon backfill with a revoked key', () => {
  it('fails at once with one line and exit 78 (configuration)', async () => {
    const db = await createTestDatabase();
    try {
      sim.setApiKeyState({ state: 'revoked' });
      const r = await runCli(
        ['backfill'],
        cliEnv({
          DATABASE_URL: db.url,
          REDIS_URL: redisUrl(),
          QUEUE_PREFIX: randomQueuePrefix(),
          STRIPE_API_KEY: sim.apiKey,
          STRIPE_API_BASE: sim.url,
          STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
          OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
          LOG_LEVEL: 'silent',
        }),
      );
      expect(r.code).toBe(78);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('recon:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^recon: sweep \S+ failed: Stripe rejects STRIPE_API_KEY \(401: wrong, rolled or revoked; not retried\)/,
      );
      expect(r.stderr + r.stdout).not.toContain(sim.apiKey);
    } finally {
      await db.close();
    }
  });
});
