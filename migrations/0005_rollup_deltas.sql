-- Rollups from deltas (issue 13, "Write less per charge"): each TokenAccount's outbox aggregates a
-- flush's rows into one upsert per rollup key (worker/do/outbox.ts) instead of the per-row triggers
-- firing seven upserts for every billed operation. A flush is applied once: every delta statement
-- is conditional on rollup_flushes not yet holding the flush's sequence for the account, and the
-- last statement of the same batch (one transaction) records it.
CREATE TABLE `rollup_flushes` (
	`user_id` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL
);
--> statement-breakpoint
-- The rollups these kept are now written by the outbox's deltas; rows already counted stay counted.
DROP TRIGGER usage_records_rollup;
--> statement-breakpoint
DROP TRIGGER token_transactions_rollup;
--> statement-breakpoint
DROP TRIGGER usage_records_rollup_v2;
--> statement-breakpoint
DROP TRIGGER token_transactions_totals;
