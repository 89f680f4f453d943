import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../api/errors.js';
import { InboxUnavailableError } from '../errors.js';
import { webhookAckSeconds, webhookRequestsTotal, type WebhookOutcome } from '../metrics.js';
import type { Runtime } from '../runtime.js';
import { parseEventEnvelope } from '../inbox/envelope.js';
import { createInboxWriter, type InboxWriter, type InboxWriterOptions } from './inbox-writer.js';
import { verifyStripeSignature } from './signature.js';

export const WEBHOOK_PATH = '/webhooks/stripe';

export interface WebhookRouteOptions {
  /** Use this writer instead of creating one (the caller then owns closing it). */
  writer?: InboxWriter;
  /** Options of the writer created when none is given. */
  writerOptions?: InboxWriterOptions;
}

const okSchema = {
  type: 'object',
  properties: {
    received: { type: 'boolean' },
    duplicate: { type: 'boolean' },
    ignored: { type: 'boolean' },
  },
  required: ['received', 'duplicate'],
} as const;

/**
 * `POST /webhooks/stripe`. In its own encapsulated plugin so that its body parser (raw bytes for
 * every content type: the signature covers the exact body) and its body limit apply to it alone.
 *
 * 400: missing/invalid signature, timestamp outside the tolerance (past or future), a body that is
 * not a JSON Stripe event. 413: body over WEBHOOK_MAX_BODY_BYTES. 503: the inbox is unavailable
 * (Stripe retries). 200 once the event is durable in the inbox — also for duplicates and for event
 * types nobody handles (stored as `ignored`). Nothing here logs headers, bodies or secrets.
 */
/** Throws on bytes that are not UTF-8 instead of replacing them. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export async function registerWebhookRoute(
  app: FastifyInstance,
  rt: Runtime,
  opts: WebhookRouteOptions = {},
): Promise<void> {
  const writer = opts.writer ?? createInboxWriter(rt, opts.writerOptions);
  if (!opts.writer) app.addHook('onClose', async () => writer.close());

  const secrets = rt.config.STRIPE_WEBHOOK_SECRET;
  const toleranceSec = rt.config.STRIPE_WEBHOOK_TOLERANCE;
  const bodyLimit = rt.config.WEBHOOK_MAX_BODY_BYTES;
  const outcomes = new WeakMap<FastifyRequest, WebhookOutcome>();

  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => {
      done(null, body);
    });

    scope.addHook('onResponse', async (req, reply) => {
      const status = reply.statusCode;
      const outcome =
        outcomes.get(req) ??
        (status === 413
          ? 'too_large'
          : status === 503
            ? 'unavailable'
            : status >= 500
              ? 'error'
              : 'bad_payload');
      webhookRequestsTotal.inc({ outcome });
      if (status >= 200 && status < 300) webhookAckSeconds.observe(reply.elapsedTime / 1000);
    });

    const reject = (
      req: FastifyRequest,
      reply: FastifyReply,
      outcome: WebhookOutcome,
      reason: string,
      code: string,
    ) => {
      outcomes.set(req, outcome);
      req.log.warn({ reason }, 'webhook rejected');
      return sendError(reply, 400, 'invalid_request_error', reason, { code });
    };

    scope.post(
      WEBHOOK_PATH,
      // Public: Stripe has no operator token; the signature is its authentication.
      { bodyLimit, config: { auth: 'public' }, schema: { response: { 200: okSchema } } },
      async (req, reply) => {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if (body.length === 0) {
          return reject(
            req,
            reply,
            'bad_payload',
            'no webhook payload was provided',
            'missing_payload',
          );
        }
        // The signature must cover the exact bytes received. The SDK decodes the body as UTF-8
        // before its HMAC, and a lenient decoder maps different invalid byte sequences to the same
        // text, so bytes that are not strict UTF-8 are refused first; for strict UTF-8 the text
        // and the bytes are one and the same, and what is verified is exactly what is stored.
        let payload: string;
        try {
          payload = UTF8.decode(body);
        } catch {
          return reject(
            req,
            reply,
            'bad_payload',
            'the payload is not valid UTF-8',
            'invalid_event',
          );
        }
        const sig = verifyStripeSignature(
          payload,
          req.headers['stripe-signature'],
          secrets,
          toleranceSec,
        );
        if (!sig.ok) {
          const timestamp = sig.reason === 'stale' || sig.reason === 'future';
          return reject(
            req,
            reply,
            timestamp ? 'bad_timestamp' : 'bad_signature',
            sig.message,
            timestamp ? 'timestamp_outside_tolerance' : 'signature_verification_failed',
          );
        }
        const parsed = parseEventEnvelope(payload);
        if (!parsed.ok) return reject(req, reply, 'bad_payload', parsed.message, 'invalid_event');
        const ev = parsed.event;

        let duplicate: boolean;
        try {
          ({ duplicate } = await writer.write(ev));
        } catch (err) {
          outcomes.set(req, 'unavailable');
          if (err instanceof InboxUnavailableError) throw err; // the error handler answers 503
          throw new InboxUnavailableError('the inbox could not store the event', { cause: err });
        }
        const ignored = ev.status === 'ignored';
        outcomes.set(req, duplicate ? 'duplicate' : ignored ? 'ignored' : 'accepted');
        req.log.debug({ eventId: ev.id, type: ev.type, duplicate, ignored }, 'webhook stored');
        return reply
          .code(200)
          .send(ignored ? { received: true, duplicate, ignored } : { received: true, duplicate });
      },
    );
  });
}
