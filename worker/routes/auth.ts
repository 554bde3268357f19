import type { RouterType } from 'itty-router';
import { loginSchema, signupSchema, type OkAnswer, type UserAnswer } from '../contracts/auth';
import { json, readBody } from '../lib/http';
import { authenticate, clearSessionCookie, createSession, requireUser, revokeSession, sessionCookie, signup, type AuthUser } from '../services/auth';

async function withSession(request: Request, env: Env, user: AuthUser, status: number): Promise<Response> {
  const { token, expiresAt } = await createSession(env, user.id);
  return json({ user } satisfies UserAnswer, { status, headers: { 'set-cookie': sessionCookie(request, token, expiresAt) } });
}

/** Sign-up, sign-in, sign-out and the current user. */
export function registerAuthRoutes(router: RouterType) {
  // Signing up also signs in, so the page can go straight to /tokens.
  router.post('/api/auth/signup', async (request: Request, env: Env) => {
    const user = await signup(env, await readBody(request, signupSchema));
    return withSession(request, env, user, 201);
  });

  router.post('/api/auth/login', async (request: Request, env: Env) => {
    const body = await readBody(request, loginSchema);
    return withSession(request, env, await authenticate(env, body.email, body.password), 200);
  });

  router.post('/api/auth/logout', async (request: Request, env: Env) => {
    await revokeSession(request, env);
    return json({ ok: true } satisfies OkAnswer, { headers: { 'set-cookie': clearSessionCookie(request) } });
  });

  router.get('/api/me', async (request: Request, env: Env) => json({ user: await requireUser(request, env) } satisfies UserAnswer));
}
