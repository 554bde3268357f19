import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage, get, type Page, type Query } from '../api';

/** A paged list's state, as {@link usePaged} returns it; `load(true)` fetches the next page. */
export interface Paged<T> {
  items: T[];
  /** Where the next page starts; null on the last page. */
  cursor: string | null;
  loading: boolean;
  error: string | null;
  load: (more: boolean) => Promise<void>;
}

/**
 * A cursor-paged list from the API: the first page whenever `deps` change, `load(true)` for the
 * next one. `onPage` runs after each page arrives (announcements, focus). Only the latest
 * request's answer is applied, so a slow answer for old filters cannot overwrite newer ones.
 */
export function usePaged<T>(path: string, query: Query, deps: unknown[], onPage?: (page: Page<T>, more: boolean) => void): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef(0);
  const load = async (more: boolean) => {
    const id = ++latest.current;
    setLoading(true);
    setError(null);
    try {
      const page = await get<Page<T>>(path, { ...query, cursor: more ? cursor : undefined });
      if (id !== latest.current) return;
      setItems((prev) => (more ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor ?? null);
      onPage?.(page, more);
    } catch (e) {
      if (id === latest.current) setError(errorMessage(e));
    } finally {
      if (id === latest.current) setLoading(false);
    }
  };
  useEffect(() => {
    void load(false);
  }, deps);
  return { items, cursor, loading, error, load };
}
