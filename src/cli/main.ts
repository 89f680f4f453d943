import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, EXIT, ReconError, describeFailure, exitCodeFor } from '../errors.js';
import { migrate } from '../db/migrate.js';
import { createLogger } from '../log/logger.js';
import { run } from '../roles.js';
import { ROLE_NEEDS, loadConfigFor, loadConfigWithoutStripe } from './config.js';
import { registerOperatorCommands } from './operator-commands.js';
import { registerStripeCommands } from './stripe-commands.js';

// package.json sits two levels up from both src/cli/main.ts and the compiled dist/cli/main.js.
const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

const program = new Command()
  .name('recon')
  .description('Stripe reversal reconciliation worker')
  .version(version, '-V, --version', 'print the version')
  // Commander throws instead of exiting, so a usage error gets its own exit code (2), and says
  // what is wrong in one line like every other error (no help dump); set before the commands
  // are added, which inherit both.
  .exitOverride()
  .configureOutput({
    outputError: (text, write) =>
      write(
        `recon: ${text
          .trim()
          .replace(/^error: /, '')
          .replace(/\s*\n\s*/g, ' ')} (see recon --help)\n`,
      ),
  })
  .addHelpText(
    'after',
    `
Exit codes:
  0   done
  1   failed (a run that failed, a migration that failed, the demo not finding what it planted)
  2   usage: unknown command or option, bad argument
  66  an input file does not exist or cannot be read
  69  unavailable: Postgres, Redis or Stripe unreachable or refusing us, or the port is in use
  78  configuration: a variable missing, malformed, or left as the .env.example placeholder;
      the database schema behind (run recon migrate); Redis set to evict keys

Errors are one line on stderr (recon: …); RECON_DEBUG=1 adds the stack.`,
  );

program
  .command('start')
  .description('migrate, then run the receiver and all workers in one process')
  .action(async () => run('start', loadConfigFor(ROLE_NEEDS.start)));

program
  .command('serve')
  .description('run the webhook receiver and operator API')
  .action(async () => run('serve', loadConfigFor(ROLE_NEEDS.serve)));

program
  .command('worker')
  .description('run the projection and reconciliation workers')
  .action(async () => run('worker', loadConfigFor(ROLE_NEEDS.worker)));

program
  .command('migrate')
  .description('apply prisma/migrations to DATABASE_URL (Prisma-compatible bookkeeping)')
  .action(async () => {
    const config = loadConfigWithoutStripe();
    const r = await migrate(config.DATABASE_URL, { log: (m) => console.log(m) });
    console.log(
      r.applied.length
        ? `migrated: ${r.applied.length} applied, ${r.alreadyApplied} already applied`
        : `database is up to date (${r.alreadyApplied} migrations)`,
    );
  });

registerOperatorCommands(program);
registerStripeCommands(program);

program.addOption(new Option('--no-color', 'disable colours').hideHelp());

async function main() {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    // Every failure is one line naming the problem; the stack only when asked for (RECON_DEBUG=1),
    // since an operator at a terminal needs the what, not our call graph.
    if (err instanceof CommanderError) {
      // Commander printed the problem (and the help); --help and --version end here too, with 0.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
      return;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    const known = e instanceof ConfigError || e instanceof ReconError;
    console.error(`recon: ${known ? e.message : describeFailure(e)}`);
    if (process.env.RECON_DEBUG === '1') createLogger({ name: 'recon' }).error({ err }, 'fatal');
    process.exitCode = exitCodeFor(err);
  }
}

await main();
