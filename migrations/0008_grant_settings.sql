PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_token_transactions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`amount` integer NOT NULL,
	`balance_after` integer NOT NULL,
	`amount_cents` integer,
	`ref` text,
	`idempotency_key` text,
	`description` text DEFAULT '' NOT NULL,
	`metadata` text,
	`created_at` integer NOT NULL,
	CONSTRAINT "token_transactions_type_check" CHECK(type IN ('bonus', 'usage', 'purchase', 'auto_recharge', 'admin_grant', 'refund', 'dispute', 'adjustment', 'expiry'))
);
--> statement-breakpoint
INSERT INTO `__new_token_transactions`("id", "user_id", "seq", "type", "amount", "balance_after", "amount_cents", "ref", "idempotency_key", "description", "metadata", "created_at") SELECT "id", "user_id", "seq", "type", "amount", "balance_after", "amount_cents", "ref", "idempotency_key", "description", "metadata", "created_at" FROM `token_transactions`;--> statement-breakpoint
DROP TABLE `token_transactions`;--> statement-breakpoint
ALTER TABLE `__new_token_transactions` RENAME TO `token_transactions`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `token_transactions_user_seq` ON `token_transactions` (`user_id`,`seq`);--> statement-breakpoint
CREATE INDEX `token_transactions_user_type` ON `token_transactions` (`user_id`,`type`,`seq`);--> statement-breakpoint
CREATE INDEX `token_transactions_ref` ON `token_transactions` (`ref`);--> statement-breakpoint
ALTER TABLE `settings` ADD `welcome_bonus_expiry_days` integer;--> statement-breakpoint
ALTER TABLE `settings` ADD `admin_grant_expiry_days` integer;