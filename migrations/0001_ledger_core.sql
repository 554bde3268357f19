-- Ledger core: settings, packages, the account directory, history replicated from each
-- TokenAccount Durable Object, rollups maintained by triggers, and the audit log.
-- Money is integer cents, tokens are integers; the multiplier is kept in basis points.

CREATE TABLE settings (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  token_multiplier_bps INTEGER NOT NULL,
  image_costs TEXT NOT NULL,
  tokens_per_usd INTEGER NOT NULL,
  minimum_purchase_cents INTEGER NOT NULL,
  welcome_bonus INTEGER NOT NULL,
  low_balance_threshold INTEGER NOT NULL,
  critical_balance_threshold INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT
);

CREATE TABLE packages (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  tokens INTEGER NOT NULL CHECK (tokens > 0),
  price_cents INTEGER NOT NULL CHECK (price_cents > 0),
  stripe_price_id TEXT NOT NULL,
  popular INTEGER NOT NULL DEFAULT 0,
  active INTEGER NOT NULL DEFAULT 1,
  sort_order INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Directory row per account, written by the account's DO outbox. `seq` is the ledger
-- sequence the snapshot reflects, so a late flush never overwrites a newer snapshot.
CREATE TABLE token_accounts (
  user_id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  balance INTEGER NOT NULL,
  reserved INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
  onboarding_tokens_granted INTEGER NOT NULL DEFAULT 0,
  last_purchase_at INTEGER,
  auto_recharge_enabled INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX token_accounts_status_balance ON token_accounts (status, balance);
CREATE INDEX token_accounts_workspace ON token_accounts (workspace_id);

CREATE TABLE token_transactions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('bonus', 'usage', 'purchase', 'auto_recharge', 'admin_grant', 'refund', 'dispute', 'adjustment')),
  amount INTEGER NOT NULL,
  balance_after INTEGER NOT NULL,
  amount_cents INTEGER,
  ref TEXT,
  idempotency_key TEXT,
  description TEXT NOT NULL DEFAULT '',
  metadata TEXT,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX token_transactions_user_seq ON token_transactions (user_id, seq);
CREATE INDEX token_transactions_user_type ON token_transactions (user_id, type, seq);
CREATE INDEX token_transactions_ref ON token_transactions (ref);

CREATE TABLE usage_records (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  operation TEXT NOT NULL,
  model TEXT NOT NULL,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  images INTEGER NOT NULL DEFAULT 0,
  actual_tokens INTEGER NOT NULL,
  billable_tokens INTEGER NOT NULL,
  success INTEGER NOT NULL,
  error_code TEXT,
  request_id TEXT,
  reservation_id TEXT,
  transaction_id TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX usage_records_user_created ON usage_records (user_id, created_at);

-- Rollups, kept exactly once by AFTER INSERT triggers: an INSERT OR IGNORE of a row that
-- is already present fires no trigger, so a retried outbox batch cannot double-count.
CREATE TABLE usage_daily (
  day TEXT NOT NULL,
  model TEXT NOT NULL,
  operation TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  successes INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  insufficient_balance_failures INTEGER NOT NULL DEFAULT 0,
  actual_tokens INTEGER NOT NULL DEFAULT 0,
  billable_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, model, operation)
);

CREATE TRIGGER usage_records_rollup AFTER INSERT ON usage_records
BEGIN
  INSERT INTO usage_daily (day, model, operation, requests, successes, failures, insufficient_balance_failures, actual_tokens, billable_tokens)
  VALUES (
    date(NEW.created_at / 1000, 'unixepoch'), NEW.model, NEW.operation, 1,
    CASE WHEN NEW.success = 1 THEN 1 ELSE 0 END,
    CASE WHEN NEW.success = 1 THEN 0 ELSE 1 END,
    CASE WHEN NEW.error_code = 'insufficient_balance' THEN 1 ELSE 0 END,
    CASE WHEN NEW.success = 1 THEN NEW.actual_tokens ELSE 0 END,
    NEW.billable_tokens
  )
  ON CONFLICT (day, model, operation) DO UPDATE SET
    requests = requests + 1,
    successes = successes + excluded.successes,
    failures = failures + excluded.failures,
    insufficient_balance_failures = insufficient_balance_failures + excluded.insufficient_balance_failures,
    actual_tokens = actual_tokens + excluded.actual_tokens,
    billable_tokens = billable_tokens + excluded.billable_tokens;
END;

CREATE TABLE ledger_daily (
  day TEXT NOT NULL,
  type TEXT NOT NULL,
  entries INTEGER NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0,
  amount_cents INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, type)
);

CREATE TRIGGER token_transactions_rollup AFTER INSERT ON token_transactions
BEGIN
  INSERT INTO ledger_daily (day, type, entries, tokens, amount_cents)
  VALUES (date(NEW.created_at / 1000, 'unixepoch'), NEW.type, 1, NEW.amount, COALESCE(NEW.amount_cents, 0))
  ON CONFLICT (day, type) DO UPDATE SET
    entries = entries + 1,
    tokens = tokens + excluded.tokens,
    amount_cents = amount_cents + excluded.amount_cents;
END;

CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  actor_user_id TEXT,
  action TEXT NOT NULL,
  target TEXT,
  before TEXT,
  after TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);
