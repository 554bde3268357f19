import { render, type ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, post, setUnauthorizedHandler, type User } from './api';
import { AuthPage } from './pages/auth';
import { navigate, onLinkClick, useLocation } from './router';
import { Spinner } from './components/ui';

// Pages other than sign-up/login are split into their own chunks and loaded on first visit.
type PageProps = { user: User };
const loaders: Record<string, () => Promise<ComponentType<PageProps>>> = {
  '/tokens': () => import('./pages/tokens').then((m) => m.TokensPage),
  '/admin/tokens': () => import('./pages/admin').then((m) => m.AdminPage),
};
const loaded: Record<string, ComponentType<PageProps>> = {};

const TITLES: Record<string, string> = {
  '/login': 'Log in',
  '/signup': 'Sign up',
  '/tokens': 'Tokens',
  '/admin/tokens': 'Token billing admin',
};

export const isAdmin = (u: User | null | undefined) => !!u && (u.roles.includes('admin') || u.roles.includes('superadmin'));

function App() {
  const { path } = useLocation();
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [, force] = useState(0);

  useEffect(() => {
    get<{ user: User }>('/api/me')
      .then((r) => setUser(r.user))
      .catch(() => setUser(null));
    setUnauthorizedHandler(() => {
      setUser(null);
      navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
    });
  }, []);

  useEffect(() => {
    document.title = `${TITLES[path] ?? 'Not found'} · Token billing`;
  }, [path]);

  // Redirects: "/" and protected pages without a session; auth pages with one.
  useEffect(() => {
    if (user === undefined) return;
    if (path === '/') navigate(user ? '/tokens' : '/login', { replace: true });
    else if (!user && loaders[path]) navigate(`/login?next=${encodeURIComponent(path + location.search)}`, { replace: true });
    else if (user && (path === '/login' || path === '/signup')) navigate(safeNext() ?? '/tokens', { replace: true });
  }, [user, path]);

  // Load the page's chunk.
  useEffect(() => {
    const load = loaders[path];
    if (load && !loaded[path]) {
      load().then((c) => {
        loaded[path] = c;
        force((n) => n + 1);
      });
    }
  }, [path]);

  const logout = async () => {
    try {
      await post('/api/auth/logout');
    } catch {
      /* the session is gone either way */
    }
    setUser(null);
    navigate('/login', { replace: true });
  };

  let content;
  if (user === undefined) content = <Spinner />;
  else if (path === '/login' || path === '/signup') content = user ? <Spinner /> : <AuthPage mode={path === '/login' ? 'login' : 'signup'} onAuthed={setUser} />;
  else if (loaders[path]) {
    const Page = loaded[path];
    content = !user || !Page ? <Spinner /> : <Page user={user} />;
  } else if (path === '/') content = <Spinner />;
  else
    content = (
      <div class="page narrow">
        <h1 tabIndex={-1}>Page not found</h1>
        <p>
          There is nothing at <code>{path}</code>. Go to <a href="/tokens">your tokens</a>.
        </p>
      </div>
    );

  return (
    <div class="shell" onClick={onLinkClick}>
      <a class="skip-link" href="#main">
        Skip to main content
      </a>
      <header class="topbar">
        <div class="topbar-inner">
          <a class="brand" href={user ? '/tokens' : '/login'}>
            <span class="brand-mark" aria-hidden="true" />
            Token billing
          </a>
          {user ? (
            <nav aria-label="Main">
              <ul class="nav">
                <li>
                  <a href="/tokens" aria-current={path === '/tokens' ? 'page' : undefined}>
                    Tokens
                  </a>
                </li>
                {isAdmin(user) ? (
                  <li>
                    <a href="/admin/tokens" aria-current={path === '/admin/tokens' ? 'page' : undefined}>
                      Admin
                    </a>
                  </li>
                ) : null}
              </ul>
            </nav>
          ) : null}
          {user ? (
            <div class="account-menu">
              <span class="who" title={user.email}>
                {user.email}
              </span>
              <button type="button" class="btn btn-quiet" onClick={logout}>
                Log out
              </button>
            </div>
          ) : null}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {content}
      </main>
    </div>
  );
}

function safeNext(): string | null {
  const next = new URLSearchParams(location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : null;
}

render(<App />, document.getElementById('app')!);
