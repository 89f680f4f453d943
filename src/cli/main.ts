import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ConfigError, ReconError } from '../errors.js';
import { loadConfig } from '../config/config.js';
import { migrate } from '../db/migrate.js';
import { createLogger } from '../log/logger.js';
import { run } from '../main.js';
import { loadConfigWithoutStripe } from './config.js';
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
  .showHelpAfterError();

program
  .command('start')
  .description('migrate, then run the receiver and all workers in one process')
  .action(async () => run('start', loadConfig()));

program
  .command('serve')
  .description('run the webhook receiver and operator API')
  .action(async () => run('serve', loadConfig()));

program
  .command('worker')
  .description('run the projection and reconciliation workers')
  .action(async () => run('worker', loadConfig()));

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
    const e = err instanceof Error ? err : new Error(String(err));
    const known = e instanceof ConfigError || e instanceof ReconError;
    console.error(`recon: ${known ? e.message : `${e.message.split('\n')[0]}`}`);
    if (process.env.RECON_DEBUG === '1') createLogger({ name: 'recon' }).error({ err }, 'fatal');
    process.exitCode = 1;
  }
}

await main();
