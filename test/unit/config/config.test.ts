import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/errors.js';
import { rulesFromConfig } from '../../../src/reconciliation/reconcile-units.js';

const good = {
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/recon',
  STRIPE_WEBHOOK_SECRET: 'whsec_abc, whsec_def',
  STRIPE_API_KEY: 'sk_test_123',
  OPERATOR_TOKEN: 'a-very-long-operator-token',
};

describe('loadConfig', () => {
  it('parses a good environment with defaults', () => {
    const c = loadConfig(good);
    expect(c.STRIPE_WEBHOOK_SECRET).toEqual(['whsec_abc', 'whsec_def']);
    expect(c.PORT).toBe(3000);
    expect(c.QUEUE_PREFIX).toBe('recon');
    expect(c.STRIPE_WEBHOOK_TOLERANCE).toBe(300);
    expect(c.RECON_GRACE_PERIOD).toBe(15 * 60_000);
    expect(c.RECON_STUCK_AFTER_CREDIT_REVERSAL).toBe(5 * 86_400_000);
    expect(c.RECON_STUCK_AFTER_DEBIT_REVERSAL).toBe(14 * 86_400_000);
    expect(c.RECON_MATCH_WINDOW).toBe(7 * 86_400_000);
    expect(c.RECON_MATCH_METADATA_KEY).toBe('ledger_entry_id');
    expect(c.WEBHOOK_MAX_BODY_BYTES).toBe(1_048_576);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads per-kind severity overrides', () => {
    expect(loadConfig(good).RECON_SEVERITY).toEqual({});
    expect(
      loadConfig({ ...good, RECON_SEVERITY: ' stuck_processing:high , transfer_total_drift:low' })
        .RECON_SEVERITY,
    ).toEqual({ stuck_processing: 'high', transfer_total_drift: 'low' });
    // …and the reconciler gets them.
    expect(
      rulesFromConfig(loadConfig({ ...good, RECON_SEVERITY: 'stuck_processing:high' })).severity,
    ).toEqual({ stuck_processing: 'high' });
  });

  it.each([
    { name: 'missing DATABASE_URL', env: { DATABASE_URL: undefined }, variable: 'DATABASE_URL' },
    {
      name: 'non-postgres DATABASE_URL',
      env: { DATABASE_URL: 'mysql://x@y/z' },
      variable: 'DATABASE_URL',
    },
    {
      name: 'secret without whsec_',
      env: { STRIPE_WEBHOOK_SECRET: 'whsec_ok,not-a-secret' },
      variable: 'STRIPE_WEBHOOK_SECRET',
    },
    {
      name: 'empty secret list',
      env: { STRIPE_WEBHOOK_SECRET: ' , ' },
      variable: 'STRIPE_WEBHOOK_SECRET',
    },
    { name: 'publishable key', env: { STRIPE_API_KEY: 'pk_test_123' }, variable: 'STRIPE_API_KEY' },
    { name: 'short token', env: { OPERATOR_TOKEN: 'short' }, variable: 'OPERATOR_TOKEN' },
    { name: 'bad port', env: { PORT: '70000' }, variable: 'PORT' },
    {
      name: 'bad duration',
      env: { RECON_GRACE_PERIOD: '15 minutes' },
      variable: 'RECON_GRACE_PERIOD',
    },
    { name: 'bad redis url', env: { REDIS_URL: 'http://localhost' }, variable: 'REDIS_URL' },
    { name: 'bad prefix', env: { QUEUE_PREFIX: 'a b' }, variable: 'QUEUE_PREFIX' },
    { name: 'bad api base', env: { STRIPE_API_BASE: 'not a url' }, variable: 'STRIPE_API_BASE' },
    {
      name: 'unknown severity word',
      env: { RECON_SEVERITY: 'stuck_processing:urgent' },
      variable: 'RECON_SEVERITY',
    },
    {
      name: 'cron out of range',
      env: { RECON_SWEEP_CRON: '61 * * * *' },
      variable: 'RECON_SWEEP_CRON',
    },
    { name: 'cron nonsense', env: { RECON_SWEEP_CRON: 'nightly' }, variable: 'RECON_SWEEP_CRON' },
    {
      name: 'operator token left as the .env.example placeholder',
      env: { OPERATOR_TOKEN: 'change-me-to-a-long-random-string' },
      variable: 'OPERATOR_TOKEN',
    },
    {
      name: 'webhook secret left as the placeholder',
      env: { STRIPE_WEBHOOK_SECRET: 'whsec_replace_me' },
      variable: 'STRIPE_WEBHOOK_SECRET',
    },
    {
      name: 'API key left as the placeholder',
      env: { STRIPE_API_KEY: 'sk_test_replace_me' },
      variable: 'STRIPE_API_KEY',
    },
    {
      name: 'a named token left as a placeholder',
      env: { OPERATOR_TOKENS: 'ops:change-me-to-a-long-random-string' },
      variable: 'OPERATOR_TOKENS',
    },
    {
      name: 'unknown mismatch kind',
      env: { RECON_SEVERITY: 'lost_money:high' },
      variable: 'RECON_SEVERITY',
    },
  ])('$name → names $variable, never echoes the value', ({ env, variable }) => {
    const merged = { ...good, ...env };
    let err: unknown;
    try {
      loadConfig(merged);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain(variable);
    expect(message).not.toContain('\n');
    const value = (env as Record<string, string | undefined>)[variable];
    if (value && value.trim().length > 3) expect(message).not.toContain(value);
  });

  it('takes a valid cron pattern, and an empty one as "no scheduled sweep"', () => {
    expect(loadConfig({ ...good, RECON_SWEEP_CRON: '*/15 2-4 * * 1-5' }).RECON_SWEEP_CRON).toBe(
      '*/15 2-4 * * 1-5',
    );
    expect(loadConfig({ ...good, RECON_SWEEP_CRON: '' }).RECON_SWEEP_CRON).toBe('');
  });

  it('refuses every .env.example placeholder as it ships', async () => {
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('dotenv');
    const example = parse(readFileSync(new URL('../../../.env.example', import.meta.url)));
    expect(() => loadConfig(example)).toThrow(/OPERATOR_TOKEN: is still the placeholder/);
    expect(() => loadConfig(example)).toThrow(/STRIPE_WEBHOOK_SECRET/);
    expect(() => loadConfig(example)).toThrow(/STRIPE_API_KEY/);
  });
});
