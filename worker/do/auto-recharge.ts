/** Caps that keep a bug or a runaway loop from draining a card. */
export const AUTO_RECHARGE_MAX_PER_HOUR = 3;
/** Monthly spend cap when the user sets none: $1,000. */
export const DEFAULT_MONTHLY_LIMIT_CENTS = 100_000;
const MAX_RETRY_BACKOFF_MS = 15 * 60_000;

export function monthKey(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

/** Why a new recharge may not start now, or null when it may. */
export function capExceeded(
  a: { ar_window_hour_start: number; ar_window_hour_count: number; ar_window_month: string; ar_window_month_cents: number; ar_monthly_limit_cents: number | null; ar_price_cents: number },
  now: number,
): string | null {
  const hourCount = now - a.ar_window_hour_start < 3600_000 ? a.ar_window_hour_count : 0;
  if (hourCount >= AUTO_RECHARGE_MAX_PER_HOUR) return `hourly cap reached (${AUTO_RECHARGE_MAX_PER_HOUR} recharges per hour)`;
  const monthCents = a.ar_window_month === monthKey(now) ? a.ar_window_month_cents : 0;
  const limit = a.ar_monthly_limit_cents ?? DEFAULT_MONTHLY_LIMIT_CENTS;
  if (monthCents + a.ar_price_cents > limit) return `monthly limit reached ($${(limit / 100).toFixed(2)})`;
  return null;
}

/** 2 s, 4 s, 8 s … capped at 15 minutes: Stripe outages are retried with the same key. */
export function rechargeBackoffMs(attempts: number): number {
  return Math.min(MAX_RETRY_BACKOFF_MS, 1000 * 2 ** attempts);
}
