import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import Stripe from 'stripe';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import type { Runtime } from '../../src/runtime.js';
import type { HandledEventType } from '../../src/domain/event-types.js';
import { randomQueuePrefix, redisUrl } from './db.js';

/** Signed-event helpers shared by every test that feeds Stripe events in. */

export const TEST_WEBHOOK_SECRET = 'whsec_test_current_0123456789abcdef';
/** The second secret of a rotation (the one being rolled out, or the old one still active). */
export const TEST_WEBHOOK_SECRET_ROTATED = 'whsec_test_rotated_fedcba9876543210';
export const TEST_OPERATOR_TOKEN = 'op_test_token_0123456789abcdef';
export const TEST_STRIPE_API_KEY = 'sk_test_recon0123456789abcdef';
/** The API version the SDK pins; events we make are rendered in it. */
export const TEST_API_VERSION: string = Stripe.API_VERSION;

/** A Stripe-looking id: prefix + 24 random letters and digits. */
export function stripeId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(24);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return `${prefix}_${s}`;
}

export interface StripeEventEnvelope<T = Record<string, unknown>> {
  id: string;
  object: 'event';
  account?: string;
  api_version: string | null;
  created: number;
  data: { object: T; previous_attributes?: Record<string, unknown> };
  livemode: boolean;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface MakeEventOptions {
  id?: string;
  /** Unix seconds. @defaultValue now */
  created?: number;
  /** Connect account the event is about (only set on connected-account events). */
  account?: string | null;
  livemode?: boolean;
  previousAttributes?: Record<string, unknown>;
  apiVersion?: string | null;
  request?: { id: string | null; idempotency_key: string | null };
}

/** A full snapshot-event envelope, as Stripe delivers it. */
export function makeEvent<T extends object>(
  type: HandledEventType | (string & {}),
  object: T,
  opts: MakeEventOptions = {},
): StripeEventEnvelope<T> {
  const ev: StripeEventEnvelope<T> = {
    id: opts.id ?? stripeId('evt'),
    object: 'event',
    api_version: opts.apiVersion === undefined ? TEST_API_VERSION : opts.apiVersion,
    created: opts.created ?? Math.floor(Date.now() / 1000),
    data: { object },
    livemode: opts.livemode ?? false,
    pending_webhooks: 1,
    request: opts.request ?? { id: null, idempotency_key: null },
    type,
  };
  if (opts.account) ev.account = opts.account;
  if (opts.previousAttributes) ev.data.previous_attributes = opts.previousAttributes;
  return ev;
}

export interface SignedRequest {
  /** The exact body that was signed: send it byte for byte. */
  payload: string;
  headers: { 'content-type': string; 'stripe-signature': string };
}

/**
 * Signs an event (or any raw string) like Stripe does, with the SDK's test helper.
 * `timestamp` is unix seconds (default now): pass an old or future one to test the tolerance.
 */
export function signedRequest(
  event: object | string,
  secret: string = TEST_WEBHOOK_SECRET,
  opts: { timestamp?: number } = {},
): SignedRequest {
  const payload = typeof event === 'string' ? event : JSON.stringify(event, null, 2);
  const header = Stripe.webhooks.generateTestHeaderString({
    payload,
    secret,
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
  });
  return { payload, headers: { 'content-type': 'application/json', 'stripe-signature': header } };
}

/** POSTs a signed event to `/webhooks/stripe` through `app.inject`. */
export function injectEvent(
  app: FastifyInstance,
  event: object | string,
  opts: { secret?: string; timestamp?: number; headers?: Record<string, string> } = {},
): Promise<LightMyRequestResponse> {
  const { payload, headers } = signedRequest(event, opts.secret, { timestamp: opts.timestamp });
  return app.inject({
    method: 'POST',
    url: '/webhooks/stripe',
    payload,
    headers: { ...headers, ...opts.headers },
  });
}

/**
 * A Config for tests, through the real loadConfig. Secrets are the TEST_* constants (the webhook
 * secret list holds both rotation secrets), Redis is the test Redis, the queue prefix is random.
 * DATABASE_URL should come from createTestDatabase(); without one it points at a closed port, so
 * an accidental use fails fast instead of touching a real database.
 */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/not_configured',
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: randomQueuePrefix(),
    STRIPE_WEBHOOK_SECRET: `${TEST_WEBHOOK_SECRET},${TEST_WEBHOOK_SECRET_ROTATED}`,
    STRIPE_API_KEY: TEST_STRIPE_API_KEY,
    OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
    LOG_LEVEL: 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    ...overrides,
  });
}

export interface CapturedLog {
  log: Logger;
  /** Everything written so far, one JSON line per entry. */
  text(): string;
  lines(): Array<Record<string, unknown>>;
}

/** A pino logger writing to memory, for asserting on what gets logged (and what never does). */
export function captureLog(level = 'trace'): CapturedLog {
  const chunks: string[] = [];
  const log = createLogger({ level }, { write: (s: string) => void chunks.push(s) });
  return {
    log,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/stripe');

/**
 * A realistic event from test/fixtures/stripe/<type>.json, with a fresh id (and `created`) unless
 * told otherwise, so tests never collide. Objects are Stripe's own fixture shapes.
 */
export function loadFixtureEvent(
  type: HandledEventType,
  opts: { keepId?: boolean; created?: number } = {},
): StripeEventEnvelope {
  const ev = JSON.parse(
    readFileSync(join(FIXTURES_DIR, `${type}.json`), 'utf8'),
  ) as StripeEventEnvelope;
  if (!opts.keepId) ev.id = stripeId('evt');
  if (opts.created !== undefined) ev.created = opts.created;
  return ev;
}

/** The product's app, as the receiver tests use it. */
export async function buildTestApp(rt: Runtime): Promise<FastifyInstance> {
  return buildApp(rt);
}
