import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { InboxUnavailableError, NotFoundError, ValidationError } from '../errors.js';

/** Stripe-style error body: `{ error: { type, code?, message, param? } }`. */
export function sendError(
  reply: FastifyReply,
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown> = {},
) {
  return reply.code(status).send({ error: { type, message, ...extra } });
}

/** One handler maps error classes to status codes; 5xx details never reach the client. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof InboxUnavailableError) {
      // Not an error line per request: during an outage that is hundreds a second. The inbox
      // writer logs the outage itself, once when it starts and each minute while it lasts.
      req.log.debug({ reason: err.message }, 'inbox unavailable');
      return sendError(reply, 503, 'api_error', 'temporarily unavailable, retry later');
    }
    if (err instanceof NotFoundError) {
      return sendError(reply, 404, 'invalid_request_error', err.message, {
        code: 'resource_missing',
      });
    }
    if (err instanceof ValidationError) {
      return sendError(reply, 400, 'invalid_request_error', err.message, { details: err.details });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
      return sendError(reply, 413, 'invalid_request_error', 'request body too large');
    }
    if (err.validation) {
      return sendError(reply, 400, 'invalid_request_error', err.message);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, 'invalid_request_error', err.message);
    }
    req.log.error({ err }, 'unhandled error');
    return sendError(reply, 500, 'api_error', 'internal error');
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      404,
      'invalid_request_error',
      `Unrecognized request URL (${req.method}: ${req.url.split('?')[0]})`,
    ),
  );
}
