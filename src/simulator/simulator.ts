import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { createAdmin } from './admin.js';
import { DAY_MS, SimClock } from './clock.js';
import type { Core, Route } from './core.js';
import { EventBus } from './events.js';
import { IdGenerator, Prng } from './prng.js';
import { creditReversalRoutes, settleCreditReversal } from './resources/credit-reversals.js';
import { debitReversalRoutes, settleDebitReversal } from './resources/debit-reversals.js';
import { accountRoutes } from './resources/accounts.js';
import { eventRoutes } from './resources/events.js';
import { financialAccountRoutes } from './resources/financial-accounts.js';
import { receivedCreditRoutes } from './resources/received-credits.js';
import { receivedDebitRoutes } from './resources/received-debits.js';
import { transferRoutes } from './resources/transfers.js';
import { endpointWants, webhookEndpointRoutes } from './resources/webhook-endpoints.js';
import { Router } from './router.js';
import { resolveRules } from './rules.js';
import { createSimServer } from './server.js';
import { Store } from './store.js';
import type { ApiKeyState, Simulator, SimulatorOptions } from './types.js';
import { WebhookDispatcher } from './webhooks.js';

export const DEFAULT_API_KEY = 'sk_test_simulator';

const ROUTES: Route[] = [
  ...transferRoutes,
  ...financialAccountRoutes,
  ...receivedCreditRoutes,
  ...receivedDebitRoutes,
  ...creditReversalRoutes,
  ...debitReversalRoutes,
  ...eventRoutes,
  ...webhookEndpointRoutes,
  ...accountRoutes,
];

/** Starts a simulator listening on `host:port` (a random port by default). */
export async function createSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1';
  const apiKey = opts.apiKey ?? DEFAULT_API_KEY;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  const log = opts.logger || null;
  const webhook = opts.webhook ?? {};
  // Separate streams: ids stay the same whatever chaos or request count does.
  const clock = new SimClock(opts.startTime ?? Date.now());
  const store = new Store(() => clock.nowSeconds());
  const ids = new IdGenerator(new Prng(seed));
  const bus = new EventBus(clock, ids, store);
  const core: Core = { clock, ids, store, bus, rules: resolveRules(opts.rules), plans: new Map() };
  const dispatcher = new WebhookDispatcher(
    {
      maxAttempts: Math.max(1, webhook.maxAttempts ?? 4),
      retryBaseMs: Math.max(0, webhook.retryBaseMs ?? 100),
      concurrency: Math.max(1, webhook.concurrency ?? 1),
      timeoutMs: Math.max(1, webhook.timeoutMs ?? 5_000),
    },
    new Prng(seed ^ 0x5bd1e995),
    log,
  );
  // Webhook endpoints made through the API belong to the platform (Connect ones included).
  dispatcher.routeApiEndpoints((event) =>
    store
      .account(null)
      .webhookEndpoints.newestFirst()
      .reverse()
      .filter((s) => endpointWants(s, event))
      .map((s) => ({ url: s.endpoint.url, secret: s.secret })),
  );
  bus.onEvent((stored) => dispatcher.publish(stored));

  /** Applies every due transition in time order, each stamped with its own due time. */
  function applyDue(targetMs: number): void {
    const due = [...core.plans.values()]
      .filter((p) => p.fate !== 'stuck' && p.dueAtMs <= targetMs)
      .sort((a, b) => a.dueAtMs - b.dueAtMs);
    for (const plan of due) {
      clock.set(plan.dueAtMs);
      core.plans.delete(plan.id);
      if (plan.kind === 'credit_reversal') settleCreditReversal(core, plan);
      else settleDebitReversal(core, plan);
    }
  }

  const clients = new Map<string, Stripe>();
  let keyState: ApiKeyState = { state: 'active' };
  const server = createSimServer({
    core,
    router: new Router(ROUTES),
    apiKey,
    apiKeyState: () => keyState,
    requestIds: new IdGenerator(new Prng(seed ^ 0x9e3779b9)),
    admin: createAdmin(() => sim, {
      listEndpoints: () => [
        ...dispatcher.listEndpoints(),
        // Made through /v1/webhook_endpoints: `connect` is not on Stripe's object, so shown here.
        ...store
          .account(null)
          .webhookEndpoints.newestFirst()
          .reverse()
          .map((s) => ({
            id: s.id,
            url: s.endpoint.url,
            connect: s.connect,
            enabled_events: s.endpoint.enabled_events,
            api_version: s.endpoint.api_version,
            status: s.endpoint.status,
          })),
      ],
      apiKeyState: () => keyState,
      accounts: () => store.connectedAccounts(),
    }),
    log,
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  // `sim` is only read by admin requests, which arrive after it exists.
  const sim: Simulator = {
    url,
    host,
    port,
    apiKey,
    now: () => clock.now(),
    async advance(ms: number) {
      if (!(ms >= 0) || !Number.isFinite(ms))
        throw new RangeError('advance(ms) needs a finite ms >= 0');
      const target = clock.now() + ms;
      applyDue(target);
      clock.set(target);
    },
    advanceDays(days: number) {
      return sim.advance(days * DAY_MS);
    },
    addWebhookEndpoint: (e) => dispatcher.addEndpoint(e),
    setChaos: (c) => dispatcher.setChaos(c),
    setApiKeyState(s) {
      keyState = structuredClone(s);
    },
    idle: () => dispatcher.idle(),
    stripe(o = {}) {
      const key = o.stripeAccount ?? '';
      let client = clients.get(key);
      if (!client) {
        client = new Stripe(apiKey, {
          host,
          port,
          protocol: 'http',
          maxNetworkRetries: 0,
          telemetry: false,
          ...(o.stripeAccount ? { stripeAccount: o.stripeAccount } : {}),
        });
        clients.set(key, client);
      }
      return client;
    },
    stats: () => ({ ...dispatcher.stats }),
    async close() {
      dispatcher.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return sim;
}
