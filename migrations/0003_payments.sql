-- Payments: Stripe customers per user, every webhook event with its processing outcome, and
-- auto-recharge attempts (replicated from each TokenAccount DO's outbox) for admin metrics.

CREATE TABLE stripe_customers (
  customer_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE stripe_events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('processing', 'processed', 'ignored', 'failed')),
  user_id TEXT,
  object_id TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 1,
  stripe_created INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  processed_at INTEGER
);
CREATE INDEX stripe_events_status ON stripe_events (status);
CREATE INDEX stripe_events_received ON stripe_events (received_at);

CREATE TABLE auto_recharge_attempts (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  payment_intent_id TEXT,
  status TEXT NOT NULL CHECK (status IN ('in_flight', 'succeeded', 'failed')),
  tokens INTEGER NOT NULL,
  amount_cents INTEGER NOT NULL,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX auto_recharge_attempts_status ON auto_recharge_attempts (status);
CREATE INDEX auto_recharge_attempts_user ON auto_recharge_attempts (user_id, created_at);
