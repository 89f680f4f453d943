import type Stripe from 'stripe';
import { DAY_MS } from '../clock.js';
import type { Ctx, Route } from '../core.js';
import { invalidParam, noSuch } from '../errors.js';
import { renderEvent } from '../events.js';
import { paginate, PAGE_PARAMS, type StripeList } from '../list.js';
import { matchesCreated, Params } from '../params.js';

/** `GET /v1/events` only reaches back 30 days. */
const WINDOW_MS = 30 * DAY_MS;
const MAX_TYPES = 20;

/** `transfer.*` style patterns: `*` matches any run of characters. */
function typeMatcher(pattern: string): (type: string) => boolean {
  if (!pattern.includes('*')) return (t) => t === pattern;
  const escaped = pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`^${escaped.join('.*')}$`);
  return (t) => re.test(t);
}

function list(ctx: Ctx): StripeList<Stripe.Event> {
  const p = new Params(ctx.params, [
    ...PAGE_PARAMS,
    'created',
    'type',
    'types',
    'delivery_success',
  ]);
  const created = p.created();
  const type = p.str('type');
  const types = p.strings('types');
  if (type !== undefined && types !== undefined) {
    throw invalidParam(
      'You may only specify one of these parameters: type, types.',
      'types',
      'parameters_exclusive',
    );
  }
  if (types && types.length > MAX_TYPES) {
    throw invalidParam(`You may pass at most ${MAX_TYPES} types.`, 'types');
  }
  const delivered = p.bool('delivery_success');
  const matchers = (types ?? (type !== undefined ? [type] : [])).map(typeMatcher);
  const since = Math.floor((ctx.core.clock.now() - WINDOW_MS) / 1000);
  const rows = ctx.acc.events
    .newestFirst()
    .filter(
      ({ event, pending }) =>
        event.created >= since &&
        matchesCreated(event.created, created) &&
        (matchers.length === 0 || matchers.some((m) => m(event.type))) &&
        (delivered === undefined || (pending === 0) === delivered),
    );
  const page = paginate(rows, p, '/v1/events', 'event');
  return { ...page, data: page.data.map((s) => renderEvent(s)) };
}

function retrieve(ctx: Ctx): Stripe.Event {
  new Params(ctx.params, []);
  const id = ctx.path.id as string;
  const stored = ctx.acc.events.get(id);
  if (!stored) throw noSuch('event', id, 'id');
  return renderEvent(stored);
}

export const eventRoutes: Route[] = [
  { method: 'GET', path: '/v1/events', handler: list },
  { method: 'GET', path: '/v1/events/:id', handler: retrieve },
];
