import { and, eq, gt, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Role, SignupInput, User } from '../contracts/auth';
import { sessions, users } from '../db/schema';
import { newId, sha256Hex, toHex } from '../lib/crypto';
import { AppError } from '../lib/errors';
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from '../lib/password';

export const SESSION_COOKIE = 'tb_session';
export const SESSION_TTL_MS = 30 * 24 * 3600_000;

/** A signed-in user as the API shows it (the contract's `User`). */
export type AuthUser = User;

/** Lowercase, trimmed: the form emails are stored and compared in. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Emails listed in the comma-separated `SUPERADMIN_EMAILS` var, normalized. */
export function superadminEmails(env: Env): Set<string> {
  const raw = String((env as { SUPERADMIN_EMAILS?: string }).SUPERADMIN_EMAILS ?? '');
  return new Set(raw.split(',').map(normalizeEmail).filter(Boolean));
}

function isUniqueViolation(err: unknown): boolean {
  const msg = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : String(err);
  return /UNIQUE constraint failed/i.test(msg);
}

/**
 * Creates a user, in a workspace of their own, and their token account (with the welcome bonus) at once. Emails in
 * `SUPERADMIN_EMAILS` become superadmins; everyone else is a plain user.
 */
export async function signup(env: Env, input: SignupInput): Promise<AuthUser> {
  const email = normalizeEmail(input.email);
  const id = newId('usr');
  // Every user's own workspace: nobody can join another's at sign-up (see signupSchema).
  const workspaceId = `ws_${id}`;
  const roles: Role[] = superadminEmails(env).has(email) ? ['superadmin'] : ['user'];
  const passwordHash = await hashPassword(input.password);
  const now = Date.now();
  try {
    await drizzle(env.DB).insert(users).values({ id, email, passwordHash, roles, workspaceId, createdAt: now, updatedAt: now }).run();
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('email_taken');
    throw err;
  }
  // The DO is the account's only writer; initialize is idempotent, so a failure here is
  // repaired later by POST /api/admin/accounts/initialize without double bonuses.
  const init = await env.TOKEN_ACCOUNT.getByName(id).initialize(id, workspaceId);
  if (!init.ok) console.error('signup: account initialize failed', { userId: id, code: init.code });
  return { id, email, roles, workspaceId };
}

/**
 * Checks an email and password. Unknown emails still pay for one PBKDF2 run and get the
 * same error as a wrong password, so neither timing nor message tells which emails exist.
 */
export async function authenticate(env: Env, email: string, password: string): Promise<AuthUser> {
  const row = await drizzle(env.DB).select().from(users).where(eq(users.email, normalizeEmail(email))).get();
  const ok = await verifyPassword(password, row?.passwordHash ?? DUMMY_PASSWORD_HASH);
  if (!row || !ok) throw new AppError('invalid_credentials');
  return { id: row.id, email: row.email, roles: row.roles, workspaceId: row.workspaceId };
}

/** Starts a session: returns the raw token for the cookie; only its SHA-256 is stored. */
export async function createSession(env: Env, userId: string): Promise<{ token: string; expiresAt: number }> {
  const token = toHex(crypto.getRandomValues(new Uint8Array(32)));
  const now = Date.now();
  const expiresAt = now + SESSION_TTL_MS;
  await drizzle(env.DB)
    .insert(sessions)
    .values({ id: await sha256Hex(token), userId, createdAt: now, expiresAt })
    .run();
  return { token, expiresAt };
}

/** The session token from the request's cookie, if it looks like one of ours. */
export function sessionToken(request: Request): string | null {
  const header = request.headers.get('cookie');
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return /^[0-9a-f]{64}$/.test(value) ? value : null;
  }
  return null;
}

/** Revokes the request's session (if any). Revoking twice is harmless. */
export async function revokeSession(request: Request, env: Env): Promise<void> {
  const token = sessionToken(request);
  if (!token) return;
  await drizzle(env.DB)
    .update(sessions)
    .set({ revokedAt: Date.now() })
    .where(and(eq(sessions.id, await sha256Hex(token)), isNull(sessions.revokedAt)))
    .run();
}

/** The signed-in user, or null. Roles are read fresh on every request, so a role change applies at once. */
export async function currentUser(request: Request, env: Env): Promise<AuthUser | null> {
  const token = sessionToken(request);
  if (!token) return null;
  const row = await drizzle(env.DB)
    .select({ id: users.id, email: users.email, roles: users.roles, workspaceId: users.workspaceId })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, await sha256Hex(token)), isNull(sessions.revokedAt), gt(sessions.expiresAt, Date.now())))
    .get();
  return row ?? null;
}

/** The signed-in user; 401 `unauthorized` otherwise. */
export async function requireUser(request: Request, env: Env): Promise<AuthUser> {
  const user = await currentUser(request, env);
  if (!user) throw new AppError('unauthorized');
  return user;
}

/** `admin` is satisfied by admin or superadmin (read-only admin); `superadmin` only by superadmin. */
export function hasRole(user: AuthUser, role: 'admin' | 'superadmin'): boolean {
  if (user.roles.includes('superadmin')) return true;
  return role === 'admin' && user.roles.includes('admin');
}

/** 403 `forbidden` unless the user holds `role` (see `hasRole`). */
export function requireRole(user: AuthUser, role: 'admin' | 'superadmin'): AuthUser {
  if (!hasRole(user, role)) throw new AppError('forbidden');
  return user;
}

/** Signed-in user holding `role`: 401 when anonymous, 403 when the role is missing. */
export async function requireAdmin(request: Request, env: Env, role: 'admin' | 'superadmin'): Promise<AuthUser> {
  return requireRole(await requireUser(request, env), role);
}

/** `Set-Cookie` for a new session. `Secure` only over https, so local http dev still signs in. */
export function sessionCookie(request: Request, token: string, expiresAt: number): string {
  const maxAge = Math.max(0, Math.floor((expiresAt - Date.now()) / 1000));
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${isHttps(request) ? '; Secure' : ''}`;
}

/** `Set-Cookie` that deletes the session cookie. */
export function clearSessionCookie(request: Request): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${isHttps(request) ? '; Secure' : ''}`;
}

function isHttps(request: Request): boolean {
  return new URL(request.url).protocol === 'https:';
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Callers that authenticate by signature, not by cookie, so cross-origin posts cannot ride on a session. */
const CROSS_ORIGIN_EXEMPT = [/^\/api\/billing\//, /^\/api\/internal\//, /^\/api\/stripe\/webhook$/];

/**
 * CSRF guard for cookie-authenticated APIs: a state-changing request is refused when the
 * browser says it comes from another origin (`Origin` differs, or `Sec-Fetch-Site: cross-site`).
 * SameSite=Lax already keeps the cookie off most cross-site posts; this covers the rest
 * (same-site subdomains, older browsers). Requests without either header are not browsers
 * acting for a page and pass.
 */
export function assertSameOrigin(request: Request): void {
  if (!UNSAFE_METHODS.has(request.method)) return;
  const url = new URL(request.url);
  if (!url.pathname.startsWith('/api/') || CROSS_ORIGIN_EXEMPT.some((re) => re.test(url.pathname))) return;
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== url.origin) throw new AppError('forbidden', 'Cross-origin request refused');
  if (request.headers.get('sec-fetch-site') === 'cross-site') throw new AppError('forbidden', 'Cross-origin request refused');
}
