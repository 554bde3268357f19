import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api';

/** What {@link useLoad} hands a section: the latest answer, the latest failure, and a way to ask again. */
export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/**
 * One answer from the API, fetched whenever `deps` change and again on `reload()`. The previous
 * data stays on screen while a new request runs (sections show it rather than a spinner), and an
 * answer that arrives after the deps changed or the section unmounted is dropped.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load()
      .then((d) => live && (setData(d), setError(null)))
      .catch((e) => live && setError(errorMessage(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}
