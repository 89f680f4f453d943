import { createRuntime, type Runtime } from '../../../src/runtime.js';
import type { Pool } from '../../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { testConfig } from '../../support/events.js';

/**
 * Shared by the ledger / reconciliation tests: a runtime on a fresh database and a random queue
 * prefix, with a zero grace period unless overridden.
 */
export async function createTestRuntime(
  overrides: Record<string, string | undefined> = {},
): Promise<{ rt: Runtime; db: TestDatabase; close(): Promise<void> }> {
  const db = await createTestDatabase();
  const rt = createRuntime(
    testConfig({ DATABASE_URL: db.url, RECON_GRACE_PERIOD: '0s', ...overrides }),
  );
  return {
    rt,
    db,
    async close() {
      await rt.queues.reconcile.obliterate({ force: true }).catch(() => {});
      await rt.close();
      await db.close();
    },
  };
}

const SEC = (ms: number) => Math.floor(ms / 1_000);

/** Projection rows written directly (the projection worker is tested on its own). */
export async function insertCreditReversal(
  pool: Pool,
  r: {
    id: string;
    receivedCredit: string;
    amount: number;
    status: 'processing' | 'posted' | 'canceled';
    createdMs: number;
    currency?: string;
    account?: string | null;
    metadata?: Record<string, string>;
  },
): Promise<void> {
  const rank = r.status === 'processing' ? 1 : 3;
  await pool.query(
    `INSERT INTO credit_reversals (id, account, livemode, amount, currency, financial_account, received_credit,
       network, status_raw, status, status_rank, metadata, created, snapshot_at, snapshot_id, raw)
     VALUES ($1, $2, false, $3, $4, 'fa_1', $5, 'ach', $6, $6, $7, $8, $9, $10, 'evt_x', '{}')
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, status_raw = EXCLUDED.status_raw,
       status_rank = EXCLUDED.status_rank, amount = EXCLUDED.amount`,
    [
      r.id,
      r.account ?? null,
      r.amount,
      r.currency ?? 'usd',
      r.receivedCredit,
      r.status,
      rank,
      JSON.stringify(r.metadata ?? {}),
      SEC(r.createdMs),
      r.createdMs,
    ],
  );
}

export async function insertTransfer(
  pool: Pool,
  t: {
    id: string;
    amount: number;
    amountReversed: number;
    createdMs: number;
    currency?: string;
    account?: string | null;
  },
): Promise<void> {
  await pool.query(
    `INSERT INTO transfers (id, account, livemode, amount, amount_reversed, currency, reversed, metadata, created,
       snapshot_at, snapshot_id, raw)
     VALUES ($1, $2, false, $3, $4, $5, $6, '{}', $7, $8, 'evt_x', '{}')
     ON CONFLICT (id) DO UPDATE SET amount_reversed = EXCLUDED.amount_reversed`,
    [
      t.id,
      t.account ?? null,
      t.amount,
      t.amountReversed,
      t.currency ?? 'usd',
      t.amountReversed >= t.amount,
      SEC(t.createdMs),
      t.createdMs,
    ],
  );
}

export async function insertTransferReversal(
  pool: Pool,
  r: {
    id: string;
    transfer: string;
    amount: number;
    createdMs: number;
    currency?: string;
    account?: string | null;
    metadata?: Record<string, string>;
  },
): Promise<void> {
  await pool.query(
    `INSERT INTO transfer_reversals (id, transfer, account, livemode, amount, currency, metadata, created, status,
       snapshot_at, snapshot_id, raw)
     VALUES ($1, $2, $3, false, $4, $5, $6, $7, 'succeeded', $8, 'evt_x', '{}')`,
    [
      r.id,
      r.transfer,
      r.account ?? null,
      r.amount,
      r.currency ?? 'usd',
      JSON.stringify(r.metadata ?? {}),
      SEC(r.createdMs),
      r.createdMs,
    ],
  );
}

export const AUTH = { authorization: 'Bearer op_test_token_0123456789abcdef' };
