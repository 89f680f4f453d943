import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { closeSweepQueue } from '../sweep/queue.js';
import { startSweep } from '../sweep/start.js';
import { getSweepRun, latestSweepRuns, sweepRunJson } from '../sweep/store.js';
import { invalidInput } from './validation.js';

export const StartBody = z.strictObject({
  /** A connected account (`acct_…`) or `platform`; absent: every account. */
  account: z
    .string()
    .regex(/^(acct_[A-Za-z0-9]+|platform)$/, 'must be acct_… or platform')
    .optional(),
  /** Recover events created since (ISO-8601 or unix seconds). */
  since: z
    .union([
      z.iso.datetime({ offset: true }),
      // Up to the year 9999: a larger number is no time at all (and no Date can hold it).
      z.number().int().positive().max(253_402_300_799, 'must be unix seconds before year 10000'),
    ])
    .transform((v) => (typeof v === 'number' ? new Date(v * 1000) : new Date(v)))
    .refine((d) => Number.isFinite(d.getTime()), 'is not a valid time')
    .optional(),
});

/**
 * `POST /api/reconcile` starts a sweep (202 with the run; while one is queued or running, that one
 * is returned instead); `GET /api/reconcile/runs/:id` shows its progress; `GET /api/reconcile/runs`
 * the recent ones.
 */
export async function registerReconcileRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.addHook('onClose', async () => closeSweepQueue(rt));

  app.post('/api/reconcile', async (req, reply) => {
    const parsed = StartBody.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'body');
    const run = await startSweep(rt, {
      trigger: 'api',
      account: parsed.data.account ?? null,
      since: parsed.data.since ?? null,
    });
    return reply
      .code(202)
      .header('location', `/api/reconcile/runs/${run.id}`)
      .send(sweepRunJson(run));
  });

  app.get<{ Params: { id: string } }>('/api/reconcile/runs/:id', async (req) => {
    const run = await getSweepRun(rt.prisma, req.params.id);
    if (!run) throw new NotFoundError(`No such sweep run: '${req.params.id}'`);
    return sweepRunJson(run);
  });

  app.get('/api/reconcile/runs', async () => {
    const runs = await latestSweepRuns(rt.prisma, 20);
    return {
      object: 'list',
      url: '/api/reconcile/runs',
      has_more: false,
      data: runs.map(sweepRunJson),
    };
  });
}
