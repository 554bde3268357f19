CREATE TABLE `account_usage_daily` (
	`user_id` text NOT NULL,
	`day` text NOT NULL,
	`model` text NOT NULL,
	`operation` text NOT NULL,
	`api_key_id` text DEFAULT '' NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`actual_tokens` integer DEFAULT 0 NOT NULL,
	`billable_tokens` integer DEFAULT 0 NOT NULL,
	`cached_input_tokens` integer DEFAULT 0 NOT NULL,
	`reasoning_tokens` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`user_id`, `day`, `model`, `operation`, `api_key_id`)
) WITHOUT ROWID;
--> statement-breakpoint
-- Filled once from what D1 holds now: the raw usage_records still in the window and the per-user
-- sums of the days the archive pruned (user_usage_daily, dropped below). From here on the outbox
-- sends deltas (worker/do/outbox.ts) and no usage_records row. Written by hand after drizzle-kit.
INSERT INTO `account_usage_daily` (user_id, day, model, operation, api_key_id, requests, actual_tokens, billable_tokens, cached_input_tokens, reasoning_tokens)
SELECT user_id, day, model, operation, api_key_id, SUM(requests), SUM(actual_tokens), SUM(billable_tokens), SUM(cached_input_tokens), SUM(reasoning_tokens) FROM (
  SELECT user_id, date(created_at / 1000, 'unixepoch') AS day, model, operation, COALESCE(api_key_id, '') AS api_key_id, COUNT(*) AS requests,
    SUM(CASE WHEN success = 1 THEN actual_tokens ELSE 0 END) AS actual_tokens, SUM(billable_tokens) AS billable_tokens,
    SUM(cached_input_tokens) AS cached_input_tokens, SUM(reasoning_tokens) AS reasoning_tokens
  FROM usage_records GROUP BY 1, 2, 3, 4, 5
  UNION ALL
  SELECT user_id, day, model, operation, '', requests, actual_tokens, billable_tokens, 0, 0 FROM user_usage_daily
) GROUP BY 1, 2, 3, 4, 5;
--> statement-breakpoint
DROP TABLE `user_usage_daily`;--> statement-breakpoint
DROP INDEX `token_transactions_user_type`;--> statement-breakpoint
DROP INDEX `token_transactions_ref`;--> statement-breakpoint
CREATE INDEX `token_transactions_ref` ON `token_transactions` (`ref`) WHERE ref IS NOT NULL;