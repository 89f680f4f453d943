import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ReportBody } from '../../src/reports/schema.js';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { cliEnv, killAllChildren, runCli, sql } from '../support/cli.js';
import { createTestDatabase, randomQueuePrefix, redisUrl } from '../support/db.js';
import { TEST_OPERATOR_TOKEN, TEST_WEBHOOK_SECRET } from '../support/events.js';

/**
 * The operator commands as run from a shell: `recon ledger import`, a full `recon reconcile`
 * against the Stripe simulator, `recon report` in two formats, `recon replay --dead-letter --list`.
 */

const DAY = 86_400_000;
const CONNECTED = 'acct_1CliOperatorConn';
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');
const tmp = mkdtempSync(join(tmpdir(), 'recon-cli-'));

afterEach(async () => {
  await killAllChildren();
});

/** Env for commands that never talk to Stripe: just the database (and Redis for replay). */
const dbEnv = (url: string, prefix = randomQueuePrefix()) =>
  cliEnv({ DATABASE_URL: url, REDIS_URL: redisUrl(), QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' });

async function ledgerIds(url: string): Promise<string[]> {
  const rows = await sql<{ id: string }>(url, `SELECT id FROM ledger_entries ORDER BY id`);
  return rows.map((r) => r.id);
}

describe('recon ledger import', () => {
  it('imports examples/ledger.csv, and again changes nothing', async () => {
    const db = await createTestDatabase();
    await db.close();
    const env = dbEnv(db.url);
    const first = await runCli(['ledger', 'import', 'examples/ledger.csv'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(lines(first.stdout)).toEqual(['7 created, 0 updated, 0 unchanged, 0 invalid']);
    expect(await ledgerIds(db.url)).toEqual(
      [
        'ach-return-5521',
        'ach-return-5522',
        'dispute-ach-0091',
        'dispute-ach-0092',
        'fee-claw-0417',
        'refund-2026-0001',
        'refund-2026-0002',
      ].sort(),
    );
    const again = await runCli(['ledger', 'import', 'examples/ledger.csv'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(lines(again.stdout)).toEqual(['0 created, 0 updated, 7 unchanged, 0 invalid']);
  });

  it('--dry-run says what the import would do, writes nothing, and counts rows', async () => {
    const db = await createTestDatabase();
    await db.close();
    const env = dbEnv(db.url);
    const dry = await runCli(['ledger', 'import', 'examples/ledger.csv', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(lines(dry.stdout)).toEqual([
      'would create 7, would update 0, unchanged 0, 0 invalid (dry run: nothing written)',
    ]);
    expect(await ledgerIds(db.url)).toEqual([]);
    // Progress (stderr, not a terminal: one line per phase) counts rows, not bytes.
    expect(lines(dry.stderr)).toEqual([
      'ledger import: validating 7 rows',
      'ledger import: trying the writes (rolled back) 7/7 rows (100%)',
    ]);

    // A ledger already holding three of the seven rows, one of them with another amount.
    const [header, ...rows] = lines(readFileSync('examples/ledger.csv', 'utf8'));
    const partial = join(tmp, 'partial.csv');
    writeFileSync(
      partial,
      [header, rows[0]!.replace(',2500,', ',2400,'), rows[1], rows[2], ''].join('\n'),
    );
    expect((await runCli(['ledger', 'import', partial], env)).code).toBe(0);
    const before = await ledgerIds(db.url);
    const changed = await runCli(['ledger', 'import', 'examples/ledger.csv', '--dry-run'], env);
    expect(changed.code, changed.stderr).toBe(0);
    expect(lines(changed.stdout)).toEqual([
      'would create 4, would update 1, unchanged 2, 0 invalid (dry run: nothing written)',
    ]);
    expect(await ledgerIds(db.url)).toEqual(before);
  });

  it('refuses a file with a bad row (line N: field: reason, nothing written); --skip-invalid imports the rest', async () => {
    const db = await createTestDatabase();
    await db.close();
    const csv = join(tmp, 'bad-row.csv');
    writeFileSync(
      csv,
      [
        'id,kind,stripe_id,parent_id,amount,currency,expected_status,account,occurred_at,metadata',
        'le_cli_good1,transfer_reversal,trr_1CliGood1,tr_1CliGood,1500,usd,succeeded,,2026-11-20T09:00:00Z,',
        'le_cli_bad,transfer_reversal,trr_1CliBad,tr_1CliGood,12.50,usd,succeeded,,2026-11-20T09:00:00Z,',
        'le_cli_good2,credit_reversal,,rc_1CliGood2,900,usd,posted,,1795683600,"{""case"":""x""}"',
        '',
      ].join('\n'),
    );
    const env = dbEnv(db.url);

    const strict = await runCli(['ledger', 'import', csv], env);
    expect(strict.code, strict.stdout + strict.stderr).toBe(1);
    const errors = lines(strict.stderr).filter((l) => l.startsWith('line '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^line 3: amount: \S.*/);
    expect(lines(strict.stdout)).toEqual([
      '0 created, 0 updated, 0 unchanged, 1 invalid — nothing written',
    ]);
    expect(await ledgerIds(db.url)).toEqual([]);

    const dry = await runCli(['ledger', 'import', csv, '--dry-run'], env);
    expect(dry.code, dry.stdout + dry.stderr).toBe(1);
    expect(lines(dry.stdout)).toEqual([
      'would create 0, would update 0, unchanged 0, 1 invalid (dry run: nothing written; the import would write nothing either: fix the rows, or use --skip-invalid)',
    ]);

    const lenient = await runCli(['ledger', 'import', csv, '--skip-invalid'], env);
    expect(lenient.code, lenient.stdout + lenient.stderr).toBe(0);
    expect(lines(lenient.stderr).filter((l) => l.startsWith('line '))).toEqual(errors);
    expect(lines(lenient.stdout)).toEqual(['2 created, 0 updated, 0 unchanged, 1 invalid']);
    expect(await ledgerIds(db.url)).toEqual(['le_cli_good1', 'le_cli_good2']);
  });
});

describe('recon reconcile, report and replay against the simulator', () => {
  let sim: Simulator;
  const ids = {
    transfer: '',
    reversals: [] as string[],
    posted: '',
    stuck: '',
    lost: '',
  };

  beforeAll(async () => {
    // Ten days ago, so the stuck credit reversal is past RECON_STUCK_AFTER_CREDIT_REVERSAL (5d).
    sim = await createSimulator({ seed: 5, startTime: Date.now() - 10 * DAY });
    const platform = sim.stripe();
    const tr = await platform.transfers.create({
      amount: 10_000,
      currency: 'usd',
      destination: CONNECTED,
    });
    ids.transfer = tr.id;
    for (const amount of [1_000, 2_500])
      ids.reversals.push((await platform.transfers.createReversal(tr.id, { amount })).id);
    const conn = sim.stripe({ stripeAccount: CONNECTED });
    const fa = await conn.treasury.financialAccounts.create({
      supported_currencies: ['usd'],
      features: {},
    });
    const credit = async (amount: number) =>
      conn.testHelpers.treasury.receivedCredits.create({
        amount,
        currency: 'usd',
        financial_account: fa.id,
        network: 'ach',
      });
    ids.posted = (
      await conn.treasury.creditReversals.create({ received_credit: (await credit(1_200)).id })
    ).id;
    ids.stuck = (
      await conn.treasury.creditReversals.create({
        received_credit: (await credit(800)).id,
        metadata: { sim_outcome: 'stuck' },
      })
    ).id;
    const rd = await conn.testHelpers.treasury.receivedDebits.create({
      amount: 4_000,
      currency: 'usd',
      financial_account: fa.id,
      network: 'ach',
    });
    ids.lost = (
      await conn.treasury.debitReversals.create({
        received_debit: rd.id,
        metadata: { sim_outcome: 'lost' },
      })
    ).id;
    await sim.advanceDays(4); // posts one credit reversal, loses the debit reversal
  });

  afterAll(async () => {
    await sim?.close();
  });

  it('sweeps Stripe into the database, then prints and saves the drift report', async () => {
    const db = await createTestDatabase();
    await db.close();
    const prefix = randomQueuePrefix();
    const env = cliEnv({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl(),
      QUEUE_PREFIX: prefix,
      STRIPE_API_KEY: sim.apiKey,
      STRIPE_API_BASE: sim.url,
      STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
      RECON_SWEEP_ACCOUNTS: CONNECTED,
      RECON_SWEEP_RATE_LIMIT: '1000',
      LOG_LEVEL: 'warn',
    });

    const sweep = await runCli(['reconcile'], env, { timeoutMs: 45_000 });
    expect(sweep.code, sweep.stdout + sweep.stderr).toBe(0);
    const done =
      /^sweep (\S+) completed: (\d+) objects fetched, (\d+) events recovered, (\d+) units reconciled, (\d+) opened, (\d+) resolved — report (rpt_\S+) \(recon report\)$/m.exec(
        sweep.stdout,
      );
    expect(done, sweep.stdout).not.toBeNull();
    // Progress on stderr (not a terminal: a line per phase): each phase its own count or bar;
    // reconciling, whose total is known, ends at 100%.
    const phases = lines(sweep.stderr)
      .map(
        (l) =>
          /^sweep: (listing Stripe objects|recovering missed events|reconciling|writing the report)\b/.exec(
            l,
          )?.[1],
      )
      .filter((p, i, all) => p && p !== all[i - 1]);
    expect(phases, sweep.stderr).toEqual([
      'listing Stripe objects',
      'recovering missed events',
      'reconciling',
      'writing the report',
    ]);
    expect(sweep.stderr).toMatch(/^sweep: reconciling (\d+)\/\1 units \(100%\)$/m);
    expect(sweep.stderr).not.toMatch(/^sweep: listing Stripe objects \d+\/\d+/m);
    const [, , fetched, recovered, units, opened, , reportId] = done!;
    expect(Number(fetched)).toBeGreaterThanOrEqual(9);
    expect(Number(recovered)).toBeGreaterThan(0); // no webhook was ever delivered
    expect(Number(units)).toBeGreaterThan(0);
    expect(Number(opened)).toBeGreaterThan(0);

    const projected = async (table: string) =>
      (await sql<{ id: string }>(db.url, `SELECT id FROM ${table} ORDER BY id`)).map((r) => r.id);
    expect(await projected('transfers')).toEqual([ids.transfer]);
    expect(await projected('transfer_reversals')).toEqual([...ids.reversals].sort());
    expect(await projected('credit_reversals')).toEqual([ids.posted, ids.stuck].sort());
    expect(await projected('debit_reversals')).toEqual([ids.lost]);

    const out = join(tmp, 'report.json');
    const [md, json, badFormat, dead] = await Promise.all([
      runCli(['report', '--format', 'md'], env),
      runCli(['report', '--format', 'json', '--out', out], env),
      runCli(['report', '--format', 'pdf'], env),
      runCli(['replay', '--dead-letter', '--list'], env),
    ]);

    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^# .+/);
    expect(md.stdout).toContain('## Open by kind');
    for (const text of [
      'reversal_lost',
      'stuck_processing',
      'missing_in_ledger',
      ids.lost,
      ids.stuck,
    ])
      expect(md.stdout).toContain(text);

    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).toBe('');
    expect(lines(json.stderr)).toEqual([`report ${reportId} written to ${out}`]);
    const body = ReportBody.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(body.id).toBe(reportId);
    expect(body.sweep).toMatchObject({
      trigger: 'cli',
      objects_fetched: Number(fetched),
      events_recovered: Number(recovered),
    });
    expect(body.totals.open).toBe(body.open.length);
    const open = body.open.map((m) => `${m.kind}:${m.object_id}`).sort();
    // Nothing is in the ledger, so every reversal is missing from it; and two are worse.
    expect(open).toEqual(
      [
        `reversal_lost:${ids.lost}`,
        `stuck_processing:${ids.stuck}`,
        ...[ids.posted, ids.stuck, ids.lost, ...ids.reversals].map(
          (id) => `missing_in_ledger:${id}`,
        ),
      ].sort(),
    );

    expect(badFormat.code).toBe(2);
    expect(lines(badFormat.stderr)).toEqual(['recon: --format must be one of json, csv, md, html']);

    expect(dead.code, dead.stderr).toBe(0);
    expect(lines(dead.stdout)).toEqual(['0 dead-lettered job(s)']);
  });
});
