import type {
  AccountsPage,
  AccountsQuery,
  GrantAnswer,
  GrantInput,
  InitializeAccountsAnswer,
  InitializeAccountsInput,
  PackageInput,
  PackagePatch,
  PackageView,
  RolesAnswer,
  SetupAnswer,
} from '../contracts/admin';
import type { AccountStatus } from '../contracts/billing';
import type { Role } from '../contracts/auth';
import { billingSettingsSchema, DEFAULT_SETTINGS, mergeImageCosts, toSettingsView, type BillingSettings, type SettingsAnswer, type SettingsPatch, type SettingsUpdateAnswer } from '../contracts/settings';
import { readSettings } from '../db/settings';
import { decodeCursor, encodeCursor } from '../lib/cursor';
import { newId, sha256Hex } from '../lib/crypto';
import { AppError, unwrap } from '../lib/errors';
import { auditIfChangedStatement, auditStatement, recordAudit } from './audit';
import type { AuthUser } from './auth';
import { initializeDefaultSettings, seedDefaultPackages } from './settings';

// ---------------------------------------------------------------- accounts list

/** A token_accounts row joined with its user, as D1 returns it. */
interface DirectoryRow {
  user_id: string;
  email: string | null;
  roles: string | null;
  workspace_id: string;
  balance: number;
  reserved: number;
  status: AccountStatus;
  onboarding_tokens_granted: number;
  last_purchase_at: number | null;
  auto_recharge_enabled: number;
  created_at: number;
  updated_at: number;
}

/** `%`, `_` and `\` are LIKE wildcards/escape; a search for them means the characters themselves. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The account directory (D1 snapshots written by each DO's outbox, so a few hundred ms behind)
 * with the owner's email, newest first, keyset-paginated on (created_at, user_id). `q` matches
 * part of an email or the start of a user id.
 */
export async function listAccounts(db: D1Database, f: AccountsQuery): Promise<AccountsPage> {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (f.status) {
    where.push('ta.status = ?');
    args.push(f.status);
  }
  if (f.minBalance !== undefined) {
    where.push('ta.balance >= ?');
    args.push(f.minBalance);
  }
  if (f.maxBalance !== undefined) {
    where.push('ta.balance <= ?');
    args.push(f.maxBalance);
  }
  if (f.q) {
    where.push(`(u.email LIKE ? ESCAPE '\\' OR ta.user_id LIKE ? ESCAPE '\\')`);
    args.push(`%${likeEscape(f.q.toLowerCase())}%`, `${likeEscape(f.q)}%`);
  }
  if (f.cursor) {
    const [t, id] = decodeCursor<[number, string]>(f.cursor, ['number', 'string']);
    where.push('(ta.created_at < ? OR (ta.created_at = ? AND ta.user_id < ?))');
    args.push(t, t, id);
  }
  const rows = await db
    .prepare(
      `SELECT ta.user_id, u.email, u.roles, ta.workspace_id, ta.balance, ta.reserved, ta.status, ta.onboarding_tokens_granted,
              ta.last_purchase_at, ta.auto_recharge_enabled, ta.created_at, ta.updated_at
       FROM token_accounts ta LEFT JOIN users u ON u.id = ta.user_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY ta.created_at DESC, ta.user_id DESC LIMIT ?`,
    )
    .bind(...args, f.limit + 1)
    .all<DirectoryRow>();
  const items = rows.results;
  const more = items.length > f.limit;
  if (more) items.pop();
  const last = items[items.length - 1];
  return {
    items: items.map((r) => ({
      userId: r.user_id,
      email: r.email,
      roles: r.roles ? (JSON.parse(r.roles) as Role[]) : null,
      workspaceId: r.workspace_id,
      balance: r.balance,
      reserved: r.reserved,
      available: r.balance - r.reserved,
      status: r.status,
      onboardingTokensGranted: r.onboarding_tokens_granted === 1,
      lastPurchaseAt: r.last_purchase_at,
      autoRechargeEnabled: r.auto_recharge_enabled === 1,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    })),
    nextCursor: more && last ? encodeCursor([last.created_at, last.user_id]) : null,
  };
}

// ---------------------------------------------------------------- grants

/**
 * Grants tokens as an `admin_grant` ledger entry through the account's DO, keyed by
 * `grant:<idempotencyKey>` so a retried grant moves tokens once (I4), then records the audit
 * row under an id derived from the same key so the retry cannot log twice either. A key
 * reused for a different grant is refused (I3).
 */
export async function grantTokens(env: Env, actor: AuthUser, input: GrantInput): Promise<GrantAnswer> {
  const ref = `grant:${input.idempotencyKey ?? newId('grt')}`;
  const auditId = `aud_grant_${(await sha256Hex(`${input.userId}|${ref}`)).slice(0, 32)}`;
  const category = input.category ?? 'promotional';
  type PriorGrant = { amount: number; reason: string; category?: string; expiresAt?: number | null };
  let prior: PriorGrant | null = null;
  if (input.idempotencyKey) {
    const row = await env.DB.prepare(`SELECT after FROM audit_log WHERE id = ?`).bind(auditId).first<{ after: string }>();
    prior = row ? (JSON.parse(row.after) as PriorGrant) : null;
    // A retry names the same grant; its expiry is the first attempt's (the default may have moved since).
    if (prior && (prior.amount !== input.amount || prior.reason !== input.reason || (prior.category ?? 'promotional') !== category || (input.expiresAt !== undefined && input.expiresAt !== (prior.expiresAt ?? null)))) {
      throw new AppError('idempotency_conflict');
    }
  }
  const now = Date.now();
  const expiresAt = prior ? (prior.expiresAt ?? null) : await grantExpiry(env.DB, input.expiresAt, now);
  if (!prior && expiresAt !== null && expiresAt <= now) throw new AppError('bad_request', 'Invalid request: expiresAt must be in the future');
  const res = unwrap(
    await env.TOKEN_ACCOUNT.getByName(input.userId).credit({
      type: 'admin_grant',
      amount: input.amount,
      ref,
      description: input.reason,
      metadata: { grantedBy: actor.id, grantedByEmail: actor.email, category, expiresAt },
      grant: { category, expiresAt },
    }),
  );
  // Written after the credit: if this insert fails, the client's retry (same key) lands here
  // again as a duplicate credit and writes the row then.
  await recordAudit(env.DB, {
    id: auditId,
    actorUserId: actor.id,
    action: 'grant.create',
    target: input.userId,
    // The grant's terms only when they differ from a plain grant's (promotional, never expires),
    // so the audit row of a plain grant stays what it always was.
    after: {
      amount: input.amount,
      reason: input.reason,
      ...(category !== 'promotional' ? { category } : {}),
      ...(expiresAt !== null ? { expiresAt } : {}),
      ref,
      transactionId: res.transactionId,
      balanceAfter: res.balance,
    },
  });
  return { transactionId: res.transactionId, category, expiresAt, duplicate: res.duplicate, balance: res.balance, status: res.status, ref };
}

/** An admin grant's expiry: the one given (null: never), else `adminGrantExpiryDays` from now (unset: never). */
async function grantExpiry(db: D1Database, given: number | null | undefined, now: number): Promise<number | null> {
  if (given !== undefined) return given;
  const days = ((await readSettings(db)) ?? DEFAULT_SETTINGS).adminGrantExpiryDays;
  return days ? now + days * 86_400_000 : null;
}

// ---------------------------------------------------------------- settings

/** Current settings; `initialized: false` (and the defaults) when setup has not run. */
export async function getSettings(db: D1Database): Promise<SettingsAnswer> {
  const [s, meta] = await Promise.all([
    readSettings(db),
    db.prepare(`SELECT updated_at AS updatedAt, updated_by AS updatedBy FROM settings WHERE id = 1`).first<{ updatedAt: number; updatedBy: string | null }>(),
  ]);
  return { settings: toSettingsView(s ?? DEFAULT_SETTINGS), initialized: s !== null, updatedAt: meta?.updatedAt ?? null, updatedBy: meta?.updatedBy ?? null };
}

/**
 * Applies a partial settings change. The write is conditional on the row not having changed
 * since it was read (updated_at), and the audit row is written in the same batch only if the
 * write applied, so concurrent editors cannot silently overwrite each other. Accounts pick the
 * new values up within their settings cache TTL (30 s).
 */
export async function updateSettings(db: D1Database, actor: AuthUser, patch: SettingsPatch): Promise<SettingsUpdateAnswer> {
  const row = await db.prepare(`SELECT updated_at FROM settings WHERE id = 1`).first<{ updated_at: number }>();
  const current = (await readSettings(db)) ?? DEFAULT_SETTINGS;
  const { tokenMultiplier, imageCosts, ...rest } = patch;
  const next: BillingSettings = {
    ...current,
    ...rest,
    imageCosts: mergeImageCosts(current.imageCosts, imageCosts),
    ...(tokenMultiplier !== undefined ? { tokenMultiplierBps: Math.round(tokenMultiplier * 10_000) } : {}),
  };
  if (next.criticalBalanceThreshold >= next.lowBalanceThreshold) {
    throw new AppError('bad_request', 'Invalid request: criticalBalanceThreshold must be below lowBalanceThreshold');
  }
  // The merged whole obeys the stored bounds too (e.g. at most 100 image models).
  const whole = billingSettingsSchema.safeParse(next);
  if (!whole.success) throw new AppError('bad_request', `Invalid request: ${whole.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const before = toSettingsView(current);
  const after = toSettingsView(next);
  if (JSON.stringify(before) === JSON.stringify(after) && row) return { settings: after, changed: false };
  const now = Math.max(Date.now(), (row?.updated_at ?? 0) + 1);
  const values = [next.tokenMultiplierBps, JSON.stringify(next.imageCosts), next.tokensPerUsd, next.minimumPurchaseCents, next.welcomeBonus, next.lowBalanceThreshold, next.criticalBalanceThreshold, next.welcomeBonusExpiryDays, next.adminGrantExpiryDays, next.minMarginBps, next.retentionDays, next.billingCallsPerSecond, next.grantExpiringNoticeDays, now, actor.id];
  const write = row
    ? db
        .prepare(
          `UPDATE settings SET token_multiplier_bps = ?, image_costs = ?, tokens_per_usd = ?, minimum_purchase_cents = ?, welcome_bonus = ?,
             low_balance_threshold = ?, critical_balance_threshold = ?, welcome_bonus_expiry_days = ?, admin_grant_expiry_days = ?, min_margin_bps = ?, retention_days = ?, billing_calls_per_second = ?, grant_expiring_notice_days = ?, updated_at = ?, updated_by = ?
             WHERE id = 1 AND updated_at = ?`,
        )
        .bind(...values, row.updated_at)
    : db
        .prepare(
          `INSERT OR IGNORE INTO settings (token_multiplier_bps, image_costs, tokens_per_usd, minimum_purchase_cents, welcome_bonus,
             low_balance_threshold, critical_balance_threshold, welcome_bonus_expiry_days, admin_grant_expiry_days, min_margin_bps, retention_days, billing_calls_per_second, grant_expiring_notice_days, updated_at, updated_by, id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
        )
        .bind(...values);
  const [res] = await db.batch([write, auditIfChangedStatement(db, { actorUserId: actor.id, action: 'settings.update', target: 'settings', before, after }, now)]);
  if ((res.meta.changes ?? 0) === 0) throw new AppError('conflict', 'Settings were changed by someone else; reload and try again');
  return { settings: after, changed: true };
}

// ---------------------------------------------------------------- packages

const PACKAGE_COLS = `id, name, description, tokens, price_cents AS priceCents, stripe_price_id AS stripePriceId, popular, active,
  sort_order AS sortOrder, created_at AS createdAt, updated_at AS updatedAt`;

type PackageRow = Omit<PackageView, 'popular' | 'active'> & { popular: number; active: number };
const toPackage = (r: PackageRow): PackageView => ({ ...r, popular: r.popular === 1, active: r.active === 1 });

/** Every package, inactive ones included, in display order. */
export async function listAllPackages(db: D1Database): Promise<PackageView[]> {
  const rows = await db.prepare(`SELECT ${PACKAGE_COLS} FROM packages ORDER BY sort_order, price_cents, id`).all<PackageRow>();
  return rows.results.map(toPackage);
}

async function getPackage(db: D1Database, id: string): Promise<PackageView | null> {
  const r = await db.prepare(`SELECT ${PACKAGE_COLS} FROM packages WHERE id = ?`).bind(id).first<PackageRow>();
  return r ? toPackage(r) : null;
}

function isUniqueViolation(err: unknown): boolean {
  return /UNIQUE constraint failed/i.test(err instanceof Error ? `${err.message} ${String(err.cause ?? '')}` : String(err));
}

/** Creates a package and its audit row in one batch. Duplicate id or name → 409. */
export async function createPackage(db: D1Database, actor: AuthUser, input: PackageInput): Promise<PackageView> {
  const now = Date.now();
  const pkg: PackageView = { ...input, id: input.id ?? newId('pkg'), createdAt: now, updatedAt: now };
  try {
    await db.batch([
      db
        .prepare(
          `INSERT INTO packages (id, name, description, tokens, price_cents, stripe_price_id, popular, active, sort_order, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(pkg.id, pkg.name, pkg.description, pkg.tokens, pkg.priceCents, pkg.stripePriceId, pkg.popular ? 1 : 0, pkg.active ? 1 : 0, pkg.sortOrder, now, now),
      auditStatement(db, { actorUserId: actor.id, action: 'package.create', target: pkg.id, after: pkg }, now),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', 'A package with this id or name already exists');
    throw err;
  }
  return pkg;
}

/** Applies a partial package change with an audit row (before/after) in the same batch. */
export async function updatePackage(db: D1Database, actor: AuthUser, id: string, patch: PackagePatch): Promise<PackageView> {
  const before = await getPackage(db, id);
  if (!before) throw new AppError('package_not_found');
  const now = Math.max(Date.now(), before.updatedAt + 1);
  const after: PackageView = { ...before, ...patch, updatedAt: now };
  try {
    const [res] = await db.batch([
      db
        .prepare(
          `UPDATE packages SET name = ?, description = ?, tokens = ?, price_cents = ?, stripe_price_id = ?, popular = ?, active = ?, sort_order = ?, updated_at = ?
           WHERE id = ? AND updated_at = ?`,
        )
        .bind(after.name, after.description, after.tokens, after.priceCents, after.stripePriceId, after.popular ? 1 : 0, after.active ? 1 : 0, after.sortOrder, now, id, before.updatedAt),
      auditIfChangedStatement(db, { actorUserId: actor.id, action: 'package.update', target: id, before, after }, now),
    ]);
    if ((res.meta.changes ?? 0) === 0) throw new AppError('conflict', 'The package was changed by someone else; reload and try again');
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', 'A package with this name already exists');
    throw err;
  }
  return after;
}

// ---------------------------------------------------------------- setup

/** initializeDefaultSettings + seedDefaultPackages, audited. Idempotent. */
export async function runSetup(db: D1Database, actor: AuthUser): Promise<SetupAnswer> {
  const settings = await initializeDefaultSettings(db);
  const packages = await seedDefaultPackages(db);
  await recordAudit(db, { actorUserId: actor.id, action: 'setup', target: 'system', after: { settingsCreated: settings.created, packagesCreated: packages.created } });
  return { settings, packages };
}

// ---------------------------------------------------------------- roles

/** Replaces a user's roles (audited). A superadmin cannot drop their own superadmin role, so the system cannot lose its last one by accident. */
export async function setRoles(db: D1Database, actor: AuthUser, userId: string, roles: Role[]): Promise<RolesAnswer> {
  const row = await db.prepare(`SELECT id, email, roles, workspace_id AS workspaceId, updated_at FROM users WHERE id = ?`).bind(userId).first<{ id: string; email: string; roles: string; workspaceId: string; updated_at: number }>();
  if (!row) throw new AppError('not_found', 'User not found');
  const unique = [...new Set(roles)];
  if (userId === actor.id && !unique.includes('superadmin')) throw new AppError('conflict', 'You cannot remove your own superadmin role');
  const before = JSON.parse(row.roles) as Role[];
  const now = Math.max(Date.now(), row.updated_at + 1);
  await db.batch([
    db.prepare(`UPDATE users SET roles = ?, updated_at = ? WHERE id = ?`).bind(JSON.stringify(unique), now, userId),
    auditStatement(db, { actorUserId: actor.id, action: 'user.roles', target: userId, before: { roles: before }, after: { roles: unique } }, now),
  ]);
  return { user: { id: row.id, email: row.email, roles: unique, workspaceId: row.workspaceId } };
}

// ---------------------------------------------------------------- account initialization

/** Users handled per call of `{ all: true }`: keeps one request far below the subrequest limit. */
export const INITIALIZE_BATCH = 100;
const INITIALIZE_CONCURRENCY = 10;

/**
 * Creates token accounts (with the welcome bonus) for users that have none. The DO's
 * initialize is idempotent, so running this twice changes nothing; each account is flushed so
 * the D1 directory lists it at once and the next `{ all: true }` call moves on. `more` says
 * another call may find more users.
 */
export async function initializeAccounts(env: Env, actor: AuthUser, target: InitializeAccountsInput): Promise<InitializeAccountsAnswer> {
  let users: { id: string; workspace_id: string }[];
  if ('userId' in target) {
    const u = await env.DB.prepare(`SELECT id, workspace_id FROM users WHERE id = ?`).bind(target.userId).first<{ id: string; workspace_id: string }>();
    if (!u) throw new AppError('not_found', 'User not found');
    users = [u];
  } else {
    const rows = await env.DB.prepare(
      `SELECT u.id, u.workspace_id FROM users u LEFT JOIN token_accounts ta ON ta.user_id = u.id WHERE ta.user_id IS NULL ORDER BY u.created_at, u.id LIMIT ?`,
    )
      .bind(INITIALIZE_BATCH)
      .all<{ id: string; workspace_id: string }>();
    users = rows.results;
  }
  const created: string[] = [];
  const existing: string[] = [];
  for (let i = 0; i < users.length; i += INITIALIZE_CONCURRENCY) {
    await Promise.all(
      users.slice(i, i + INITIALIZE_CONCURRENCY).map(async (u) => {
        const stub = env.TOKEN_ACCOUNT.getByName(u.id);
        const r = unwrap(await stub.initialize(u.id, u.workspace_id));
        (r.created ? created : existing).push(u.id);
        await stub.flush();
      }),
    );
  }
  if (created.length > 0) {
    await recordAudit(env.DB, { actorUserId: actor.id, action: 'accounts.initialize', target: 'userId' in target ? target.userId : 'all', after: { created } });
  }
  return { created, existing, more: !('userId' in target) && users.length === INITIALIZE_BATCH };
}
