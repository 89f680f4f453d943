import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../config/config.js';

/** The secrets a command may need; a command is validated only for what it reads. */
export interface Needs {
  /** Verifies webhooks (the receiver). */
  webhookSecret?: boolean;
  /** Calls Stripe's API (workers, sweeps, backfill). */
  stripeApi?: boolean;
  /** Serves the operator API (the receiver). */
  operatorTokens?: boolean;
}

/**
 * Inert stand-ins for the secrets a command never reads: they pass validation and do nothing.
 * Random per process, so a stand-in can never be a credential someone could guess (were a code
 * path to check a token the command was not meant to read).
 */
const unused = randomBytes(24).toString('hex');
const STAND_INS = {
  STRIPE_WEBHOOK_SECRET: `whsec_unused_${unused}`,
  STRIPE_API_KEY: `sk_test_unused_${unused}`,
  OPERATOR_TOKEN: `unused-${unused}`,
} as const;

/**
 * Loads the validated Config for one command. Every variable the command reads is validated as
 * usual; the secrets it never reads are replaced by stand-ins — whatever the environment holds
 * for them, even a malformed value or an example placeholder — so `recon reconcile` never demands
 * a webhook secret and `recon migrate` never demands a Stripe key.
 */
export function loadConfigFor(
  needs: Needs,
  env: Record<string, string | undefined> = process.env,
): Config {
  const e = { ...env };
  if (!needs.webhookSecret) e.STRIPE_WEBHOOK_SECRET = STAND_INS.STRIPE_WEBHOOK_SECRET;
  if (!needs.stripeApi) e.STRIPE_API_KEY = STAND_INS.STRIPE_API_KEY;
  if (!needs.operatorTokens) {
    e.OPERATOR_TOKEN = STAND_INS.OPERATOR_TOKEN;
    e.OPERATOR_TOKENS = undefined;
  }
  return loadConfig(e);
}

/** Commands that never talk to Stripe or serve the API (migrate, ledger import, report, replay). */
export function loadConfigWithoutStripe(
  env: Record<string, string | undefined> = process.env,
): Config {
  return loadConfigFor({}, env);
}

/** What each long-running role reads. */
export const ROLE_NEEDS: Record<'start' | 'serve' | 'worker', Needs> = {
  start: { webhookSecret: true, stripeApi: true, operatorTokens: true },
  serve: { webhookSecret: true, stripeApi: true, operatorTokens: true },
  worker: { stripeApi: true },
};
