import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Core } from './core.js';
import { StripeApiError, unauthorized } from './errors.js';
import { DEFAULT_API_VERSION, type RequestInfo } from './events.js';
import { canonical, parseForm, type FormObject } from './form.js';
import { IdempotencyStore } from './idempotency.js';
import type { IdGenerator } from './prng.js';
import type { Router } from './router.js';
import type { AccountId, ApiKeyState, SimulatorLogger } from './types.js';

const MAX_BODY_BYTES = 1_000_000;

export interface AdminHandler {
  (req: { method: string; path: string; body: Record<string, unknown> }): Promise<{
    status: number;
    body: unknown;
  }>;
}

export interface ServerDeps {
  core: Core;
  router: Router;
  apiKey: string;
  /** Revoked or restricted on purpose (`/_sim/api_key`). */
  apiKeyState: () => ApiKeyState;
  requestIds: IdGenerator;
  admin: AdminHandler;
  log: SimulatorLogger | null;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function mask(key: string): string {
  return key.length <= 12 ? '***' : `${key.slice(0, 8)}${'*'.repeat(8)}${key.slice(-4)}`;
}

/** Bearer (what the SDK sends) or Basic with the key as user name (what `curl -u` sends). */
function presentedKey(req: IncomingMessage): string | undefined {
  const auth = header(req, 'authorization');
  if (!auth) return undefined;
  const [scheme, value = ''] = auth.split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic') {
    return Buffer.from(value, 'base64').toString('utf8').split(':')[0];
  }
  return undefined;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/** The HTTP face of the simulator: Stripe's `/v1` API plus the `/_sim` admin surface. */
export function createSimServer(deps: ServerDeps): Server {
  const idempotency = new IdempotencyStore();

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string) {
    const raw = await readBody(req);
    let body: Record<string, unknown> = {};
    if (raw) {
      const type = header(req, 'content-type') ?? '';
      body = type.includes('json')
        ? (JSON.parse(raw) as Record<string, unknown>)
        : { ...parseForm(raw) };
    }
    const out = await deps.admin({ method: req.method ?? 'GET', path, body });
    send(res, out.status, JSON.stringify(out.body, null, 2));
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL) {
    const method = (req.method ?? 'GET').toUpperCase();
    const requestId = deps.requestIds.next('req');
    const apiVersion = header(req, 'stripe-version') ?? null;
    const baseHeaders: Record<string, string> = {
      'request-id': requestId,
      'stripe-version': apiVersion ?? DEFAULT_API_VERSION,
    };
    const fail = (err: StripeApiError, extra: Record<string, string> = {}) =>
      send(res, err.status, JSON.stringify(err.toJSON(), null, 2), { ...baseHeaders, ...extra });

    const key = presentedKey(req);
    if (!key) {
      return fail(
        unauthorized(
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ),
      );
    }
    if (key !== deps.apiKey) return fail(unauthorized(`Invalid API Key provided: ${mask(key)}`));
    const keyState = deps.apiKeyState();
    if (keyState.state === 'revoked') {
      return fail(unauthorized(`Expired API Key provided: ${mask(key)}`));
    }
    if (
      keyState.state === 'forbidden' &&
      (!keyState.paths || keyState.paths.some((p) => url.pathname.startsWith(p)))
    ) {
      return fail(
        new StripeApiError(
          403,
          'invalid_request_error',
          `The provided key '${mask(key)}' does not have the required permissions for this endpoint (${method} ${url.pathname}).`,
          'secret_key_required',
          undefined,
          true,
        ),
      );
    }

    const accountHeader = header(req, 'stripe-account');
    if (accountHeader !== undefined && !accountHeader.startsWith('acct_')) {
      return fail(
        new StripeApiError(
          403,
          'invalid_request_error',
          `The provided key '${mask(key)}' does not have access to account '${accountHeader}' (or that account does not exist).`,
          'account_invalid',
        ),
      );
    }
    const account: AccountId = accountHeader ?? null;

    const raw = await readBody(req);
    const params: FormObject =
      method === 'POST' ? parseForm(raw) : parseForm(url.search.replace(/^\?/, ''));
    const match = deps.router.match(method, url.pathname);
    if (match.kind === 'not_found') {
      return fail(
        new StripeApiError(
          404,
          'invalid_request_error',
          `Unrecognized request URL (${method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        ),
      );
    }

    const idemKey = method === 'POST' ? header(req, 'idempotency-key') : undefined;
    if (idemKey) baseHeaders['idempotency-key'] = idemKey;
    const fingerprint = `${method} ${url.pathname} ${canonical(params)}`;
    if (idemKey) {
      try {
        const hit = idempotency.lookup(account, idemKey, fingerprint);
        if (hit) {
          return send(res, hit.status, hit.body, {
            ...baseHeaders,
            'idempotent-replayed': 'true',
            'original-request': hit.requestId,
          });
        }
      } catch (err) {
        if (err instanceof StripeApiError) return fail(err);
        throw err;
      }
    }

    const request: RequestInfo = { id: requestId, idempotencyKey: idemKey ?? null, apiVersion };
    let status = 200;
    let body: string;
    let save = true;
    try {
      const result = match.handler({
        core: deps.core,
        account,
        acc: deps.core.store.account(account),
        params,
        path: match.path,
        request,
      });
      body = JSON.stringify(result, null, 2);
    } catch (err) {
      if (!(err instanceof StripeApiError)) throw err;
      status = err.status;
      body = JSON.stringify(err.toJSON(), null, 2);
      // Stripe saves a result only once the endpoint started executing.
      save = !err.beforeExecution;
    }
    if (idemKey && save)
      idempotency.save(account, idemKey, { fingerprint, status, body, requestId });
    deps.log?.info({ method, path: url.pathname, status, account, requestId }, 'sim: request');
    send(res, status, body, baseHeaders);
  }

  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const work = url.pathname.startsWith('/_sim/')
      ? handleAdmin(req, res, url.pathname.slice('/_sim'.length))
      : handleApi(req, res, url);
    work.catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      if (err instanceof BodyTooLarge) {
        return send(
          res,
          413,
          JSON.stringify({
            error: { type: 'invalid_request_error', message: 'Request body too large.' },
          }),
        );
      }
      if (err instanceof SyntaxError) {
        return send(
          res,
          400,
          JSON.stringify({
            error: { type: 'invalid_request_error', message: `Invalid JSON: ${err.message}` },
          }),
        );
      }
      deps.log?.warn({ err: (err as Error).message, path: url.pathname }, 'sim: internal error');
      send(
        res,
        500,
        JSON.stringify({
          error: { type: 'api_error', message: 'An unknown error occurred in the simulator.' },
        }),
      );
    });
  });
}
