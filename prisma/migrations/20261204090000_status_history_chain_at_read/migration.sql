-- Issue #11: `from_status` (the previous observed status of the object, by lifecycle rank, then
-- first observation) is computed when history is read (projections/history.ts), not stored.
-- Keeping it stored meant recomputing the whole chain of every object whose history changed, in
-- every projection transaction: the most expensive statement of the write path at 100 k events
-- (pg_stat_statements, docs/performance.md). Reading it costs a window over an object's few rows.
ALTER TABLE "status_history" DROP COLUMN "from_status";
