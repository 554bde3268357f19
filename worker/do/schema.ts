/**
 * The TokenAccount's own SQLite schema, as ordered steps, counted from 1: step N brings version
 * N − 1 to N (the stored version is the number of steps applied; comments elsewhere name steps so).
 * Steps are append-only once deployed, like D1 migrations.
 */
export const ACCOUNT_SCHEMA: string[][] = [
  [
    `CREATE TABLE account (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      user_id TEXT NOT NULL,
      workspace_id TEXT NOT NULL,
      balance INTEGER NOT NULL,
      reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
      status TEXT NOT NULL,
      suspended_reason TEXT,
      onboarding_tokens_granted INTEGER NOT NULL DEFAULT 0,
      last_purchase_at INTEGER,
      ledger_seq INTEGER NOT NULL DEFAULT 0,
      version INTEGER NOT NULL DEFAULT 0,
      stripe_customer_id TEXT,
      default_payment_method_id TEXT,
      ar_enabled INTEGER NOT NULL DEFAULT 0,
      ar_threshold INTEGER NOT NULL DEFAULT 0,
      ar_amount INTEGER NOT NULL DEFAULT 0,
      ar_monthly_limit_cents INTEGER,
      ar_state TEXT NOT NULL DEFAULT 'off',
      ar_attempt_id TEXT,
      ar_idempotency_key TEXT,
      ar_next_at INTEGER,
      ar_attempts INTEGER NOT NULL DEFAULT 0,
      ar_last_error TEXT,
      ar_window_hour_start INTEGER NOT NULL DEFAULT 0,
      ar_window_hour_count INTEGER NOT NULL DEFAULT 0,
      ar_window_month TEXT NOT NULL DEFAULT '',
      ar_window_month_cents INTEGER NOT NULL DEFAULT 0,
      ar_price_cents INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`,
    // Charges are the hot path: each table below is written with as few B-trees as possible.
    // Unbilled usage (refusals, failed operations) goes to `usage`, other idempotent answers
    // (holds, releases, unbilled charges) to `idempotency`.
    // The ledger is keyed by its sequence (the rowid). Its indexes are partial, so a row only
    // pays for the ones it has a value for: unique external refs (credits), unique idempotency
    // keys (billed operations), and from step 3 refunds by PaymentIntent. The outbox tracks what
    // reached D1 with a watermark in meta instead of a per-row flag that would have to be rewritten.
    `CREATE TABLE ledger (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL,
      type TEXT NOT NULL,
      amount INTEGER NOT NULL,
      balance_after INTEGER NOT NULL,
      amount_cents INTEGER,
      ref TEXT,
      idempotency_key TEXT,
      description TEXT NOT NULL DEFAULT '',
      metadata TEXT,
      created_at INTEGER NOT NULL,
      -- A billed operation keeps its usage record and its idempotency record in its own ledger
      -- row: one row written per charge instead of three.
      params TEXT,
      response TEXT,
      usage_id TEXT,
      operation TEXT,
      model TEXT,
      input_tokens INTEGER,
      output_tokens INTEGER,
      images INTEGER,
      actual_tokens INTEGER,
      request_id TEXT,
      reservation_id TEXT
    )`,
    `CREATE UNIQUE INDEX ledger_ref ON ledger (ref) WHERE ref IS NOT NULL`,
    `CREATE UNIQUE INDEX ledger_idempotency ON ledger (idempotency_key) WHERE idempotency_key IS NOT NULL`,
    `CREATE TABLE usage (
      n INTEGER PRIMARY KEY,
      id TEXT NOT NULL,
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
    )`,
    `CREATE TABLE reservations (
      id TEXT PRIMARY KEY,
      amount INTEGER NOT NULL CHECK (amount >= 0),
      operation TEXT NOT NULL,
      model TEXT NOT NULL,
      idempotency_key TEXT NOT NULL,
      state TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      closed_at INTEGER
    )`,
    `CREATE INDEX reservations_open ON reservations (state, expires_at)`,
    // Rowid order is arrival order, so pruning walks the oldest rows without a created_at index.
    `CREATE TABLE idempotency (
      n INTEGER PRIMARY KEY,
      key TEXT NOT NULL UNIQUE,
      params TEXT NOT NULL,
      response TEXT NOT NULL,
      created_at INTEGER NOT NULL
    )`,
    `CREATE TABLE recharge_attempts (
      id TEXT PRIMARY KEY,
      idempotency_key TEXT NOT NULL UNIQUE,
      payment_intent_id TEXT,
      status TEXT NOT NULL,
      tokens INTEGER NOT NULL,
      amount_cents INTEGER NOT NULL,
      error TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      synced INTEGER NOT NULL DEFAULT 0
    )`,
  ],
  [
    // Closed holds are pruned after the retention period: without this index, each alarm run
    // scanned every hold the account ever had.
    `CREATE INDEX reservations_closed ON reservations (closed_at) WHERE state != 'open'`,
    // Every alarm run asks which recharge attempts D1 has not seen yet.
    `CREATE INDEX recharge_attempts_unsynced ON recharge_attempts (created_at) WHERE synced = 0`,
  ],
  [
    // A refund adds up the earlier refunds of its payment: without this index, a scan of the
    // whole ledger (every charge the account ever made).
    `CREATE INDEX ledger_refunds ON ledger (json_extract(metadata, '$.paymentIntentId')) WHERE type = 'refund'`,
  ],
  [
    // Auto-recharge creates, then confirms (auto-recharge.ts): an attempt keeps the exact
    // parameters it sends, so a resend with its key is byte-identical, and counts its
    // confirmations, each sent with its own key.
    `ALTER TABLE recharge_attempts ADD COLUMN params TEXT`,
    `ALTER TABLE recharge_attempts ADD COLUMN confirms INTEGER NOT NULL DEFAULT 0`,
    // An attempt in flight before this step sent confirm=true with unknown outcome: `creating`
    // resolves it by listing the customer's PaymentIntents for its attempt id.
    `UPDATE account SET ar_state = 'creating', ar_attempts = 1 WHERE ar_state = 'in_flight'`,
  ],
  [
    // Spend limits (spend-limits.ts): one row per scope, `account` or `key:<apiKeyId>`. A key
    // row also says the key is known to this account; revoked keys keep their row (revoked_at).
    `CREATE TABLE spend_limits (
      scope TEXT PRIMARY KEY,
      daily INTEGER,
      monthly INTEGER,
      lifetime INTEGER,
      daily_ceiling INTEGER,
      monthly_ceiling INTEGER,
      revoked_at INTEGER,
      updated_at INTEGER NOT NULL
    )`,
    // The API key a billed operation, a refusal or a hold came in with (null: none). Read only at
    // load, to rebuild the limits' windows, and sent to D1 as the api_key_id of the usage rollup
    // (account_usage_daily since issue 13).
    `ALTER TABLE ledger ADD COLUMN api_key_id TEXT`,
    `ALTER TABLE usage ADD COLUMN api_key_id TEXT`,
    `ALTER TABLE reservations ADD COLUMN api_key_id TEXT`,
  ],
  [
    // Issue 10, the price book: each usage record (a billed one is its ledger row) keeps the
    // classes beyond input/output (each a part of input or output), the price-book version that
    // priced it (0: the seed's pricing) and what it cost at the provider (µUSD). Rows from before
    // this step read as version 0 with no cached/reasoning tokens and no known provider cost.
    `ALTER TABLE ledger ADD COLUMN cached_input_tokens INTEGER`,
    `ALTER TABLE ledger ADD COLUMN cache_write_tokens INTEGER`,
    `ALTER TABLE ledger ADD COLUMN reasoning_tokens INTEGER`,
    `ALTER TABLE ledger ADD COLUMN price_version INTEGER`,
    `ALTER TABLE ledger ADD COLUMN provider_cost_micros INTEGER`,
    `ALTER TABLE usage ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE usage ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE usage ADD COLUMN price_version INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE usage ADD COLUMN provider_cost_micros INTEGER NOT NULL DEFAULT 0`,
  ],
  [
    // Alerts for the operator's app (alerts.ts): an outbox the alarm hands to the alert queue.
    // `dedupe_key` makes each crossing fire once; the partial indexes keep the alarm's "what is
    // unsent" and the pruning of sent rows off a full scan. IF NOT EXISTS: a step is safe to run
    // over storage that already has it (an object whose recorded version was rolled back).
    `CREATE TABLE IF NOT EXISTS alerts (
      n INTEGER PRIMARY KEY,
      id TEXT NOT NULL,
      type TEXT NOT NULL,
      dedupe_key TEXT NOT NULL UNIQUE,
      data TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      sent_at INTEGER
    )`,
    `CREATE INDEX IF NOT EXISTS alerts_unsent ON alerts (n) WHERE sent_at IS NULL`,
    `CREATE INDEX IF NOT EXISTS alerts_sent ON alerts (sent_at) WHERE sent_at IS NOT NULL`,
  ],
  [
    // Credit grants (grants.ts, issue 11): every positive entry creates one; usage burns them in
    // one fixed order. `remaining` is exact up to the allocation watermark (meta `grant_seq`):
    // debits after it are allocated lazily, whenever the grant set changes or is read.
    `CREATE TABLE grants (
      id TEXT PRIMARY KEY,
      seq INTEGER NOT NULL,
      category TEXT NOT NULL CHECK (category IN ('paid', 'promotional')),
      priority INTEGER NOT NULL DEFAULT 50,
      amount INTEGER NOT NULL,
      remaining INTEGER NOT NULL CHECK (remaining >= 0),
      expires_at INTEGER,
      expired_at INTEGER,
      description TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL
    )`,
    // The alarm and the in-memory "next expiry" ask for the earliest live expiry.
    `CREATE INDEX grants_expiry ON grants (expires_at) WHERE expired_at IS NULL AND expires_at IS NOT NULL`,
    // An account from before grants: its balance becomes one paid grant without expiry (burned
    // last: nothing was promised about it), a negative balance becomes debt, and everything in
    // the ledger so far counts as allocated.
    `INSERT INTO grants (id, seq, category, priority, amount, remaining, expires_at, expired_at, description, created_at)
      SELECT 'opening:balance', seq, 'paid', 50, balance_after, balance_after, NULL, NULL, 'Balance before grants', created_at
      FROM ledger WHERE seq = (SELECT max(seq) FROM ledger) AND balance_after > 0`,
    `INSERT OR REPLACE INTO meta (key, value) SELECT 'grant_debt', CAST(max(0, -balance_after) AS TEXT) FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)`,
    `INSERT OR REPLACE INTO meta (key, value) SELECT 'grant_seq', CAST(coalesce(max(seq), 0) AS TEXT) FROM ledger`,
  ],
  [
    // Auto-recharge to a target (recharge-policy.ts rechargeOrder): buy what tops the available
    // balance up to ar_target, at the rate and minimum purchase in force when it was configured.
    `ALTER TABLE account ADD COLUMN ar_mode TEXT NOT NULL DEFAULT 'fixed'`,
    `ALTER TABLE account ADD COLUMN ar_target INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE account ADD COLUMN ar_tokens_per_usd INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE account ADD COLUMN ar_min_cents INTEGER NOT NULL DEFAULT 0`,
  ],
  [
    // `grant.expiring` (grant-notices.ts): when the alarm sent a grant's notice, so each grant
    // hears of its coming expiry once. Grants from before this step count as not yet noticed.
    `ALTER TABLE grants ADD COLUMN noticed_at INTEGER`,
  ],
  [
    // Holds that settle at expiry (holds.ts expireHolds, issue 12's "never bill 0 for work done"):
    // what the alarm does with a hold still open at its expiry, and, for `settle` holds only, the
    // usage the hold was priced at, which the alarm bills exactly. Holds from before this step
    // release at expiry, as they always did.
    `ALTER TABLE reservations ADD COLUMN on_expiry TEXT NOT NULL DEFAULT 'release'`,
    `ALTER TABLE reservations ADD COLUMN priced TEXT`,
  ],
];
export const ACCOUNT_SCHEMA_VERSION = ACCOUNT_SCHEMA.length;
