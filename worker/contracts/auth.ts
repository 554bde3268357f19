import { z } from 'zod';
import { workspaceIdSchema } from './common';

/** Sign-up, sign-in and the current user (`/api/auth/*`, `/api/me`). */

export const ROLES = ['user', 'admin', 'superadmin'] as const;
export type Role = (typeof ROLES)[number];

export const signupSchema = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(8).max(200),
  workspaceId: workspaceIdSchema.optional(),
});
export type SignupInput = z.output<typeof signupSchema>;

// Login only bounds sizes: a password policy check here would tell attackers which
// guesses cannot be right and make old passwords unusable after a policy change.
export const loginSchema = z.strictObject({
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(200),
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
