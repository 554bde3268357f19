CREATE TABLE `archive_days` (
	`kind` text NOT NULL,
	`day` text NOT NULL,
	`status` text NOT NULL,
	`object_key` text NOT NULL,
	`rows` integer NOT NULL,
	`sha256` text NOT NULL,
	`archived_at` integer NOT NULL,
	`pruned_at` integer,
	PRIMARY KEY(`kind`, `day`),
	CONSTRAINT "archive_days_kind_check" CHECK(kind IN ('usage', 'transactions')),
	CONSTRAINT "archive_days_status_check" CHECK(status IN ('archived', 'pruned'))
);
--> statement-breakpoint
CREATE TABLE `user_usage_daily` (
	`user_id` text NOT NULL,
	`day` text NOT NULL,
	`model` text NOT NULL,
	`operation` text NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`actual_tokens` integer DEFAULT 0 NOT NULL,
	`billable_tokens` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`user_id`, `day`, `model`, `operation`)
);
--> statement-breakpoint
ALTER TABLE `settings` ADD `retention_days` integer DEFAULT 90 NOT NULL;