import type Stripe from 'stripe';
import type { Ctx, Route } from '../core.js';
import { invalidParam, noSuch } from '../errors.js';
import { paginate, PAGE_PARAMS, type StripeList } from '../list.js';
import { matchesCreated, Params } from '../params.js';
import type { AccountStore } from '../store.js';

/** Features a test-mode FinancialAccount gets at once; requests for others are ignored. */
const ACTIVE_FEATURES = [
  'financial_addresses.aba',
  'inbound_transfers.ach',
  'intra_stripe_flows',
  'outbound_payments.ach',
  'outbound_transfers.ach',
] as const;

export function findFinancialAccount(acc: AccountStore, id: string, param = 'financial_account') {
  const fa = acc.financialAccounts.get(id);
  if (!fa) throw noSuch('financial_account', id, param);
  return fa;
}

type Bucket = 'cash' | 'inbound_pending' | 'outbound_pending';

/** Keeps `balance` honest as money moves, so the sweep can compare it too. */
export function moveBalance(
  fa: Stripe.Treasury.FinancialAccount,
  currency: string,
  delta: Partial<Record<Bucket, number>>,
): void {
  for (const [bucket, amount] of Object.entries(delta) as Array<[Bucket, number]>) {
    const b = fa.balance[bucket];
    b[currency] = (b[currency] ?? 0) + amount;
  }
}

function create(ctx: Ctx): Stripe.Treasury.FinancialAccount {
  const p = new Params(ctx.params, [
    'supported_currencies',
    'features',
    'metadata',
    'nickname',
    'platform_restrictions',
  ]);
  const currencies = p.strings('supported_currencies');
  if (!currencies || currencies.length === 0) {
    throw invalidParam(
      'Missing required param: supported_currencies.',
      'supported_currencies',
      'parameter_missing',
    );
  }
  p.object('features');
  p.object('platform_restrictions');
  const supported = currencies.map((c) => c.toLowerCase());
  const zero = () => Object.fromEntries(supported.map((c) => [c, 0]));
  const { core } = ctx;
  const fa = {
    id: core.ids.next('fa'),
    object: 'treasury.financial_account',
    active_features: [...ACTIVE_FEATURES],
    balance: { cash: zero(), inbound_pending: zero(), outbound_pending: zero() },
    country: 'US',
    created: core.clock.nowSeconds(),
    financial_addresses: [],
    livemode: false,
    metadata: p.metadataForCreate(),
    nickname: p.str('nickname') ?? null,
    pending_features: [],
    platform_restrictions: null,
    restricted_features: [],
    status: 'open',
    status_details: { closed: null },
    supported_currencies: supported,
  } as unknown as Stripe.Treasury.FinancialAccount;
  ctx.acc.financialAccounts.insert(fa);
  core.bus.emit({
    account: ctx.account,
    type: 'treasury.financial_account.created',
    object: fa,
    request: ctx.request,
  });
  return structuredClone(fa);
}

function list(ctx: Ctx): StripeList<Stripe.Treasury.FinancialAccount> {
  const p = new Params(ctx.params, [...PAGE_PARAMS, 'created', 'status']);
  const created = p.created();
  const status = p.oneOf('status', ['open', 'closed'] as const);
  const rows = ctx.acc.financialAccounts
    .newestFirst()
    .filter(
      (f) => matchesCreated(f.created, created) && (status === undefined || f.status === status),
    );
  const page = paginate(rows, p, '/v1/treasury/financial_accounts', 'financial_account');
  return { ...page, data: page.data.map((f) => structuredClone(f)) };
}

function retrieve(ctx: Ctx): Stripe.Treasury.FinancialAccount {
  new Params(ctx.params, []);
  return structuredClone(findFinancialAccount(ctx.acc, ctx.path.id as string, 'financial_account'));
}

export const financialAccountRoutes: Route[] = [
  { method: 'POST', path: '/v1/treasury/financial_accounts', handler: create },
  { method: 'GET', path: '/v1/treasury/financial_accounts', handler: list },
  { method: 'GET', path: '/v1/treasury/financial_accounts/:id', handler: retrieve },
];
