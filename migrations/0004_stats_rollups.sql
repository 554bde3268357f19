-- Narrower rollups so every admin stat reads a handful of rows however long history gets:
-- usage per (day, model), per (day, operation) and per day, all-time usage and ledger totals,
-- account totals by status, and outcome counters for webhooks and auto-recharge attempts.
-- Kept by AFTER INSERT/UPDATE triggers like usage_daily: an INSERT OR IGNORE of a row that is
-- already there fires nothing, so retried outbox batches cannot double-count.

CREATE TABLE usage_by_model_daily (
  day TEXT NOT NULL, model TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0, successes INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
  insufficient_balance_failures INTEGER NOT NULL DEFAULT 0, actual_tokens INTEGER NOT NULL DEFAULT 0, billable_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, model)
) WITHOUT ROWID;

CREATE TABLE usage_by_operation_daily (
  day TEXT NOT NULL, operation TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0, successes INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
  insufficient_balance_failures INTEGER NOT NULL DEFAULT 0, actual_tokens INTEGER NOT NULL DEFAULT 0, billable_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, operation)
) WITHOUT ROWID;

CREATE TABLE usage_by_day (
  day TEXT PRIMARY KEY,
  requests INTEGER NOT NULL DEFAULT 0, successes INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
  insufficient_balance_failures INTEGER NOT NULL DEFAULT 0, actual_tokens INTEGER NOT NULL DEFAULT 0, billable_tokens INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE usage_totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  requests INTEGER NOT NULL DEFAULT 0, successes INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
  insufficient_balance_failures INTEGER NOT NULL DEFAULT 0, actual_tokens INTEGER NOT NULL DEFAULT 0, billable_tokens INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE ledger_totals (
  type TEXT PRIMARY KEY,
  entries INTEGER NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0, amount_cents INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE account_totals (
  status TEXT PRIMARY KEY,
  accounts INTEGER NOT NULL DEFAULT 0, balance_sum INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE outcome_counts (
  name TEXT PRIMARY KEY,
  n INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Backfill from what is already there.
INSERT INTO usage_by_model_daily SELECT day, model, SUM(requests), SUM(successes), SUM(failures), SUM(insufficient_balance_failures), SUM(actual_tokens), SUM(billable_tokens) FROM usage_daily GROUP BY day, model;
INSERT INTO usage_by_operation_daily SELECT day, operation, SUM(requests), SUM(successes), SUM(failures), SUM(insufficient_balance_failures), SUM(actual_tokens), SUM(billable_tokens) FROM usage_daily GROUP BY day, operation;
INSERT INTO usage_by_day SELECT day, SUM(requests), SUM(successes), SUM(failures), SUM(insufficient_balance_failures), SUM(actual_tokens), SUM(billable_tokens) FROM usage_daily GROUP BY day;
INSERT INTO usage_totals SELECT 1, COALESCE(SUM(requests), 0), COALESCE(SUM(successes), 0), COALESCE(SUM(failures), 0), COALESCE(SUM(insufficient_balance_failures), 0), COALESCE(SUM(actual_tokens), 0), COALESCE(SUM(billable_tokens), 0) FROM usage_daily;
INSERT INTO ledger_totals SELECT type, SUM(entries), SUM(tokens), SUM(amount_cents) FROM ledger_daily GROUP BY type;
INSERT INTO account_totals SELECT status, COUNT(*), SUM(balance) FROM token_accounts GROUP BY status;
INSERT INTO outcome_counts SELECT 'stripe_events:' || status, COUNT(*) FROM stripe_events GROUP BY status;
INSERT INTO outcome_counts SELECT 'auto_recharge_attempts:' || status, COUNT(*) FROM auto_recharge_attempts GROUP BY status;

CREATE TRIGGER usage_records_rollup_v2 AFTER INSERT ON usage_records
BEGIN
  INSERT INTO usage_by_model_daily VALUES (date(NEW.created_at / 1000, 'unixepoch'), NEW.model, 1, NEW.success = 1, NEW.success != 1, NEW.error_code IS 'insufficient_balance', CASE WHEN NEW.success = 1 THEN NEW.actual_tokens ELSE 0 END, NEW.billable_tokens)
  ON CONFLICT (day, model) DO UPDATE SET requests = requests + 1, successes = successes + excluded.successes, failures = failures + excluded.failures,
    insufficient_balance_failures = insufficient_balance_failures + excluded.insufficient_balance_failures, actual_tokens = actual_tokens + excluded.actual_tokens, billable_tokens = billable_tokens + excluded.billable_tokens;
  INSERT INTO usage_by_operation_daily VALUES (date(NEW.created_at / 1000, 'unixepoch'), NEW.operation, 1, NEW.success = 1, NEW.success != 1, NEW.error_code IS 'insufficient_balance', CASE WHEN NEW.success = 1 THEN NEW.actual_tokens ELSE 0 END, NEW.billable_tokens)
  ON CONFLICT (day, operation) DO UPDATE SET requests = requests + 1, successes = successes + excluded.successes, failures = failures + excluded.failures,
    insufficient_balance_failures = insufficient_balance_failures + excluded.insufficient_balance_failures, actual_tokens = actual_tokens + excluded.actual_tokens, billable_tokens = billable_tokens + excluded.billable_tokens;
  INSERT INTO usage_by_day VALUES (date(NEW.created_at / 1000, 'unixepoch'), 1, NEW.success = 1, NEW.success != 1, NEW.error_code IS 'insufficient_balance', CASE WHEN NEW.success = 1 THEN NEW.actual_tokens ELSE 0 END, NEW.billable_tokens)
  ON CONFLICT (day) DO UPDATE SET requests = requests + 1, successes = successes + excluded.successes, failures = failures + excluded.failures,
    insufficient_balance_failures = insufficient_balance_failures + excluded.insufficient_balance_failures, actual_tokens = actual_tokens + excluded.actual_tokens, billable_tokens = billable_tokens + excluded.billable_tokens;
  INSERT INTO usage_totals VALUES (1, 1, NEW.success = 1, NEW.success != 1, NEW.error_code IS 'insufficient_balance', CASE WHEN NEW.success = 1 THEN NEW.actual_tokens ELSE 0 END, NEW.billable_tokens)
  ON CONFLICT (id) DO UPDATE SET requests = requests + 1, successes = successes + excluded.successes, failures = failures + excluded.failures,
    insufficient_balance_failures = insufficient_balance_failures + excluded.insufficient_balance_failures, actual_tokens = actual_tokens + excluded.actual_tokens, billable_tokens = billable_tokens + excluded.billable_tokens;
END;

CREATE TRIGGER token_transactions_totals AFTER INSERT ON token_transactions
BEGIN
  INSERT INTO ledger_totals VALUES (NEW.type, 1, NEW.amount, COALESCE(NEW.amount_cents, 0))
  ON CONFLICT (type) DO UPDATE SET entries = entries + 1, tokens = tokens + excluded.tokens, amount_cents = amount_cents + excluded.amount_cents;
END;

CREATE TRIGGER token_accounts_totals_insert AFTER INSERT ON token_accounts
BEGIN
  INSERT INTO account_totals VALUES (NEW.status, 1, NEW.balance)
  ON CONFLICT (status) DO UPDATE SET accounts = accounts + 1, balance_sum = balance_sum + excluded.balance_sum;
END;

CREATE TRIGGER token_accounts_totals_update AFTER UPDATE OF status, balance ON token_accounts
BEGIN
  UPDATE account_totals SET accounts = accounts - 1, balance_sum = balance_sum - OLD.balance WHERE status = OLD.status;
  INSERT INTO account_totals VALUES (NEW.status, 1, NEW.balance)
  ON CONFLICT (status) DO UPDATE SET accounts = accounts + 1, balance_sum = balance_sum + excluded.balance_sum;
END;

CREATE TRIGGER token_accounts_totals_delete AFTER DELETE ON token_accounts
BEGIN
  UPDATE account_totals SET accounts = accounts - 1, balance_sum = balance_sum - OLD.balance WHERE status = OLD.status;
END;

CREATE TRIGGER stripe_events_count_insert AFTER INSERT ON stripe_events
BEGIN
  INSERT INTO outcome_counts VALUES ('stripe_events:' || NEW.status, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER stripe_events_count_update AFTER UPDATE OF status ON stripe_events WHEN NEW.status != OLD.status
BEGIN
  UPDATE outcome_counts SET n = n - 1 WHERE name = 'stripe_events:' || OLD.status;
  INSERT INTO outcome_counts VALUES ('stripe_events:' || NEW.status, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER auto_recharge_attempts_count_insert AFTER INSERT ON auto_recharge_attempts
BEGIN
  INSERT INTO outcome_counts VALUES ('auto_recharge_attempts:' || NEW.status, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER auto_recharge_attempts_count_update AFTER UPDATE OF status ON auto_recharge_attempts WHEN NEW.status != OLD.status
BEGIN
  UPDATE outcome_counts SET n = n - 1 WHERE name = 'auto_recharge_attempts:' || OLD.status;
  INSERT INTO outcome_counts VALUES ('auto_recharge_attempts:' || NEW.status, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
END;
