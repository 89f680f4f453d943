-- Acknowledgement audit trail (issues #9, #15): every acknowledge and un-acknowledge of a
-- mismatch, with when, the note and the operator token's name. The mismatch row keeps only the
-- current state (the first acknowledgement of this occurrence); this table keeps every action,
-- including a repeated acknowledge that changed nothing, so "who silenced this?" has an answer.
CREATE TABLE "mismatch_acknowledgements" (
    "id" BIGSERIAL NOT NULL,
    "mismatch_id" TEXT NOT NULL,
    -- acknowledge | unacknowledge
    "action" TEXT NOT NULL,
    "note" TEXT,
    "actor" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mismatch_acknowledgements_pkey" PRIMARY KEY ("id")
);

-- A mismatch's trail, in order.
CREATE INDEX "mismatch_acknowledgements_mismatch_id_id_idx" ON "mismatch_acknowledgements"("mismatch_id", "id");
