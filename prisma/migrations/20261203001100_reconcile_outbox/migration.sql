-- The durable reconcile outbox (issue #11). A unit (transfer / received credit / received debit
-- id) is written here in the SAME transaction that changed its projections or ledger entries, so
-- the intent to reconcile it commits or rolls back with the change itself: nothing Redis loses can
-- leave a changed unit unreconciled. BullMQ only carries the wake-up.
--
--   due_at         when the unit may be reconciled: the first touch + the debounce; later touches
--                  keep the earlier time, so a burst reconciles once, soon, and sees all of it.
--   version        the touching transaction's id; a drain deletes the row only if no transaction
--                  touched it again since the drain claimed it (else it is reconciled once more).
--   claimed_until  a drain's lease; a crashed drain's units are claimable again after it.
--   attempts, last_error   units whose reconcile failed back off; kept, never dropped.
CREATE TABLE "reconcile_outbox" (
    "unit_key" TEXT NOT NULL,
    "due_at" TIMESTAMPTZ(3) NOT NULL,
    "version" BIGINT NOT NULL,
    "claimed_until" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reconcile_outbox_pkey" PRIMARY KEY ("unit_key")
)
-- A queue table: every row is inserted, updated and deleted within seconds, so dead tuples pile
-- up at a rate autovacuum's defaults (20 % of a table that is nearly always empty) never trigger
-- on, and every claim would wade through them. Vacuum it after every thousand dead rows, without
-- throttling; leave room on each page for the touch and claim updates.
WITH (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 1000
);

-- The drain's claim: due units, oldest first.
CREATE INDEX "reconcile_outbox_due_at_idx" ON "reconcile_outbox"("due_at");
