// Sign-up and log-in form.
import { loginSchema, signupSchema } from '../../../worker/contracts/auth';
import * as z from 'zod/mini';
import { validateWith, type Checked } from '.';

export interface AuthBody {
  email: string;
  password: string;
  // No workspace: every new user gets one of their own, so nobody can join another's (see signupSchema).
}

/** Log-in takes any stored email, but a person typing one is told at once when it cannot be an address. */
const loginForm = z.extend(loginSchema, { email: signupSchema.shape.email });

/** Sign-up and log-in: an email address and a password (at least 8 characters for a new account). */
export function checkAuth(mode: 'login' | 'signup', form: { email: string; password: string }): Checked<AuthBody, 'email' | 'password'> {
  return validateWith(mode === 'signup' ? signupSchema : loginForm, { email: form.email.trim(), password: form.password }, {
    email: { key: 'email', message: (i) => (i.code === 'too_big' ? undefined : 'Enter an email address like name@example.com.') },
    password: { key: 'password', message: (i) => (!form.password ? 'Enter your password.' : i.code === 'too_small' ? 'Use at least 8 characters.' : undefined) },
  });
}
