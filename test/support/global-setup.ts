import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { Redis } from 'ioredis';
import { migrate } from '../../src/db/migrate.js';

/**
 * Finds Postgres and Redis for the integration tests, in this order:
 *   1. TEST_DATABASE_URL / TEST_REDIS_URL (or DATABASE_URL / REDIS_URL) when set;
 *   2. the local services on 127.0.0.1 (what CI and these machines have);
 *   3. testcontainers, when Docker answers (a contributor's laptop).
 * It then migrates a template database that each test file clones (CREATE DATABASE … TEMPLATE),
 * which is much faster than migrating per file. Test databases from earlier runs are dropped here,
 * not after the run, so a failed test's rows stay around to look at.
 */

const LOCAL_PG = 'postgresql://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
    redisUrl: string;
  }
}

async function pgAnswers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0 });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export default async function setup(project: TestProject) {
  const stops: Array<() => Promise<unknown>> = [];
  let pgUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  let redisUrl = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;

  if (!pgUrl) {
    if (await pgAnswers(LOCAL_PG)) pgUrl = LOCAL_PG;
    else {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql' as string).catch(
        () => {
          throw new Error(
            'No Postgres: set TEST_DATABASE_URL, start Postgres on 127.0.0.1:5432, or install Docker for testcontainers',
          );
        },
      );
      const c = await new PostgreSqlContainer('postgres:15-alpine').start();
      stops.push(() => c.stop());
      pgUrl = c.getConnectionUri();
    }
  }
  if (!redisUrl) {
    if (await redisAnswers(LOCAL_REDIS)) redisUrl = LOCAL_REDIS;
    else {
      const { GenericContainer } = await import('testcontainers');
      const c = await new GenericContainer('redis:7-alpine')
        .withCommand(['redis-server', '--maxmemory-policy', 'noeviction'])
        .withExposedPorts(6379)
        .start();
      stops.push(() => c.stop());
      redisUrl = `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
    }
  }

  if (!pgUrl || !redisUrl) throw new Error('unreachable: no Postgres or Redis URL');
  const adminUrl = new URL(pgUrl);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  // Several runs may share one Postgres (engineers in one checkout, CI jobs, worktrees): never drop
  // a database someone may be using. Test databases and templates carry their creation time and
  // are dropped only when hours old (and without FORCE, so an open connection keeps one alive).
  // Each project (main, chaos) runs this setup in the same process: its name keeps them apart.
  const tag = (project.name || 'default').replace(/[^a-z0-9]/gi, '').toLowerCase();
  const template = `recon_tpl_${Math.floor(Date.now() / 1000)}_${process.pid}_${tag}`;
  const TEMPLATE_MAX_AGE_S = 6 * 3600;
  try {
    const old = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'recon_t\\_%' OR datname LIKE 'recon_tpl\\_%'`,
    );
    for (const { datname } of old.rows) {
      const born = /^recon_(?:tpl|t)_(\d{10})_/.exec(datname);
      if (born && Date.now() / 1000 - Number(born[1]) < TEMPLATE_MAX_AGE_S) continue;
      await admin.query(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => {});
    }
    await admin.query(`CREATE DATABASE "${template}"`);
  } finally {
    await admin.end();
  }
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${template}`;
  await migrate(templateUrl.toString());

  project.provide('pgAdminUrl', adminUrl.toString());
  project.provide('pgTemplate', template);
  project.provide('redisUrl', redisUrl);

  return async () => {
    for (const stop of stops) await stop();
  };
}
