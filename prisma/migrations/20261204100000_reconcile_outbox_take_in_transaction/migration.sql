-- Issue #11: the reconcile worker takes due units with DELETE … RETURNING (SKIP LOCKED) inside the
-- reconcile's own transaction, so a unit leaves the outbox exactly when its verdicts commit and a
-- crash gives it straight back. The lease (`claimed_until`, a separate claim transaction per batch)
-- and the version check at settle time (`version`) are no longer needed: a writer touching a taken
-- unit waits on its row lock until the reconcile commits, then inserts it again.
ALTER TABLE "reconcile_outbox" DROP COLUMN "claimed_until", DROP COLUMN "version";
