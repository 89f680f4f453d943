import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Pool } from './pool.js';

export type { PrismaClient };

/** Prisma shares the raw-SQL pool, so one process holds one set of connections. */
export function createPrisma(pool: Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(pool) });
}
