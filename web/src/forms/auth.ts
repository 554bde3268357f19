// Sign-up and log-in form.
import { result, type Checked, type FieldErrors } from '.';

export interface AuthBody {
  email: string;
  password: string;
  // No workspace: every new user gets one of their own, so nobody can join another's (see signupSchema).
}

/** Sign-up and log-in: an email address and a password (at least 8 characters for a new account). */
export function checkAuth(mode: 'login' | 'signup', form: { email: string; password: string }): Checked<AuthBody, 'email' | 'password'> {
  const errors: FieldErrors<'email' | 'password'> = {};
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.email.trim())) errors.email = 'Enter an email address like name@example.com.';
  if (!form.password) errors.password = 'Enter your password.';
  else if (mode === 'signup' && form.password.length < 8) errors.password = 'Use at least 8 characters.';
  return result(errors, (): AuthBody => ({ email: form.email.trim(), password: form.password }));
}
