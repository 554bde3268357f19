import { useEffect, useState } from 'preact/hooks';

// A minimal history-API router: the Worker's SPA fallback serves index.html for every page path.

const listeners = new Set<() => void>();

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  if (to === location.pathname + location.search + location.hash) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const l of listeners) l();
}

addEventListener('popstate', () => {
  for (const l of listeners) l();
});

export function useLocation(): { path: string; search: string } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return { path: location.pathname.replace(/\/+$/, '') || '/', search: location.search };
}

/** Intercepts same-origin link clicks (without modifier keys) so pages change without a reload. */
export function onLinkClick(e: MouseEvent) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  // In-page anchors scroll natively (and move focus with them).
  if (url.pathname === location.pathname && url.search === location.search && url.hash) {
    const target = document.getElementById(decodeURIComponent(url.hash.slice(1)));
    const heading = target?.querySelector<HTMLElement>('h2[tabindex="-1"]');
    if (heading) setTimeout(() => heading.focus({ preventScroll: true }), 0);
    return;
  }
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}
