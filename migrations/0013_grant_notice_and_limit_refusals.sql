ALTER TABLE `settings` ADD `grant_expiring_notice_days` integer DEFAULT 7 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_by_day` ADD `spend_limit_failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_by_model_daily` ADD `spend_limit_failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_by_operation_daily` ADD `spend_limit_failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_daily` ADD `spend_limit_failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_totals` ADD `spend_limit_failures` integer DEFAULT 0 NOT NULL;