import * as z from 'zod/mini';

/** Sign-up, sign-in and the current user (`/api/auth/*`, `/api/me`). */

export const ROLES = ['user', 'admin', 'superadmin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Sign-up takes no workspace: each user gets a workspace of their own (`ws_<user id>`).
 * A typed `workspaceId` would let anyone put themselves into someone else's workspace, so
 * the field is gone and, the object being strict, sending it is a 400.
 */
export const signupSchema = z.strictObject({
  email: z.email().check(z.maxLength(254)),
  password: z.string().check(z.minLength(8), z.maxLength(200)),
});
export type SignupInput = z.output<typeof signupSchema>;

// Login only bounds sizes: a password policy check here would tell attackers which
// guesses cannot be right and make old passwords unusable after a policy change.
export const loginSchema = z.strictObject({
  email: z.string().check(z.minLength(1), z.maxLength(254)),
  password: z.string().check(z.minLength(1), z.maxLength(200)),
});

/** A signed-in user as every answer shows them. */
export interface User {
  id: string;
  email: string;
  roles: Role[];
  workspaceId: string;
}

/** `POST /api/auth/signup`, `POST /api/auth/login`, `GET /api/me`. */
export interface UserAnswer {
  user: User;
}

/** `POST /api/auth/logout` (and `GET /api/health`). */
export interface OkAnswer {
  ok: true;
}
