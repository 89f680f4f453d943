/**
 * The sweep benchmark's data (set-based, generate_series) and its baseline query.
 *
 * Shape: T transfers with 2 reversals each (300 + 400 of 1,000 reversed), plus credit reversals
 * (posted) and debit reversals (won) so that the reversals total R; one ledger entry per reversal.
 * Then 0.5 % of R is planted drift, spread over the mismatch kinds.
 */
export function seedSql(reversals: number): string[] {
  const transfers = Math.floor((reversals * 0.3) / 1); // 60 % of reversals are transfer reversals
  const credits = Math.floor((reversals - 2 * transfers) / 2);
  const debits = reversals - 2 * transfers - credits;
  const drift = Math.round(reversals * 0.005);
  const d = (share: number) => Math.max(1, Math.round(drift * share));
  const raw = (kind: string) =>
    `jsonb_build_object('id', ${kind}, 'object', 'x', 'metadata', jsonb_build_object('order_id', 'order_' || g, 'note', 'bench row ' || g), 'livemode', false)`;
  return [
    `SET synchronous_commit = off`,
    `INSERT INTO transfers (id, account, livemode, amount, amount_reversed, currency, destination, reversed, metadata, created, snapshot_at, snapshot_id, raw)
     SELECT 'tr_b' || g, 'acct_bench', false, 1000, 700, 'usd', 'acct_bench', false, '{}', 1763800000, 1763800000, 'evt_b' || g, ${raw(`'tr_b' || g`)}
       FROM generate_series(1, ${transfers}) g`,
    `INSERT INTO transfer_reversals (id, transfer, account, livemode, amount, currency, metadata, created, status, snapshot_at, snapshot_id, raw)
     SELECT 'trr_b' || g || '_' || k, 'tr_b' || g, 'acct_bench', false, CASE k WHEN 1 THEN 300 ELSE 400 END, 'usd', '{}', 1763800000, 'succeeded', 1763800000, 'evt_b' || g, ${raw(`'trr_b' || g`)}
       FROM generate_series(1, ${transfers}) g, generate_series(1, 2) k`,
    `INSERT INTO credit_reversals (id, account, livemode, amount, currency, financial_account, received_credit, network, status_raw, status, status_rank, metadata, created, snapshot_at, snapshot_id, raw)
     SELECT 'credrev_b' || g, 'acct_bench', false, 1000, 'usd', 'fa_bench', 'rc_b' || g, 'ach', 'posted', 'posted', 2, '{}', 1763800000, 1763800000, 'evt_c' || g, ${raw(`'credrev_b' || g`)}
       FROM generate_series(1, ${credits}) g`,
    `INSERT INTO debit_reversals (id, account, livemode, amount, currency, financial_account, received_debit, network, status_raw, resolution_raw, status, status_rank, metadata, created, snapshot_at, snapshot_id, raw)
     SELECT 'debrev_b' || g, 'acct_bench', false, 1000, 'usd', 'fa_bench', 'rd_b' || g, 'ach', 'completed', 'won', 'won', 3, '{}', 1763800000, 1763800000, 'evt_d' || g, ${raw(`'debrev_b' || g`)}
       FROM generate_series(1, ${debits}) g`,
    `INSERT INTO ledger_entries (id, kind, stripe_id, parent_id, amount, currency, expected_status, account, occurred_at, metadata, created_at, updated_at)
     SELECT 'le_' || r.id, r.kind, r.id, r.parent, r.amount, 'usd', r.expected, 'acct_bench', '2025-11-22T00:00:00Z', jsonb_build_object('batch', 'bench'), '2025-11-22T00:00:00Z', '2025-11-22T00:00:00Z'
       FROM (SELECT id, 'transfer_reversal' AS kind, transfer AS parent, amount, NULL AS expected FROM transfer_reversals
             UNION ALL SELECT id, 'credit_reversal', received_credit, amount, 'posted' FROM credit_reversals
             UNION ALL SELECT id, 'debit_reversal', received_debit, amount, 'won' FROM debit_reversals) r`,
    // Drift, 0.5 % of the reversals in all:
    // 30 % amount mismatches,
    `UPDATE ledger_entries SET amount = amount + 1 WHERE id IN (SELECT 'le_credrev_b' || g FROM generate_series(1, ${d(0.3)}) g)`,
    // 20 % reversals the ledger never booked (their entries are deleted) …
    `DELETE FROM ledger_entries WHERE id IN (SELECT 'le_trr_b' || g || '_1' FROM generate_series(1, ${d(0.2)}) g)`,
    // … and as many entries for reversals Stripe does not have (keeps the ledger at R rows),
    `INSERT INTO ledger_entries (id, kind, stripe_id, parent_id, amount, currency, expected_status, account, occurred_at, created_at, updated_at)
     SELECT 'le_ghost' || g, 'debit_reversal', 'debrev_ghost' || g, 'rd_ghost' || g, 1000, 'usd', 'won', 'acct_bench', '2025-11-22T00:00:00Z', '2025-11-22T00:00:00Z', '2025-11-22T00:00:00Z'
       FROM generate_series(1, ${d(0.2)}) g`,
    // 20 % debit reversals lost while the ledger expects them won,
    `UPDATE debit_reversals SET status = 'lost', resolution_raw = 'lost' WHERE id IN (SELECT 'debrev_b' || g FROM generate_series(1, ${d(0.2)}) g)`,
    // 10 % transfers whose amount_reversed disagrees with their reversals,
    `UPDATE transfers SET amount_reversed = 800 WHERE id IN (SELECT 'tr_b' || (g + 100000) FROM generate_series(1, ${d(0.1)}) g)`,
    // 20 % credit reversals still processing (not final: always re-examined).
    `UPDATE credit_reversals SET status = 'processing', status_raw = 'processing', status_rank = 1 WHERE id IN (SELECT 'credrev_b' || (g + 100000) FROM generate_series(1, ${d(0.2)}) g)`,
    `VACUUM ANALYZE`,
  ];
}

/** The baseline: one FULL OUTER JOIN of the projected reversals and the ledger, differing rows only. */
export const BASELINE_SQL = `
SELECT r.id AS reversal_id, e.id AS entry_id, r.amount AS stripe_amount, e.amount AS ledger_amount,
       r.status, e.expected_status
  FROM (SELECT id, amount, currency, status FROM transfer_reversals
        UNION ALL SELECT id, amount, currency, status FROM credit_reversals
        UNION ALL SELECT id, amount, currency, status FROM debit_reversals) r
  FULL OUTER JOIN ledger_entries e ON e.stripe_id = r.id
 WHERE r.id IS NULL OR e.id IS NULL OR r.amount <> e.amount OR r.currency <> e.currency
    OR (e.expected_status IS NOT NULL AND e.expected_status <> r.status)`;
