import { loadConfig, type Config } from '../config/config.js';

/**
 * Commands that never talk to Stripe or serve the API (migrate, ledger import, report, replay)
 * should not demand Stripe secrets. They load the same validated Config with inert stand-ins
 * for the variables they never read; every variable they do read is still validated.
 */
export function loadConfigWithoutStripe(
  env: Record<string, string | undefined> = process.env,
): Config {
  return loadConfig({
    STRIPE_WEBHOOK_SECRET: 'whsec_unused_by_this_command',
    STRIPE_API_KEY: 'sk_test_unused_by_this_command',
    OPERATOR_TOKEN: 'unused-by-this-command',
    ...env,
  });
}
