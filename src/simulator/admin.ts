import { DAY_MS } from './clock.js';
import type { AdminHandler } from './server.js';
import type { ApiKeyState, ChaosOptions, Simulator } from './types.js';

function num(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : Number.NaN;
}

/**
 * `/_sim/*`: drive the simulator from another process (`recon demo`, a shell). No auth: the
 * simulator binds to loopback and holds nothing but test data.
 *
 *   GET  /_sim/health                      {ok}
 *   GET  /_sim/clock                       {now_ms, now}
 *   POST /_sim/advance {days|ms}           {now_ms, now}
 *   GET  /_sim/stats                       Simulator.stats()
 *   POST /_sim/webhook_endpoints {url, secret}
 *   GET  /_sim/webhook_endpoints           {data: [{url}, {id, url, connect, enabled_events, …}]}
 *   POST /_sim/api_key {state: active|revoked|forbidden, paths?}   401s / 403s on purpose
 *   GET  /_sim/api_key                     {state, paths?}
 *   POST /_sim/chaos {dropRate, duplicateRate, reorderWindow, delayMs}
 *   POST /_sim/idle                        waits for deliveries to settle, then stats
 *   GET  /_sim/accounts                    {connected: ['acct_…']}
 */
export function createAdmin(
  sim: () => Simulator,
  extra: {
    listEndpoints: () => Array<{ url: string }>;
    accounts: () => string[];
    apiKeyState: () => ApiKeyState;
  },
): AdminHandler {
  const clock = () => ({ now_ms: sim().now(), now: Math.floor(sim().now() / 1000) });
  const bad = (message: string) => ({
    status: 400,
    body: { error: { type: 'invalid_request_error', message } },
  });
  return async ({ method, path, body }) => {
    const route = `${method} ${path.replace(/\/$/, '')}`;
    switch (route) {
      case 'GET /health':
        return { status: 200, body: { ok: true } };
      case 'GET /clock':
        return { status: 200, body: clock() };
      case 'POST /advance': {
        const days = num(body.days);
        const ms = num(body.ms);
        const total = (days ?? 0) * DAY_MS + (ms ?? 0);
        if (!(total >= 0) || (days === undefined && ms === undefined)) {
          return bad('pass a non-negative `days` or `ms`');
        }
        await sim().advance(total);
        return { status: 200, body: clock() };
      }
      case 'GET /stats':
        return { status: 200, body: sim().stats() };
      case 'POST /webhook_endpoints': {
        const { url, secret } = body;
        if (typeof url !== 'string' || typeof secret !== 'string')
          return bad('pass `url` and `secret`');
        try {
          sim().addWebhookEndpoint({ url, secret });
        } catch (err) {
          return bad((err as Error).message);
        }
        return { status: 200, body: { url } };
      }
      case 'GET /webhook_endpoints':
        return { status: 200, body: { data: extra.listEndpoints() } };
      case 'POST /chaos': {
        const chaos: ChaosOptions = {};
        for (const k of ['dropRate', 'duplicateRate', 'reorderWindow', 'delayMs'] as const) {
          const v = num(body[k]);
          if (v !== undefined) chaos[k] = v;
        }
        try {
          sim().setChaos(chaos);
        } catch (err) {
          return bad((err as Error).message);
        }
        return { status: 200, body: chaos };
      }
      case 'GET /api_key':
        return { status: 200, body: extra.apiKeyState() };
      case 'POST /api_key': {
        const { state, paths } = body;
        if (state === 'active' || state === 'revoked') sim().setApiKeyState({ state });
        else if (state === 'forbidden') {
          const list = typeof paths === 'string' ? paths.split(',') : paths;
          if (
            list !== undefined &&
            !(Array.isArray(list) && list.every((p) => typeof p === 'string'))
          )
            return bad('`paths` must be a list of path prefixes');
          sim().setApiKeyState(list ? { state, paths: list as string[] } : { state });
        } else return bad('pass `state`: active, revoked or forbidden');
        return { status: 200, body: extra.apiKeyState() };
      }
      case 'POST /idle':
        await sim().idle();
        return { status: 200, body: sim().stats() };
      case 'GET /accounts':
        return { status: 200, body: { connected: extra.accounts() } };
      default:
        return {
          status: 404,
          body: { error: { type: 'invalid_request_error', message: `No admin route ${route}` } },
        };
    }
  };
}
