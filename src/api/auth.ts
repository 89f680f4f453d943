import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { sendError } from './errors.js';

/** Who called: the name of the token they presented, and what it may do. */
export interface Operator {
  name: string;
  access: 'read' | 'write';
}

/**
 * Who may call a route, declared on the route itself (`config: { auth }`):
 *   - `public`: anyone (the webhook, which verifies its own signature; liveness and readiness);
 *   - `metrics`: anyone, unless METRICS_TOKEN is set, then that token (or an operator's);
 *   - anything else, including a route that says nothing and the not-found handler: an operator
 *     token. A route added later is protected without anyone remembering to.
 */
export type RouteAuth = 'public' | 'metrics' | 'operator';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    /** Set by the auth hook on operator routes; null on public ones. */
    operator: Operator | null;
  }
}

/** Every route of an app and who may call it, recorded as routes are added (tests walk them). */
const routeTable = new WeakMap<
  FastifyInstance,
  Array<{ method: string; url: string; auth: RouteAuth }>
>();

export function registeredRoutes(app: FastifyInstance) {
  return routeTable.get(app) ?? [];
}

interface TokenEntry extends Operator {
  token: Buffer;
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The configured tokens: OPERATOR_TOKENS (`name:token[:read]`) plus OPERATOR_TOKEN as `operator`. */
export function operatorTokens(config: Pick<Config, 'OPERATOR_TOKEN' | 'OPERATOR_TOKENS'>) {
  const out: Array<Operator & { token: string }> = [...config.OPERATOR_TOKENS];
  if (config.OPERATOR_TOKEN)
    out.push({ name: 'operator', token: config.OPERATOR_TOKEN, access: 'write' });
  return out;
}

function bearer(req: FastifyRequest): Buffer | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m ? Buffer.from(m[1]!) : null;
}

/**
 * Authentication decided by the MATCHED ROUTE's declaration, never by looking at the URL: the
 * router decodes percent-escapes, dot segments and absolute-form request lines its own way, and
 * any second opinion about "is this an API path" can be talked out of it.
 */
export function installOperatorAuth(
  app: FastifyInstance,
  config: Pick<Config, 'OPERATOR_TOKEN' | 'OPERATOR_TOKENS' | 'METRICS_TOKEN'>,
): void {
  const tokens: TokenEntry[] = operatorTokens(config).map((t) => ({
    name: t.name,
    access: t.access,
    token: Buffer.from(t.token),
  }));
  const metricsToken = config.METRICS_TOKEN ? Buffer.from(config.METRICS_TOKEN) : null;
  // Every token is compared (no early exit), so the time taken says nothing about which matched.
  const find = (presented: Buffer): Operator | null => {
    let found: Operator | null = null;
    for (const t of tokens) if (same(presented, t.token) && !found) found = t;
    return found && { name: found.name, access: found.access };
  };

  const routes: Array<{ method: string; url: string; auth: RouteAuth }> = [];
  routeTable.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat())
      routes.push({ method, url: r.url, auth: r.config?.auth ?? 'operator' });
  });
  app.decorateRequest('operator', null);
  app.addHook('onRequest', async (req, reply) => {
    const auth: RouteAuth = req.routeOptions.config?.auth ?? 'operator';
    if (auth === 'public') return;
    const presented = bearer(req);
    if (auth === 'metrics') {
      if (!metricsToken) return;
      if (presented && (same(presented, metricsToken) || find(presented))) return;
      return sendError(reply, 401, 'invalid_request_error', 'missing or invalid metrics token');
    }
    const op = presented && find(presented);
    if (!op) {
      return sendError(
        reply,
        401,
        'invalid_request_error',
        'missing or invalid operator token (Authorization: Bearer …)',
      );
    }
    if (op.access === 'read' && req.method !== 'GET' && req.method !== 'HEAD') {
      return sendError(
        reply,
        403,
        'invalid_request_error',
        `token "${op.name}" is read-only; this request needs a token with write access`,
      );
    }
    req.operator = op;
  });
}
