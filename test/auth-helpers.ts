import { SELF } from 'cloudflare:test';

export const ORIGIN = 'https://app.test';
export const SUPERADMIN_EMAIL = 'root@example.test';
export const PASSWORD = 'correct horse battery';

export interface Session {
  cookie: string;
  user: { id: string; email: string; roles: string[]; workspaceId: string };
}

/** Calls the API as a browser on the app's own origin would (no Origin header unless given). */
export async function api(path: string, opts: { method?: string; body?: unknown; cookie?: string | null; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  if (opts.cookie) headers.cookie = opts.cookie;
  return SELF.fetch(`${ORIGIN}${path}`, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers,
    body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
  });
}

export async function json<T = Record<string, any>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** `name=value` of the session cookie a response sets. */
export function cookieFrom(res: Response): string {
  const set = res.headers.get('set-cookie') ?? '';
  const m = /tb_session=([^;]*)/.exec(set);
  if (!m) throw new Error(`no session cookie in ${res.status} response: ${set}`);
  return `tb_session=${m[1]}`;
}

export function freshEmail(tag = 'user'): string {
  return `${tag}-${crypto.randomUUID()}@example.test`;
}

/** Signs up a new user and returns their session. */
export async function signUp(email = freshEmail(), password = PASSWORD): Promise<Session> {
  const res = await api('/api/auth/signup', { body: { email, password } });
  if (res.status !== 201) throw new Error(`signup ${res.status}: ${await res.text()}`);
  const body = await json<{ user: Session['user'] }>(res);
  return { cookie: cookieFrom(res), user: body.user };
}

export async function logIn(email: string, password = PASSWORD): Promise<Session> {
  const res = await api('/api/auth/login', { body: { email, password } });
  if (res.status !== 200) throw new Error(`login ${res.status}: ${await res.text()}`);
  const body = await json<{ user: Session['user'] }>(res);
  return { cookie: cookieFrom(res), user: body.user };
}

/** The superadmin from SUPERADMIN_EMAILS: signs up the first time in a test file's storage, logs in after. */
export async function superadmin(): Promise<Session> {
  const res = await api('/api/auth/signup', { body: { email: SUPERADMIN_EMAIL, password: PASSWORD } });
  if (res.status === 201) return { cookie: cookieFrom(res), user: (await json<{ user: Session['user'] }>(res)).user };
  return logIn(SUPERADMIN_EMAIL);
}

/** A new user made a read-only `admin` by the superadmin through the API. */
export async function adminUser(root?: Session): Promise<Session> {
  const s = await signUp(freshEmail('admin'));
  const res = await api(`/api/admin/users/${s.user.id}/roles`, { method: 'PUT', cookie: (root ?? (await superadmin())).cookie, body: { roles: ['admin'] } });
  if (res.status !== 200) throw new Error(`set roles ${res.status}: ${await res.text()}`);
  return { ...s, user: { ...s.user, roles: ['admin'] } };
}

/** The three sessions the admin API tests work with: the superadmin, a read-only admin it made, and a plain user. */
export async function adminSessions(): Promise<{ root: Session; admin: Session; plain: Session }> {
  const root = await superadmin();
  return { root, admin: await adminUser(root), plain: await signUp() };
}
