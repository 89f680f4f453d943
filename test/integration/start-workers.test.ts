import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { startWorkers } from '../../src/roles.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/events.js';

/**
 * A worker process whose later part fails to start (here the sweep scheduler, given a cron
 * pattern config validation would refuse) must stop the parts it already started: `run` closes
 * the pool after a failed start, and workers left behind would keep the process alive on it.
 */

let db: TestDatabase;
let rt: Runtime;

beforeAll(async () => {
  db = await createTestDatabase();
  // Past loadConfig on purpose: the point is what startWorkers does when a part throws.
  const config: Config = {
    ...testConfig({ DATABASE_URL: db.url }),
    RECON_SWEEP_CRON: '61 * * * *',
  };
  rt = createRuntime(config);
});

afterAll(async () => {
  await rt?.close();
  await db?.close();
});

describe('startWorkers', () => {
  it('stops the workers it started when a later one fails', async () => {
    await expect(startWorkers(rt)).rejects.toThrow(/61/);
    expect(await rt.queues.events.getWorkers()).toHaveLength(0);
    expect(await rt.queues.reconcile.getWorkers()).toHaveLength(0);
  });
});
