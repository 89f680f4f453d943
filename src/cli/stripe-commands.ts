import type { Command } from 'commander';
import type Stripe from 'stripe';
import type { Config } from '../config/config.js';
import { EXIT, ReconError } from '../errors.js';
import { createStripeClient, STRIPE_API_VERSION } from '../stripe/client.js';
import { checkStripeKey, classifyStripeError, maskStripeKey } from '../stripe/key.js';
import { loadConfigFor } from './config.js';
import {
  applySetup,
  checkEndpoints,
  endpointRole,
  listWebhookEndpoints,
  planSetup,
  probePermissions,
  REQUIRED_EVENTS,
  roleLabel,
  validateEndpointUrl,
  type SetupAction,
} from '../stripe/setup.js';

/**
 * `recon stripe …` talks to Stripe only: STRIPE_API_KEY (and STRIPE_API_BASE) are validated as
 * usual; the variables these commands never read get inert stand-ins.
 */
function stripeOnlyConfig(env: Record<string, string | undefined> = process.env): Config {
  return loadConfigFor(
    { stripeApi: true },
    { ...env, DATABASE_URL: 'postgres://unused@127.0.0.1:5432/unused_by_this_command' },
  );
}

/**
 * A Stripe error as one line an operator can act on; the SDK error stays its cause, so the CLI
 * exits 78 for a refused key and 69 for an unreachable Stripe. Stripe's own 401/403 messages
 * echo part of the key, so those name the variable instead.
 */
function stripeFailure(err: unknown, what: string): ReconError {
  const status = classifyStripeError(err);
  const line =
    status === 'invalid'
      ? 'Stripe rejects STRIPE_API_KEY (401: wrong, rolled or revoked)'
      : status === 'forbidden'
        ? 'STRIPE_API_KEY lacks a permission (403)'
        : (err as Error).message.split('\n')[0];
  return new ReconError(`${what}: ${line}`, { cause: err });
}

function describe(a: SetupAction, url: string): string {
  const label = roleLabel(a.role);
  const target = `${label} at ${url}${a.role === 'connect' ? ' (connect: true)' : ''}`;
  switch (a.kind) {
    case 'create':
      return `create the ${target}: ${REQUIRED_EVENTS.length} event types, API ${STRIPE_API_VERSION}`;
    case 'update':
      return `update ${label} ${a.endpoint.id}: ${a.changes.join('; ')}`;
    case 'unchanged':
      return `${label} ${a.endpoint.id} is already right`;
    case 'replace':
      return (
        `create a new ${target} on API ${STRIPE_API_VERSION}: ${a.endpoint.id} is on ` +
        `${a.endpoint.api_version ?? 'the account default'}, which Stripe cannot change`
      );
  }
}

async function setup(opts: { url: string; dryRun?: boolean }): Promise<void> {
  const url = validateEndpointUrl(opts.url);
  const config = stripeOnlyConfig();
  const stripe = createStripeClient(config);
  let endpoints: Stripe.WebhookEndpoint[];
  try {
    endpoints = await listWebhookEndpoints(stripe);
  } catch (err) {
    throw stripeFailure(err, 'could not list webhook endpoints');
  }
  const plan = planSetup(url, endpoints);
  for (const e of plan.extra) {
    console.log(
      `note: ${roleLabel(endpointRole(e) ?? 'platform')} ` +
        `${e.id} at ${e.url} is another one of the same kind (API ${e.api_version ?? 'default'}); ` +
        `left alone — delete it once it is no longer needed, or it delivers every event twice`,
    );
  }
  if (opts.dryRun) {
    for (const a of plan.actions) console.log(`would ${describe(a, url)}`);
    console.log('dry run: nothing changed');
    return;
  }
  let outcomes;
  try {
    outcomes = await applySetup(stripe, plan);
  } catch (err) {
    throw stripeFailure(err, 'could not set up the webhook endpoints');
  }
  const secrets: string[] = [];
  for (const o of outcomes) {
    const label = roleLabel(o.role);
    const head = `${label} ${o.endpoint.id} (${o.endpoint.url}${o.role === 'connect' ? ', connect: true' : ''})`;
    if (o.kind === 'create' || o.kind === 'replace') {
      console.log(`${head}: created`);
      console.log(`  signing secret: ${o.secret ?? '(not returned)'}`);
      console.log('  Stripe shows it only now: store it before you close this terminal');
      if (o.replaced) {
        console.log(
          `  it replaces ${o.replaced.id} (API ${o.replaced.api_version ?? 'default'}): keep that endpoint's ` +
            'secret in STRIPE_WEBHOOK_SECRET until the new one is deployed, then delete ' +
            `${o.replaced.id} (Dashboard, or stripe webhook_endpoints delete ${o.replaced.id})`,
        );
      }
      secrets.push(o.secret ?? `<${o.role} secret>`);
    } else {
      console.log(
        o.kind === 'update'
          ? `${head}: updated (${o.changes.join('; ')}); its existing secret is unchanged`
          : `${head}: already set up; its existing secret is unchanged`,
      );
      secrets.push(`<${o.role} endpoint's existing secret>`);
    }
  }
  console.log('');
  console.log('Set in the receiver’s environment (both secrets: the receiver tries each):');
  console.log(`STRIPE_WEBHOOK_SECRET=${secrets.join(',')}`);
}

async function check(opts: { url?: string }): Promise<void> {
  const url = opts.url === undefined ? undefined : validateEndpointUrl(opts.url);
  const config = stripeOnlyConfig();
  const stripe = createStripeClient(config, { maxNetworkRetries: 1 });
  const problems: string[] = [];
  const key = await checkStripeKey(stripe, config.STRIPE_API_KEY);
  console.log(`key: ${key.message}`);
  if (key.status === 'invalid' || key.status === 'unreachable') {
    // As every command: 78 for a key Stripe refuses, 69 for a Stripe that does not answer.
    process.exitCode = key.status === 'invalid' ? EXIT.config : EXIT.unavailable;
    console.log(
      `FAIL: ${key.status === 'invalid' ? 'replace STRIPE_API_KEY' : 'Stripe did not answer'}`,
    );
    return;
  }
  if (key.kind === 'restricted') {
    console.log('key: restricted (rk_): checking each permission recon needs');
  }
  const perms = await probePermissions(stripe);
  for (const p of perms) {
    if (p.status === 'ok') console.log(`permission ${p.permission}: ok`);
    else {
      console.log(`permission ${p.permission}: MISSING (${p.message ?? p.status})`);
      problems.push(`grant the key ${p.permission}`);
    }
  }
  let endpoints: Stripe.WebhookEndpoint[] | null = null;
  try {
    endpoints = await listWebhookEndpoints(stripe);
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    console.log(`webhook endpoints: MISSING — cannot list them: ${why}`);
    problems.push(`cannot list webhook endpoints: ${why}`);
  }
  if (endpoints) {
    for (const c of checkEndpoints(endpoints, url)) {
      const label = roleLabel(c.role);
      if (!c.problems.length) {
        console.log(
          `${label} ${c.endpoint!.id} (${c.endpoint!.url}): ok — ${REQUIRED_EVENTS.length} event types, API ${STRIPE_API_VERSION}`,
        );
        continue;
      }
      const name = c.endpoint ? `${label} ${c.endpoint.id} (${c.endpoint.url})` : label;
      for (const p of c.problems) {
        console.log(`${name}: MISSING — ${p}`);
        problems.push(`${label}: ${p}`);
      }
    }
  }
  if (config.STRIPE_WEBHOOK_SECRET.length < 2 && process.env.STRIPE_WEBHOOK_SECRET) {
    console.log(
      'note: STRIPE_WEBHOOK_SECRET holds one secret; the platform and Connect endpoints each sign with their own',
    );
  }
  if (problems.length) {
    process.exitCode = 1;
    console.log(
      `FAIL: ${problems.length} problem${problems.length === 1 ? '' : 's'}; ` +
        '`recon stripe setup --url https://<host>/webhooks/stripe` creates or fixes the endpoints',
    );
  } else {
    console.log(
      `OK: key ${maskStripeKey(config.STRIPE_API_KEY)} and both webhook endpoints are set up`,
    );
  }
}

export function registerStripeCommands(program: Command): void {
  const stripe = program
    .command('stripe')
    .description('set up and check what recon needs in Stripe (webhook endpoints, API key)');
  stripe
    .command('setup')
    .description(
      'create or update the platform and Connect webhook endpoints (found by URL and role); prints new signing secrets once',
    )
    .requiredOption(
      '--url <url>',
      'the receiver’s public URL, e.g. https://recon.example.com/webhooks/stripe',
    )
    .option('--dry-run', 'print what it would do; change nothing')
    .action(setup);
  stripe
    .command('check')
    .description(
      'check the API key (and a restricted key’s permissions) and both webhook endpoints; exit 1 if anything is missing',
    )
    .option('--url <url>', 'only endpoints at this URL')
    .action(check);
}
