import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage, post, type User } from '../api';
import { Field, Notice, fieldAria } from '../components/ui';
import { checkAuth } from '../forms/auth';

export function AuthPage(props: { mode: 'login' | 'signup'; onAuthed: (u: User) => void }) {
  const { mode } = props;
  const signup = mode === 'signup';
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<{ email?: string; password?: string }>({});
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    setError(null);
    setFieldErrors({});
    heading.current?.focus();
  }, [mode]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const checked = checkAuth(mode, { email, password });
    if (!checked.ok) {
      setFieldErrors(checked.errors);
      setError('Please fix the highlighted fields.');
      (checked.errors.email ? emailRef : passwordRef).current?.focus();
      return;
    }
    setFieldErrors({});
    setBusy(true);
    setError(null);
    try {
      const r = await post<{ user: User }>(signup ? '/api/auth/signup' : '/api/auth/login', checked.value);
      props.onAuthed(r.user);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  const next = new URLSearchParams(location.search).get('next');
  const other = signup ? '/login' : '/signup';
  const otherHref = next ? `${other}?next=${encodeURIComponent(next)}` : other;

  return (
    <div class="page auth">
      <div class="card auth-card">
        <h1 ref={heading} tabIndex={-1}>
          {signup ? 'Create your account' : 'Log in'}
        </h1>
        {signup ? <p class="lede">New accounts start with 10,000 free tokens.</p> : null}
        <Notice tone="error" assertive>
          {error}
        </Notice>
        <form onSubmit={submit} noValidate aria-label={signup ? 'Sign up' : 'Log in'}>
          <Field id="email" label="Email" error={fieldErrors.email}>
            <input
              ref={emailRef}
              {...fieldAria('email', fieldErrors.email)}
              name="email"
              type="email"
              autoComplete={signup ? 'email' : 'username'}
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          </Field>
          <Field id="password" label="Password" hint={signup ? 'At least 8 characters.' : undefined} error={fieldErrors.password}>
            <input
              ref={passwordRef}
              {...fieldAria('password', fieldErrors.password, signup)}
              name="password"
              type="password"
              autoComplete={signup ? 'new-password' : 'current-password'}
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </Field>
          <button type="submit" class="btn btn-primary btn-block" disabled={busy} aria-disabled={busy}>
            {busy ? (signup ? 'Creating account…' : 'Logging in…') : signup ? 'Sign up' : 'Log in'}
          </button>
        </form>
        <p class="switch">
          {signup ? 'Already have an account? ' : 'New here? '}
          <a href={otherHref}>{signup ? 'Log in' : 'Create an account'}</a>
        </p>
      </div>
    </div>
  );
}
