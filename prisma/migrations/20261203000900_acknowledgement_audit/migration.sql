-- Acknowledgement is an audit trail (issue #9): every acknowledge and un-acknowledge is a row of
-- its own (who — the operator token's name —, when, note), and acknowledging an acknowledged
-- mismatch no longer overwrites the first acknowledgement.
ALTER TABLE "mismatches" ADD COLUMN "acknowledged_by" TEXT;

CREATE TABLE "mismatch_acknowledgements" (
    "id" BIGSERIAL NOT NULL,
    "mismatch_id" TEXT NOT NULL,
    -- acknowledge | unacknowledge
    "action" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "note" TEXT,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mismatch_acknowledgements_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "mismatch_acknowledgements_mismatch_id_idx" ON "mismatch_acknowledgements"("mismatch_id");
