import type Stripe from 'stripe';
import type { Ctx, Route } from '../core.js';
import { noSuch, StripeApiError } from '../errors.js';
import { paginate, PAGE_PARAMS, type StripeList } from '../list.js';
import { matchesCreated, Params } from '../params.js';

/**
 * A connected account as the platform sees it. The simulator knows an account only by its id
 * (a `Stripe-Account` header or a transfer's `destination`), so the rest is a plain, fully
 * onboarded US custom account; `created` is when the simulator first saw it.
 */
function render(id: string, created: number): Stripe.Account {
  return {
    id,
    object: 'account',
    business_type: null,
    charges_enabled: true,
    country: 'US',
    created,
    default_currency: 'usd',
    details_submitted: true,
    email: null,
    metadata: {},
    payouts_enabled: true,
    type: 'custom',
  } as Stripe.Account;
}

/** Listing connected accounts is the platform's business; a connected account is refused. */
function platformOnly(ctx: Ctx): void {
  if (ctx.account) {
    throw new StripeApiError(
      403,
      'invalid_request_error',
      'Only a platform can list or retrieve its connected accounts.',
      'platform_account_required',
    );
  }
}

function list(ctx: Ctx): StripeList<Stripe.Account> {
  const p = new Params(ctx.params, [...PAGE_PARAMS, 'created']);
  platformOnly(ctx);
  const created = p.created();
  const rows = ctx.core.store
    .connectedAccountsSeen()
    .reverse()
    .filter((a) => matchesCreated(a.created, created));
  const page = paginate(rows, p, '/v1/accounts', 'account');
  return { ...page, data: page.data.map((a) => render(a.id, a.created)) };
}

function retrieve(ctx: Ctx): Stripe.Account {
  new Params(ctx.params, []);
  const id = ctx.path.id as string;
  // A connected account may retrieve itself; the platform any account it knows.
  if (ctx.account && ctx.account !== id) platformOnly(ctx);
  const seen = ctx.core.store.connectedAccountsSeen().find((a) => a.id === id);
  if (!seen) throw noSuch('account', id, 'account');
  return render(seen.id, seen.created);
}

export const accountRoutes: Route[] = [
  { method: 'GET', path: '/v1/accounts', handler: list },
  { method: 'GET', path: '/v1/accounts/:id', handler: retrieve },
];
