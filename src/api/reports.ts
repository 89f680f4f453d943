import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { renderReport } from '../reports/render.js';
import { REPORT_FORMATS } from '../reports/schema.js';
import type { Runtime } from '../runtime.js';

const Query = z.strictObject({ format: z.enum(REPORT_FORMATS).default('json') });

/**
 * `GET /api/reports/latest` and `GET /api/reports/:id`, `?format=json|csv|md|html`. The JSON is
 * the stored body itself (it validates against ReportBody); the others are rendered from it.
 */
export async function registerReportRoutes(
  app: FastifyInstance,
  rt: Pick<Runtime, 'prisma'>,
): Promise<void> {
  app.get<{ Params: { id: string } }>('/api/reports/:id', async (req, reply) => {
    const q = Query.safeParse(req.query ?? {});
    if (!q.success) {
      throw new ValidationError(`invalid format: must be one of ${REPORT_FORMATS.join(', ')}`, [
        { param: 'format', message: `must be one of ${REPORT_FORMATS.join(', ')}` },
      ]);
    }
    const r = await renderReport(rt, req.params.id, q.data.format);
    reply.header('content-type', r.contentType);
    if (q.data.format === 'csv')
      reply.header('content-disposition', `attachment; filename="${r.filename}"`);
    if (q.data.format === 'html') {
      // The page carries no script and loads nothing: say so to the browser.
      reply.header(
        'content-security-policy',
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
      );
    }
    return reply.send(r.content);
  });
}
