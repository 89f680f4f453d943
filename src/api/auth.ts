import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendError } from './errors.js';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Every /api/* route needs `Authorization: Bearer $OPERATOR_TOKEN` (constant-time compare). */
export function installOperatorAuth(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/')) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m || !same(m[1]!.trim(), token)) {
      return sendError(
        reply,
        401,
        'invalid_request_error',
        'missing or invalid operator token (Authorization: Bearer …)',
      );
    }
  });
}
