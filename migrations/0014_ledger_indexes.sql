DROP INDEX `token_transactions_user_type`;--> statement-breakpoint
DROP INDEX `token_transactions_ref`;--> statement-breakpoint
CREATE INDEX `token_transactions_ref` ON `token_transactions` (`ref`) WHERE ref IS NOT NULL;