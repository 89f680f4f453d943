-- The snapshot that decided a reversal's status, kept apart from the newest snapshot overall
-- (snapshot_at/snapshot_id): equal-rank final statuses (posted vs canceled, won vs lost)
-- tie-break by the newer status-bearing snapshot, and only these columns make that rule
-- independent of delivery order.

-- AlterTable
ALTER TABLE "credit_reversals" ADD COLUMN     "status_snapshot_at" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "status_snapshot_id" TEXT NOT NULL DEFAULT '';

-- AlterTable
ALTER TABLE "debit_reversals" ADD COLUMN     "status_snapshot_at" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "status_snapshot_id" TEXT NOT NULL DEFAULT '';

UPDATE "credit_reversals" SET "status_snapshot_at" = "snapshot_at", "status_snapshot_id" = "snapshot_id";
UPDATE "debit_reversals" SET "status_snapshot_at" = "snapshot_at", "status_snapshot_id" = "snapshot_id";
