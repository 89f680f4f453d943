import type Stripe from 'stripe';
import type { Ctx, Route } from '../core.js';
import { invalidParam, invalidRequest, noSuch } from '../errors.js';
import { paginate, PAGE_PARAMS, type StripeList } from '../list.js';
import { applyMetadata, Params } from '../params.js';
import type { StoredWebhookEndpoint } from '../store.js';

/** Stripe allows 16 webhook endpoints per account in test mode. */
export const MAX_WEBHOOK_ENDPOINTS = 16;

/** `*`, or a dotted event type such as `treasury.credit_reversal.posted`. */
const EVENT_TYPE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
/** `2026-10-28.endive`, `2024-06-20`: the shapes of Stripe's API versions. */
const API_VERSION = /^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/;

function url(p: Params, required: boolean): string | undefined {
  const v = p.str('url', { required });
  if (v === undefined) return undefined;
  let ok = false;
  try {
    const u = new URL(v);
    ok = u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    ok = false;
  }
  if (!ok) throw invalidParam('Invalid URL: must be a valid http(s) URL.', 'url', 'url_invalid');
  return v;
}

function enabledEvents(p: Params, required: boolean): string[] | undefined {
  const events = p.strings('enabled_events');
  if (events === undefined || events.length === 0) {
    if (!required && events === undefined) return undefined;
    throw invalidParam(
      'Missing required param: enabled_events.',
      'enabled_events',
      'parameter_missing',
    );
  }
  events.forEach((e, i) => {
    if (e !== '*' && !EVENT_TYPE.test(e)) {
      throw invalidParam(`Invalid enabled_events[${i}]: ${e}`, `enabled_events[${i}]`);
    }
  });
  return [...new Set(events)];
}

function find(ctx: Ctx): StoredWebhookEndpoint {
  const id = ctx.path.id as string;
  const stored = ctx.acc.webhookEndpoints.get(id);
  if (!stored) throw noSuch('webhook_endpoint', id, 'id');
  return stored;
}

function create(ctx: Ctx): Stripe.WebhookEndpoint {
  const p = new Params(ctx.params, [
    'url',
    'enabled_events',
    'api_version',
    'connect',
    'description',
    'metadata',
  ]);
  const endpointUrl = url(p, true) as string;
  const events = enabledEvents(p, true) as string[];
  const apiVersion = p.str('api_version');
  if (apiVersion !== undefined && !API_VERSION.test(apiVersion)) {
    throw invalidParam(`Invalid api_version: ${apiVersion}`, 'api_version');
  }
  const connect = p.bool('connect') ?? false;
  const description = p.str('description', { allowEmpty: true }) || null;
  const metadata = p.metadataForCreate();
  if (ctx.acc.webhookEndpoints.size >= MAX_WEBHOOK_ENDPOINTS) {
    throw invalidRequest(
      `You have reached the maximum of ${MAX_WEBHOOK_ENDPOINTS} test webhook endpoints.`,
      { code: 'webhook_endpoint_limit_reached' },
    );
  }
  const { core } = ctx;
  const id = core.ids.next('we');
  const secret = core.ids.next('whsec');
  const endpoint = {
    id,
    object: 'webhook_endpoint',
    api_version: apiVersion ?? null,
    application: null,
    created: core.clock.nowSeconds(),
    description,
    enabled_events: events,
    livemode: false,
    metadata,
    status: 'enabled',
    url: endpointUrl,
  } as Stripe.WebhookEndpoint;
  ctx.acc.webhookEndpoints.insert({ id, endpoint, connect, secret });
  // The signing secret is shown once, in the create response only.
  return { ...structuredClone(endpoint), secret };
}

function list(ctx: Ctx): StripeList<Stripe.WebhookEndpoint> {
  const p = new Params(ctx.params, [...PAGE_PARAMS]);
  const page = paginate(
    ctx.acc.webhookEndpoints.newestFirst(),
    p,
    '/v1/webhook_endpoints',
    'webhook_endpoint',
  );
  return { ...page, data: page.data.map((s) => structuredClone(s.endpoint)) };
}

function retrieve(ctx: Ctx): Stripe.WebhookEndpoint {
  new Params(ctx.params, []);
  return structuredClone(find(ctx).endpoint);
}

/** url, enabled_events, description, metadata and `disabled`; api_version and connect are fixed. */
function update(ctx: Ctx): Stripe.WebhookEndpoint {
  const stored = find(ctx);
  const p = new Params(ctx.params, [
    'url',
    'enabled_events',
    'description',
    'disabled',
    'metadata',
  ]);
  const e = stored.endpoint;
  const endpointUrl = url(p, false);
  const events = enabledEvents(p, false);
  const disabled = p.bool('disabled');
  const patch = p.metadataPatch();
  const description = p.has('description')
    ? p.str('description', { allowEmpty: true }) || null
    : undefined;
  if (endpointUrl !== undefined) e.url = endpointUrl;
  if (events !== undefined) e.enabled_events = events;
  if (disabled !== undefined) e.status = disabled ? 'disabled' : 'enabled';
  if (description !== undefined) e.description = description;
  if (patch) e.metadata = applyMetadata(e.metadata, patch);
  return structuredClone(e);
}

function del(ctx: Ctx): Stripe.DeletedWebhookEndpoint {
  new Params(ctx.params, []);
  const stored = find(ctx);
  ctx.acc.webhookEndpoints.delete(stored.id);
  return { id: stored.id, object: 'webhook_endpoint', deleted: true };
}

/**
 * Whether an endpoint made through the API is owed `event`, as Stripe decides: it is enabled,
 * lists the type (or `*`), and is a Connect endpoint exactly when the event is a connected
 * account's (`event.account` set).
 */
export function endpointWants(stored: StoredWebhookEndpoint, event: Stripe.Event): boolean {
  const e = stored.endpoint;
  if (e.status !== 'enabled') return false;
  if (stored.connect !== Boolean(event.account)) return false;
  return e.enabled_events.includes('*') || e.enabled_events.includes(event.type);
}

export const webhookEndpointRoutes: Route[] = [
  { method: 'POST', path: '/v1/webhook_endpoints', handler: create },
  { method: 'GET', path: '/v1/webhook_endpoints', handler: list },
  { method: 'GET', path: '/v1/webhook_endpoints/:id', handler: retrieve },
  { method: 'POST', path: '/v1/webhook_endpoints/:id', handler: update },
  { method: 'DELETE', path: '/v1/webhook_endpoints/:id', handler: del },
];
