// Same-origin JSON client for the Worker's /api routes. Errors arrive as { error: { code, message } }.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

let onUnauthorized: (() => void) | undefined;
/** Called when a request (other than /api/me and the auth forms) answers 401: the session ended. */
export function setUnauthorizedHandler(fn: () => void) {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Could not reach the server. Check your connection and try again.');
  }
  const text = await res.text();
  let data: any = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const err = data?.error;
    const message = typeof err?.message === 'string' && err.message ? err.message : `Request failed (${res.status})`;
    if (res.status === 401 && !path.startsWith('/api/auth/') && path !== '/api/me') onUnauthorized?.();
    throw new ApiError(res.status, typeof err?.code === 'string' ? err.code : 'http_' + res.status, message);
  }
  return data as T;
}

export const get = <T>(path: string, query?: Query) => api<T>('GET', withQuery(path, query));
export const post = <T>(path: string, body: unknown = {}) => api<T>('POST', path, body);
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

// ---- Shapes of the API answers: the Worker's contracts (worker/contracts), types only. ----

export type { User } from '../../worker/contracts/auth';
export type { Page } from '../../worker/contracts/common';
export type {
  AccountOverview as Account,
  AutoRechargeView as AutoRecharge,
  AutoRechargeAnswer,
  GrantsAnswer,
  GrantView,
  PackagesAnswer,
  PublicPackage as Package,
  Transaction,
  UsageSummary as Usage,
} from '../../worker/contracts/account';
