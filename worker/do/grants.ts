import type { GrantView } from '../contracts/account';
import type { TransactionType } from '../db/schema';
import { emitAlert } from './alerts';
import { appendLedger, LedgerInvariantError, openAccount } from './ledger-store';
import { GRANT_COLUMNS, INSERT_GRANT, SELECT_GRANTS, valuesOf, type AccountRow, type GrantCategory, type GrantRow, type LedgerRow } from './rows';
import { getMeta, setMeta, type Sql, type Transaction } from './storage';

/**
 * Credit grants (issue 11, I8). Every positive ledger entry creates a grant: `paid` (purchases,
 * auto-recharges, and tokens a failed refund or a won dispute gives back) or `promotional`
 * (welcome bonus, admin grants, adjustments), with an optional expiry and a priority. Usage burns
 * the live grants in ONE fixed order ({@link burnOrder}):
 *
 *   1. promotional before paid;
 *   2. lower priority first (default 50 for every grant today, so this never decides yet);
 *   3. earliest expiry first, grants that never expire last;
 *   4. oldest (lowest ledger seq) first.
 *
 * Debt is its own bucket: what a debit could not burn (a settle above its hold) and what a
 * take-back could not take from its payment's grant (a refund of spent tokens). The next credit
 * repays it first. Invariant, after every commit: balance = Σ remaining − debt = Σ ledger.
 *
 * Lazy and exact. A charge on the fast path is one ledger statement and touches no grant. The
 * burn order only changes when the grant set does (a credit, an expiry, a take-back), and
 * burning d1 then d2 greedily in a fixed order leaves exactly what burning d1 + d2 leaves. So
 * the debits committed since the allocation watermark (meta `grant_seq`) are burned in one go
 * by {@link allocate} right before the grant set changes, and {@link grantsView} computes the
 * same without writing when grants are read: equal by construction to burning each debit as it
 * commits (test/unit/do/grants.test.ts checks it against an eager model over random sequences).
 *
 * An expiry must see the remainder at its instant: every commit at or after a grant's
 * `expires_at` first runs {@link expireDue} (the facade keeps the next expiry in memory, so a
 * charge pays no query for it), and so does the alarm at that instant. A charge committed
 * before the instant is burned from the grant; one committed at or after it never is.
 */

export const DEFAULT_GRANT_PRIORITY = 50;

/** How the grant of a positive entry is made; unset fields take the type's defaults. */
export interface GrantTerms {
  category?: GrantCategory;
  /** Epoch ms; null or unset: never expires. */
  expiresAt?: number | null;
  priority?: number;
}

/** The category a positive entry of `type` creates when the caller does not say. */
export function defaultCategory(type: TransactionType): GrantCategory {
  return type === 'purchase' || type === 'auto_recharge' || type === 'refund' || type === 'dispute' ? 'paid' : 'promotional';
}

/** The burn order (see the module comment): negative when `a` burns before `b`. */
export function burnOrder(a: GrantRow, b: GrantRow): number {
  if (a.category !== b.category) return a.category === 'promotional' ? -1 : 1;
  if (a.priority !== b.priority) return a.priority - b.priority;
  const ea = a.expires_at ?? Number.POSITIVE_INFINITY;
  const eb = b.expires_at ?? Number.POSITIVE_INFINITY;
  if (ea !== eb) return ea < eb ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * Burns `tokens` from `grants` in burn order; what they cannot cover becomes debt. Pure: returns
 * the grants with their new remainders (same order as burned) and the ones that changed.
 */
export function burn(grants: readonly GrantRow[], debt: number, tokens: number): { grants: GrantRow[]; changed: GrantRow[]; debt: number } {
  let left = tokens;
  const changed: GrantRow[] = [];
  const out = [...grants].sort(burnOrder).map((g) => {
    if (left <= 0 || g.remaining <= 0 || g.expired_at !== null) return g;
    const take = Math.min(g.remaining, left);
    left -= take;
    const next = { ...g, remaining: g.remaining - take };
    changed.push(next);
    return next;
  });
  return { grants: out, changed, debt: debt + left };
}

// ---------------------------------------------------------------- state

/** The allocation watermark (every ledger entry up to `seq` is in the remainders) and the debt. */
export interface GrantState {
  seq: number;
  debt: number;
}

export function grantState(sql: Sql): GrantState {
  return { seq: Number(getMeta(sql, 'grant_seq') ?? 0), debt: Number(getMeta(sql, 'grant_debt') ?? 0) };
}

function saveState(sql: Sql, s: GrantState): void {
  setMeta(sql, 'grant_seq', String(s.seq));
  setMeta(sql, 'grant_debt', String(s.debt));
}

/** Grants that can still be burned (live, something left). */
export function liveGrants(sql: Sql): GrantRow[] {
  return sql.exec<GrantRow>(`${SELECT_GRANTS} WHERE expired_at IS NULL AND remaining > 0`).toArray().sort(burnOrder);
}

export function getGrant(sql: Sql, id: string): GrantRow | null {
  return sql.exec<GrantRow>(`${SELECT_GRANTS} WHERE id = ?`, id).toArray()[0] ?? null;
}

/**
 * The debits committed after the watermark: tokens to burn and the last seq (null: none). Only
 * debits reach the ledger without {@link applyEntry} (usage: charges and settles), so a positive
 * entry here would be a bug; it is not counted, and the invariant tests would catch it.
 */
function pendingDebits(sql: Sql, afterSeq: number): { tokens: number; last: number | null } {
  const r = sql
    .exec<{ tokens: number | null; last: number | null }>(`SELECT sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS tokens, max(seq) AS last FROM ledger WHERE seq > ?`, afterSeq)
    .one();
  return { tokens: r.tokens ?? 0, last: r.last };
}

/** Burns the pending debits into the remainders (and debt) and moves the watermark. Runs inside the caller's transaction. */
export function allocate(sql: Sql): GrantState {
  const state = grantState(sql);
  const pending = pendingDebits(sql, state.seq);
  if (pending.last === null) return state;
  const out = burn(liveGrants(sql), state.debt, pending.tokens);
  for (const g of out.changed) sql.exec(`UPDATE grants SET remaining = ? WHERE id = ?`, g.remaining, g.id);
  const next = { seq: pending.last, debt: out.debt };
  saveState(sql, next);
  return next;
}

// ---------------------------------------------------------------- changes to the grant set

/** The ledger entry a grant change follows. */
export type EntryForGrant = Pick<LedgerRow, 'seq' | 'id' | 'type' | 'amount' | 'ref' | 'description' | 'created_at'>;

/**
 * What one committed entry (not usage, not an expiry) does to the grants, right after
 * {@link allocate} and the entry's append, in the same transaction:
 * - positive: repays debt first, and the rest is a new grant keyed by the entry's ref;
 * - negative with `takeFrom` (a refund or lost dispute of that payment): taken from that
 *   payment's grant while it has something left, the rest becomes debt;
 * - negative otherwise (an adjustment): burned in the burn order like usage.
 */
export function applyEntry(sql: Sql, row: EntryForGrant, terms: GrantTerms & { takeFrom?: string | null } = {}): void {
  const state = grantState(sql);
  if (state.seq !== row.seq - 1) throw new LedgerInvariantError(`grants allocated to seq ${state.seq}, but entry ${row.seq} follows`);
  let debt = state.debt;
  if (row.amount > 0) {
    const repaid = Math.min(debt, row.amount);
    debt -= repaid;
    const grant: GrantRow = {
      id: row.ref ?? row.id,
      seq: row.seq,
      category: terms.category ?? defaultCategory(row.type),
      priority: terms.priority ?? DEFAULT_GRANT_PRIORITY,
      amount: row.amount,
      remaining: row.amount - repaid,
      expires_at: terms.expiresAt ?? null,
      expired_at: null,
      description: row.description,
      created_at: row.created_at,
    };
    sql.exec(INSERT_GRANT, ...valuesOf(GRANT_COLUMNS, grant));
  } else if (row.amount < 0 && terms.takeFrom !== undefined) {
    let tokens = -row.amount;
    const from = terms.takeFrom ? getGrant(sql, terms.takeFrom) : null;
    if (from && from.expired_at === null && from.remaining > 0) {
      const take = Math.min(from.remaining, tokens);
      sql.exec(`UPDATE grants SET remaining = ? WHERE id = ?`, from.remaining - take, from.id);
      tokens -= take;
    }
    debt += tokens;
  } else if (row.amount < 0) {
    const out = burn(liveGrants(sql), debt, -row.amount);
    for (const g of out.changed) sql.exec(`UPDATE grants SET remaining = ? WHERE id = ?`, g.remaining, g.id);
    debt = out.debt;
  }
  saveState(sql, { seq: row.seq, debt });
}

/**
 * Expires every live grant whose `expires_at` ≤ `now`, once: the debits before it are allocated
 * first, then each remainder becomes an `expiry` entry (ref `expiry:<grant id>`, so never twice;
 * dated at the expiry instant) and the grant is closed. Inside the caller's transaction; returns
 * the account it leaves (unchanged when nothing was due).
 */
export function expireDue(sql: Sql, account: AccountRow, now: number): AccountRow {
  const due = sql.exec<GrantRow>(`${SELECT_GRANTS} WHERE expired_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, seq`, now).toArray();
  if (due.length === 0) return account;
  allocate(sql);
  let a = account;
  for (const g of due) {
    const left = getGrant(sql, g.id)!.remaining; // after allocate
    if (left > 0) {
      const out = appendLedger(sql, a, {
        type: 'expiry',
        amount: -left,
        ref: `expiry:${g.id}`,
        description: `${left} ${g.category} tokens expired`,
        metadata: JSON.stringify({ grantId: g.id, category: g.category, expiresAt: g.expires_at }),
        createdAt: g.expires_at!,
      })!;
      a = out.account;
      saveState(sql, { seq: out.row.seq, debt: grantState(sql).debt });
      // The operator's app learns of it once (alerts.ts): same transaction, deduplicated by grant.
      emitAlert(sql, { type: 'grant.expired', data: { grantId: g.id, category: g.category, expiredTokens: left, expiresAt: g.expires_at!, transactionId: out.row.id }, dedupeKey: `grant.expired:${g.id}` }, now);
    }
    sql.exec(`UPDATE grants SET remaining = 0, expired_at = ? WHERE id = ?`, now, g.id);
  }
  return a;
}

/**
 * Opens the account with its welcome bonus (ledger-store's openAccount) and the bonus's
 * promotional grant, expiring at `bonusExpiresAt` (null: never), in one transaction.
 */
export function openAccountWithGrants(sql: Sql, transaction: Transaction, userId: string, workspaceId: string, bonus: number, now: number, bonusExpiresAt: number | null): AccountRow {
  return transaction(() => {
    const account = openAccount(sql, (fn) => fn(), userId, workspaceId, bonus, now);
    if (account.ledger_seq === 0) return account;
    const row = sql.exec<EntryForGrant>(`SELECT seq, id, type, amount, ref, description, created_at FROM ledger WHERE seq = ?`, account.ledger_seq).one();
    applyEntry(sql, row, { category: 'promotional', expiresAt: bonusExpiresAt });
    return account;
  });
}

/** When the next live grant expires (null: none does). */
export function nextGrantExpiry(sql: Sql): number | null {
  return sql.exec<{ t: number | null }>(`SELECT min(expires_at) AS t FROM grants WHERE expired_at IS NULL AND expires_at IS NOT NULL`).one().t;
}

// ---------------------------------------------------------------- reads

/**
 * The grants with something left, in burn order, and the debt, as if the pending debits were
 * allocated now (nothing is written). The caller runs due expiries first.
 */
export function grantsView(sql: Sql): { grants: GrantView[]; debt: number } {
  const state = grantState(sql);
  const pending = pendingDebits(sql, state.seq);
  const out = burn(liveGrants(sql), state.debt, pending.tokens);
  return {
    grants: out.grants
      .filter((g) => g.remaining > 0)
      .map((g) => ({ id: g.id, category: g.category, priority: g.priority, amount: g.amount, remaining: g.remaining, expiresAt: g.expires_at, createdAt: g.created_at, description: g.description })),
    debt: out.debt,
  };
}
