import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { debitReversal, event } from '../../bench/lib/events.js';
import { killAllChildren, sql, type CliProcess } from '../support/cli.js';
import { Installation, Sender, report, until } from './harness.js';

/**
 * A job whose worker dies twice while holding it. The test holds a lock the projection needs, so
 * the job is provably in a worker's hands (its transaction waits on the lock) when that worker is
 * killed; each time, another worker takes the job over after JOB_LOCK_DURATION. When the lock is
 * let go, the event is projected once, its mismatch opened once, its alert sent once, and the job
 * did not end in the dead letters.
 */

let inst: Installation;
// The inbox relay would enqueue the still-pending row again after RELAY_STUCK_AFTER and rescue
// the event whatever happened to its job; kept out of the way, the test sees BullMQ's takeover.
const NO_RELAY_RESCUE = { RELAY_STUCK_AFTER: '10m' };

beforeAll(async () => {
  inst = await Installation.create();
});
afterAll(async () => {
  await killAllChildren();
  await inst?.close();
});

/** Backends of `recon` waiting for a lock: each is a worker (dead or alive) stuck on our lock. */
const waiting = async () =>
  Number(
    (
      await sql<{ n: number }>(
        inst.dbUrl,
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'recon'
            AND wait_event_type = 'Lock'`,
      )
    )[0]!.n,
  );

it('a job whose worker dies twice while holding it is still projected exactly once', async () => {
  const receiver = inst.start('serve', NO_RELAY_RESCUE);
  await inst.listening(receiver);
  const now = Math.floor(Date.now() / 1000);
  const dr = 'debrev_Bheld000000001';
  const ev = event(
    'treasury.debit_reversal.completed',
    debitReversal(dr, 'rd_Bheld000000001', 1_000, 'failed', now),
    'evt_Bheld000000001',
    now,
    'acct_1PgafTB7WZ01zgkW',
  );

  const holder = new pg.Client({ connectionString: inst.dbUrl });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE debit_reversals IN SHARE ROW EXCLUSIVE MODE');

  const sender = new Sender(() => inst.base);
  await sender.send([ev]);
  let worker: CliProcess = inst.start('worker', NO_RELAY_RESCUE);
  const t0 = Date.now();
  for (let death = 1; death <= 2; death++) {
    await until(
      async () => (await waiting()) >= death,
      `worker ${death} holding the job`,
      60_000,
      100,
    );
    expect(inst.jobs('stripe-events', 'active')).toBe(1);
    worker.signal('SIGKILL');
    await worker.waitForExit(5_000);
    worker = inst.start('worker', NO_RELAY_RESCUE);
  }
  // The third worker takes the job over, and waits on the lock like the others did.
  await until(async () => (await waiting()) >= 3, 'worker 3 holding the job', 60_000, 100);
  const takeoverSeconds = (Date.now() - t0) / 1_000;
  await holder.query('ROLLBACK');
  await holder.end();
  const released = Date.now();
  await until(async () => (await inst.counts()).processed === 1, 'the event projected', 60_000, 50);
  const projectSeconds = (Date.now() - released) / 1_000;

  await inst.settled(1, [dr], 60_000);
  await inst.announced([dr]);
  const c = await inst.counts();
  const history = await sql(
    inst.dbUrl,
    `SELECT to_status FROM status_history WHERE object_id = $1 ORDER BY to_status`,
    [dr],
  );
  const rows = await sql(inst.dbUrl, `SELECT id FROM debit_reversals WHERE id = $1`, [dr]);
  report('job held by a worker that dies twice', {
    deaths: 2,
    secondsUntilThirdWorkerHeldIt: takeoverSeconds,
    secondsToProjectAfterRelease: projectSeconds,
    projected: c.processed,
    mismatches: JSON.stringify(c.mismatches),
    alerts: inst.alerts.announced('reversal_lost', dr),
    deadLetters: inst.jobs('stripe-events', 'failed'),
  });
  expect(rows).toHaveLength(1);
  expect(history).toEqual([{ to_status: 'lost' }]);
  expect(c).toMatchObject({ inbox: 1, processed: 1, failed: 0, duplicateMismatches: 0 });
  expect(c.mismatches).toEqual({ reversal_lost: 1 });
  expect(inst.alerts.announced('reversal_lost', dr)).toBe(1);
  expect(inst.jobs('stripe-events', 'failed')).toBe(0);
});
