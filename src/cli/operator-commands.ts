import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { runDemo } from '../demo/demo.js';
import { importLedgerCsv, type CsvImportResult } from '../ledger/csv-import.js';
import { createLogger } from '../log/logger.js';
import { listDeadLetters, replayDeadLetters } from '../queue/dead-letter.js';
import { replayInbox } from '../inbox/replay.js';
import { writeFile } from 'node:fs/promises';
import { createRuntime, type Runtime } from '../runtime.js';
import { runSimulatorCli } from '../simulator/index.js';
import { REPORT_FORMATS, type ReportFormat } from '../reports/schema.js';
import { renderReport } from '../reports/render.js';
import { SweepInterruptedError } from '../sweep/run.js';
import { replayStripeEvents } from '../sweep/replay.js';
import { backfill, runSweep, startSweep } from '../sweep/start.js';
import { sweepRunJson, type SweepRun } from '../sweep/store.js';
import { loadConfigFor, loadConfigWithoutStripe } from './config.js';
import { createPhasedProgress } from './progress.js';
import { sweepPhase } from './sweep-phases.js';
import { parseSince } from './since.js';

/**
 * Runs `fn` with a runtime whose logs go to stderr at warn level, and always closes it. Only a
 * command that calls Stripe's API (`needsStripe`) is asked for a Stripe key; none of them needs
 * the webhook secret or an operator token.
 */
async function withRuntime<T>(fn: (rt: Runtime) => Promise<T>, needsStripe = false): Promise<T> {
  const config = needsStripe ? loadConfigFor({ stripeApi: true }) : loadConfigWithoutStripe();
  const rt = createRuntime(config, createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }));
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

/**
 * The last line of `recon ledger import`. A dry run's counts are what the import would do, so it
 * says so ("would create"): "0 created" for a file of seven new rows read as if it were useless.
 */
function importSummary(r: CsvImportResult, dryRun: boolean, skipInvalid: boolean): string {
  const invalid = `${r.invalid} invalid`;
  if (dryRun) {
    const blocked = r.invalid > 0 && !skipInvalid;
    return (
      `would create ${r.created}, would update ${r.updated}, unchanged ${r.unchanged}, ${invalid}` +
      (blocked
        ? ' (dry run: nothing written; the import would write nothing either: fix the rows, or use --skip-invalid)'
        : ' (dry run: nothing written)')
    );
  }
  return (
    `${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${invalid}` +
    (r.written ? '' : ' — nothing written')
  );
}

/** The operator's commands, in the order `recon --help` lists them. */
export function registerOperatorCommands(program: Command): void {
  registerLedgerCommands(program);
  registerReplayCommand(program);
  registerSimulatorCommands(program);
  registerSweepCommands(program);
  registerReportCommand(program);
}

/** `recon ledger import` (src/ledger). */
function registerLedgerCommands(program: Command): void {
  const ledger = program.command('ledger').description('platform ledger');
  ledger
    .command('import')
    .argument(
      '<file>',
      'CSV with a header row: id,kind,stripe_id,parent_id,amount,currency,expected_status,account,occurred_at,metadata',
    )
    .option(
      '--skip-invalid',
      'import the good rows even if some are bad (default: nothing is written)',
    )
    .option(
      '--dry-run',
      'do everything but commit: say what would be created, updated or left unchanged',
    )
    .description('import ledger entries from CSV (idempotent on entry id)')
    .action(async (file: string, opts: { skipInvalid?: boolean; dryRun?: boolean }) => {
      await withRuntime(async (rt) => {
        const progress = createPhasedProgress('ledger import');
        const r = await importLedgerCsv(rt, file, {
          skipInvalid: !!opts.skipInvalid,
          dryRun: !!opts.dryRun,
          // Rows, not bytes: the validating pass cannot know how many rows the file holds, so it
          // counts them; the writing pass knows how many valid rows it has, so it gets a bar.
          onProgress: (p) =>
            progress.update(
              p.phase === 'validate'
                ? { phase: 'validating', value: p.rows, total: null, unit: 'rows' }
                : {
                    phase: opts.dryRun ? 'trying the writes (rolled back)' : 'writing',
                    value: p.rows,
                    total: p.totalRows ?? p.rows,
                    unit: 'rows',
                  },
            ),
        });
        progress.stop();
        for (const e of r.errors) console.error(`line ${e.line}: ${e.field}: ${e.reason}`);
        console.log(importSummary(r, !!opts.dryRun, !!opts.skipInvalid));
        if (r.invalid > 0 && !opts.skipInvalid) process.exitCode = 1;
      });
    });
}

/** `recon replay`: dead-lettered jobs (src/queue), inbox rows (src/inbox), Stripe's events (src/sweep). */
function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('re-enqueue work: dead-lettered jobs, inbox rows, or events listed from Stripe')
    .option('--dead-letter', 'retry every job that exhausted its attempts')
    .option('--list', 'with --dead-letter: only list them')
    .option('--inbox', 're-enqueue inbox rows received since --since')
    .option(
      '--stripe-events',
      'list GET /v1/events since --since and project those the inbox lacks',
    )
    .option('--account <acct>', 'with --stripe-events: only this connected account, or "platform"')
    .option('--since <time>', 'ISO-8601, unix seconds, or a duration back from now (24h)')
    .action(
      async (opts: {
        deadLetter?: boolean;
        list?: boolean;
        inbox?: boolean;
        stripeEvents?: boolean;
        account?: string;
        since?: string;
      }) => {
        const modes = [opts.deadLetter, opts.inbox, opts.stripeEvents].filter(Boolean).length;
        if (modes !== 1) {
          throw new UsageError(
            'choose one of --dead-letter, --inbox --since T, --stripe-events --since T',
          );
        }
        if ((opts.inbox || opts.stripeEvents) && !opts.since) {
          throw new UsageError('--inbox and --stripe-events need --since T');
        }
        await withRuntime(async (rt) => {
          if (opts.deadLetter) {
            if (opts.list) {
              const dead = await listDeadLetters(rt);
              for (const d of dead) console.log(JSON.stringify(d));
              console.log(`${dead.length} dead-lettered job(s)`);
              return;
            }
            const r = await replayDeadLetters(rt);
            for (const e of r.errors) console.error(`${e.queue}/${e.jobId}: ${e.message}`);
            console.log(`${r.replayed} job(s) re-enqueued`);
            return;
          }
          const since = parseSince(opts.since!);
          if (opts.inbox) {
            const r = await replayInbox(rt, { since });
            console.log(`${r.enqueued} event(s) re-enqueued`);
            return;
          }
          const r = await replayStripeEvents(rt, { since, account: opts.account });
          console.log(
            `${r.listed} event(s) listed from Stripe, ${r.recovered} missing from the inbox recovered`,
          );
        }, !!opts.stripeEvents);
      },
    );
}

/** `recon sim` and `recon demo` (src/simulator, src/demo). */
function registerSimulatorCommands(program: Command): void {
  program
    .command('sim')
    .description('run the local Stripe simulator alone (point STRIPE_API_BASE at it)')
    .option('-p, --port <port>', 'port', '12111')
    .option('--webhook <url>', 'deliver events to this URL (needs --webhook-secret)')
    .option('--webhook-secret <whsec>', 'signing secret for --webhook')
    .option('--seed <n>', 'PRNG seed')
    .action(
      async (opts: { port: string; webhook?: string; webhookSecret?: string; seed?: string }) => {
        if (opts.webhook && !opts.webhookSecret?.startsWith('whsec_')) {
          throw new UsageError('--webhook needs --webhook-secret whsec_…');
        }
        await runSimulatorCli({
          port: Number(opts.port),
          seed: opts.seed ? Number(opts.seed) : undefined,
          webhookEndpoints: opts.webhook
            ? [{ url: opts.webhook, secret: opts.webhookSecret! }]
            : [],
        });
      },
    );

  program
    .command('demo')
    .description('play a seeded platform day through the Stripe simulator and the whole pipeline')
    .addHelpText(
      'after',
      `
Database: RECON_DEMO_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/recon_demo).
A database named recon_demo* is created and marked as the demo's (a database comment). On the
next run it is dropped and recreated, but only if it carries that mark and nobody is connected
to it (a kept demo still running keeps it); any other is refused with one line, never dropped.
A database of another name is used as it is, never dropped.
Redis: REDIS_URL (default redis://127.0.0.1:6379). The demo's keys (a prefix of its own,
recon-demo-…) are removed when it exits, on Ctrl-C too.
--keep: the demo keeps running on the wall clock and prints the export line that points
recon reconcile, recon report and the other commands at it.`,
    )
    .option('--keep', 'leave the receiver, workers and simulator running afterwards')
    .option('--port <port>', 'receiver port (default: a free one, or 3000 with --keep)')
    .option('--seed <n>', 'seed of the scripted day', '42')
    .option('--transfers <n>', 'transfers in the day', '300')
    .action(async (opts: { keep?: boolean; port?: string; seed: string; transfers: string }) => {
      const r = await runDemo({
        keep: !!opts.keep,
        port: opts.port === undefined ? undefined : Number(opts.port),
        seed: Number(opts.seed),
        transfers: Number(opts.transfers),
      });
      if (!r.ok) process.exitCode = 1;
    });
}

/** `recon reconcile` and `recon backfill`: sweeps (src/sweep). */
function registerSweepCommands(program: Command): void {
  program
    .command('reconcile')
    .description(
      'full sweep now: list Stripe, recover missed events, reconcile every unit, write a drift report',
    )
    .option('--account <acct>', 'only this connected account (acct_…), or "platform"')
    .option(
      '--since <time>',
      'recover events since (ISO-8601, unix seconds, or 24h); default: 30 days',
    )
    .option('--queue', 'hand the sweep to the sweep worker and return at once')
    .action(async (opts: { account?: string; since?: string; queue?: boolean }) => {
      const since = opts.since ? parseSince(opts.since) : null;
      if (opts.account && !/^(acct_[A-Za-z0-9]+|platform)$/.test(opts.account)) {
        throw new UsageError('--account must be acct_… or platform');
      }
      await withRuntime(async (rt) => {
        if (opts.queue) {
          console.log(
            JSON.stringify(
              sweepRunJson(await startSweep(rt, { trigger: 'cli', account: opts.account, since })),
              null,
              2,
            ),
          );
          return;
        }
        await sweepHere((signal, onProgress) =>
          runSweep(rt, { trigger: 'cli', account: opts.account, since, signal, onProgress }),
        );
      }, true);
    });

  program
    .command('backfill')
    .description(
      'first sweep of a new installation: every object Stripe lists, events as far back as Stripe keeps them',
    )
    .action(async () => {
      await withRuntime(
        async (rt) => sweepHere((signal, onProgress) => backfill(rt, { signal, onProgress })),
        true,
      );
    });
}

/** `recon report` (src/reports). */
function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('print or save a drift report (the latest by default)')
    .option('--format <format>', `one of ${REPORT_FORMATS.join(', ')}`, 'md')
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--id <report>', 'a report id (rpt_…)', 'latest')
    .action(async (opts: { format: string; out?: string; id: string }) => {
      if (!(REPORT_FORMATS as readonly string[]).includes(opts.format)) {
        throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')}`);
      }
      await withRuntime(async (rt) => {
        const r = await renderReport(rt, opts.id, opts.format as ReportFormat);
        if (opts.out) {
          await writeFile(opts.out, r.content);
          console.error(`report ${r.id} written to ${opts.out}`);
        } else {
          process.stdout.write(r.content);
        }
      });
    });
}

/** Runs a sweep here with a progress bar; Ctrl-C stops after the current page (resumable). */
async function sweepHere(
  run: (signal: AbortSignal, onProgress: (r: SweepRun) => void) => Promise<SweepRun>,
): Promise<void> {
  const progress = createPhasedProgress('sweep');
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    const done = await run(stop.signal, (r) => progress.update(sweepPhase(r)));
    progress.stop();
    console.log(
      `sweep ${done.id} ${done.status}: ${done.objects_fetched} objects fetched, ${done.events_recovered} events recovered, ` +
        `${done.units_done} units reconciled, ${done.mismatches_opened} opened, ${done.mismatches_resolved} resolved` +
        (done.report_id ? ` — report ${done.report_id} (recon report)` : ''),
    );
    if (done.status !== 'completed') process.exitCode = 1;
  } catch (err) {
    progress.stop();
    if (err instanceof SweepInterruptedError) {
      console.error(
        `recon: ${err.message}: run the same command again (or let a worker) to continue`,
      );
      process.exitCode = 130;
      return;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
