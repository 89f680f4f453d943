-- Confirm before raising (issue #12): before `missing_in_stripe` is raised for a ledger entry
-- naming a Stripe object we never projected, the lookup worker asks Stripe for it. One row per
-- thing to ask about — a reversal id, or a parent whose reversals are listed — and Connect
-- account ('' for the platform), shared by every entry naming it. Durable, so a lookup waiting
-- out its grace period or for Stripe to come back survives restarts; claimed with SKIP LOCKED, so
-- any number of workers share the table.
CREATE TABLE "stripe_lookups" (
    "target" TEXT NOT NULL,
    "account" TEXT NOT NULL DEFAULT '',
    "type" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "parent_id" TEXT,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "due_at" TIMESTAMPTZ(3) NOT NULL,
    "needed_since" TIMESTAMPTZ(3) NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "checked_at" TIMESTAMPTZ(3),
    "absent_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stripe_lookups_pkey" PRIMARY KEY ("target", "account")
);

-- The worker's claim: pending rows in due order.
CREATE INDEX "stripe_lookups_status_due_at_idx" ON "stripe_lookups"("status", "due_at");
