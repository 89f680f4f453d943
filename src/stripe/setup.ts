import type Stripe from 'stripe';
import { ReconError } from '../errors.js';
import { HANDLED_EVENT_TYPES } from '../domain/event-types.js';
import { classifyStripeError } from './key.js';
import { STRIPE_API_VERSION } from './client.js';

/**
 * The two webhook endpoints recon needs: the platform's own events (transfers, the platform's
 * Treasury) and, as a Connect endpoint, its connected accounts' events (their Treasury). Each has
 * its own signing secret; the receiver takes both in STRIPE_WEBHOOK_SECRET, comma-separated.
 */
export type EndpointRole = 'platform' | 'connect';
export const ENDPOINT_ROLES: readonly EndpointRole[] = ['platform', 'connect'];

/**
 * Stripe's webhook endpoint object does not say whether it is a Connect endpoint (`connect` is a
 * create parameter only, in stripe-node 23.1.0's types), so recon tags the endpoints it creates
 * with this metadata key (`platform` or `connect`) and finds them again by URL and tag.
 */
export const ENDPOINT_ROLE_METADATA = 'recon_endpoint';

export const REQUIRED_EVENTS: readonly string[] = [...HANDLED_EVENT_TYPES].sort();

export function roleLabel(role: EndpointRole): string {
  return role === 'connect' ? 'Connect endpoint' : 'platform endpoint';
}

/** The role an endpoint was made for: Stripe's `connect` if it ever shows one, else recon's tag. */
export function endpointRole(e: Stripe.WebhookEndpoint): EndpointRole | null {
  const connect = (e as { connect?: unknown }).connect;
  if (typeof connect === 'boolean') return connect ? 'connect' : 'platform';
  const tag = e.metadata?.[ENDPOINT_ROLE_METADATA];
  return tag === 'platform' || tag === 'connect' ? tag : null;
}

/** Needed event types the endpoint does not get (`*` gets them all). */
export function missingEvents(e: Stripe.WebhookEndpoint): string[] {
  if (e.enabled_events.includes('*')) return [];
  return REQUIRED_EVENTS.filter((t) => !e.enabled_events.includes(t));
}

export async function listWebhookEndpoints(stripe: Stripe): Promise<Stripe.WebhookEndpoint[]> {
  return stripe.webhookEndpoints.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 });
}

export type SetupAction =
  | { kind: 'create'; role: EndpointRole }
  | { kind: 'update'; role: EndpointRole; endpoint: Stripe.WebhookEndpoint; changes: string[] }
  | { kind: 'unchanged'; role: EndpointRole; endpoint: Stripe.WebhookEndpoint }
  /** Its api_version cannot be changed: a new endpoint replaces it (new secret), the old stays. */
  | { kind: 'replace'; role: EndpointRole; endpoint: Stripe.WebhookEndpoint };

export interface SetupPlan {
  url: string;
  actions: SetupAction[];
  /** Other endpoints with this URL and this role (duplicates): reported, left alone. */
  extra: Stripe.WebhookEndpoint[];
}

export function validateEndpointUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ReconError(`--url must be an absolute URL, got '${url}'`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new ReconError(`--url must be http(s), got '${url}'`);
  }
  return url;
}

/**
 * What `recon stripe setup --url` would do. Endpoints at this URL are matched by role; one at
 * this URL without a role tag makes the plan fail (recon cannot tell which it is, and a second
 * endpoint beside it would deliver every event twice).
 */
export function planSetup(url: string, endpoints: Stripe.WebhookEndpoint[]): SetupPlan {
  const atUrl = endpoints.filter((e) => e.url === url);
  const untagged = atUrl.filter((e) => endpointRole(e) === null);
  if (untagged.length) {
    const ids = untagged.map((e) => e.id).join(', ');
    throw new ReconError(
      `webhook endpoint ${ids} at ${url} has no metadata ${ENDPOINT_ROLE_METADATA}, so recon cannot tell ` +
        `whether it is the platform or the Connect endpoint: set its metadata ${ENDPOINT_ROLE_METADATA} to ` +
        `"platform" or "connect" (Dashboard → Developers → Webhooks, or ` +
        `stripe webhook_endpoints update ${untagged[0]!.id} -d "metadata[${ENDPOINT_ROLE_METADATA}]=connect"), ` +
        `or delete it; then run setup again`,
    );
  }
  const actions: SetupAction[] = [];
  const extra: Stripe.WebhookEndpoint[] = [];
  for (const role of ENDPOINT_ROLES) {
    const mine = atUrl.filter((e) => endpointRole(e) === role);
    // Prefer one on the pinned version, then an enabled one; Stripe lists newest first.
    const chosen =
      mine.find((e) => e.api_version === STRIPE_API_VERSION && e.status === 'enabled') ??
      mine.find((e) => e.api_version === STRIPE_API_VERSION) ??
      mine[0];
    extra.push(...mine.filter((e) => e !== chosen));
    if (!chosen) {
      actions.push({ kind: 'create', role });
      continue;
    }
    if (chosen.api_version !== STRIPE_API_VERSION) {
      actions.push({ kind: 'replace', role, endpoint: chosen });
      continue;
    }
    const changes: string[] = [];
    const missing = missingEvents(chosen);
    if (missing.length) changes.push(`enabled_events +${missing.join(', +')}`);
    if (chosen.status !== 'enabled') changes.push('enable it');
    actions.push(
      changes.length
        ? { kind: 'update', role, endpoint: chosen, changes }
        : { kind: 'unchanged', role, endpoint: chosen },
    );
  }
  return { url, actions, extra };
}

export interface SetupOutcome {
  role: EndpointRole;
  kind: SetupAction['kind'];
  endpoint: Stripe.WebhookEndpoint;
  /** Only for a created (or replacing) endpoint: Stripe shows it once. */
  secret: string | null;
  changes: string[];
  /** For `replace`: the endpoint it replaces, left in place. */
  replaced?: Stripe.WebhookEndpoint;
}

function createParams(url: string, role: EndpointRole): Stripe.WebhookEndpointCreateParams {
  return {
    url,
    enabled_events: [...REQUIRED_EVENTS] as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
    api_version: STRIPE_API_VERSION,
    connect: role === 'connect',
    description:
      role === 'connect'
        ? 'recon: connected accounts’ transfer and Treasury events'
        : 'recon: platform transfer and Treasury events',
    metadata: { [ENDPOINT_ROLE_METADATA]: role },
  };
}

/** Carries the plan out. Each step is idempotent: running setup again finds what it made. */
export async function applySetup(stripe: Stripe, plan: SetupPlan): Promise<SetupOutcome[]> {
  const out: SetupOutcome[] = [];
  for (const a of plan.actions) {
    switch (a.kind) {
      case 'create':
      case 'replace': {
        const created = await stripe.webhookEndpoints.create(createParams(plan.url, a.role));
        out.push({
          role: a.role,
          kind: a.kind,
          endpoint: created,
          secret: created.secret ?? null,
          changes: [],
          ...(a.kind === 'replace' ? { replaced: a.endpoint } : {}),
        });
        break;
      }
      case 'update': {
        const events = a.endpoint.enabled_events.includes('*')
          ? a.endpoint.enabled_events
          : [...new Set([...a.endpoint.enabled_events, ...REQUIRED_EVENTS])];
        const updated = await stripe.webhookEndpoints.update(a.endpoint.id, {
          enabled_events: events as Stripe.WebhookEndpointUpdateParams.EnabledEvent[],
          ...(a.endpoint.status !== 'enabled' ? { disabled: false } : {}),
        });
        out.push({
          role: a.role,
          kind: 'update',
          endpoint: updated,
          secret: null,
          changes: a.changes,
        });
        break;
      }
      case 'unchanged':
        out.push({
          role: a.role,
          kind: 'unchanged',
          endpoint: a.endpoint,
          secret: null,
          changes: [],
        });
        break;
    }
  }
  return out;
}

/** What `recon stripe check` finds wrong with one role's endpoint; empty when it is right. */
export interface EndpointCheck {
  role: EndpointRole;
  endpoint: Stripe.WebhookEndpoint | null;
  problems: string[];
}

export function checkEndpoints(endpoints: Stripe.WebhookEndpoint[], url?: string): EndpointCheck[] {
  return ENDPOINT_ROLES.map((role) => {
    const mine = endpoints.filter(
      (e) => endpointRole(e) === role && (url === undefined || e.url === url),
    );
    const best =
      mine.find((e) => e.api_version === STRIPE_API_VERSION && e.status === 'enabled') ??
      mine.find((e) => e.api_version === STRIPE_API_VERSION) ??
      mine[0] ??
      null;
    if (!best) {
      return {
        role,
        endpoint: null,
        problems: [
          `no ${roleLabel(role)}${url ? ` at ${url}` : ''} (none tagged metadata ${ENDPOINT_ROLE_METADATA}=${role})`,
        ],
      };
    }
    const problems: string[] = [];
    if (best.status !== 'enabled') problems.push(`it is ${best.status}`);
    if (best.api_version !== STRIPE_API_VERSION) {
      problems.push(
        `its api_version is ${best.api_version ?? 'the account default'}, recon pins ${STRIPE_API_VERSION}`,
      );
    }
    const missing = missingEvents(best);
    if (missing.length) problems.push(`it does not get ${missing.join(', ')}`);
    return { role, endpoint: best, problems };
  });
}

/** The reads recon makes, each probed once; a 403 names the permission a restricted key lacks. */
export const PERMISSION_PROBES: ReadonlyArray<{
  permission: string;
  read: (stripe: Stripe) => Promise<unknown>;
  /** An answer that is fine (e.g. an account without Treasury answers 400 to its list). */
  tolerate?: (err: unknown) => boolean;
}> = [
  { permission: 'Transfers: Read', read: (s) => s.transfers.list({ limit: 1 }) },
  { permission: 'Events: Read', read: (s) => s.events.list({ limit: 1 }) },
  { permission: 'Connect (Accounts): Read', read: (s) => s.accounts.list({ limit: 1 }) },
  {
    permission: 'Treasury (Financial Accounts and their flows): Read',
    read: (s) => s.treasury.financialAccounts.list({ limit: 1 }),
    tolerate: (err) => (err as { type?: string }).type === 'StripeInvalidRequestError',
  },
  { permission: 'Webhook Endpoints: Read', read: (s) => s.webhookEndpoints.list({ limit: 1 }) },
];

export interface PermissionResult {
  permission: string;
  status: 'ok' | 'invalid' | 'forbidden' | 'unreachable';
  message?: string;
}

export async function probePermissions(stripe: Stripe): Promise<PermissionResult[]> {
  const out: PermissionResult[] = [];
  for (const p of PERMISSION_PROBES) {
    try {
      await p.read(stripe);
      out.push({ permission: p.permission, status: 'ok' });
    } catch (err) {
      if (p.tolerate?.(err)) out.push({ permission: p.permission, status: 'ok' });
      else {
        const status = classifyStripeError(err);
        out.push({
          permission: p.permission,
          status,
          // Stripe's 401/403 messages echo part of the key.
          message:
            status === 'forbidden'
              ? 'Stripe refused it (403)'
              : status === 'invalid'
                ? 'Stripe rejects the key (401)'
                : (err as Error).message.split('\n')[0],
        });
      }
    }
  }
  return out;
}
