-- Issue #11: the inbox's `type` and `created` indexes served no query (the receiver, relay,
-- worker and replay reach rows by id, or pending rows through stripe_events_pending_idx), yet
-- every receiver insert and every projection's status update paid an entry in each. The status
-- update cannot be HOT (it takes the row out of the pending index), so each index is one more
-- write per event. Ad-hoc queries by type still work; they scan.
DROP INDEX "stripe_events_type_idx";
DROP INDEX "stripe_events_created_idx";
