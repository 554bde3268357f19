const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dec = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const usdFine = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 3 });
const dateTime = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium' });

/** 10000 → "10,000". */
export const tokens = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '—' : int.format(n));
export const num = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '—' : dec.format(n));
/** "+10,000" / "−7,500" with a real minus sign. */
export const signedTokens = (n: number) => (n > 0 ? '+' : n < 0 ? '\u2212' : '') + int.format(Math.abs(n));
export const cents = (c: number | null | undefined) => (c === null || c === undefined || !Number.isFinite(c) ? '—' : usd.format(c / 100));
/** Price per 1,000 tokens, e.g. 1500 ¢ for 150,000 tokens → "$0.10". */
export const per1000 = (priceCents: number, tokenCount: number) => (tokenCount > 0 ? usdFine.format(priceCents / 100 / (tokenCount / 1000)) : '—');
export const percent = (p: number | null | undefined) => (p === null || p === undefined || !Number.isFinite(p) ? '—' : `${dec.format(p)}%`);

function toDate(v: number | string | null | undefined): Date | null {
  if (v === null || v === undefined || v === '') return null;
  const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}
export const when = (v: number | string | null | undefined) => {
  const d = toDate(v);
  return d ? dateTime.format(d) : '—';
};
export const day = (v: number | string | null | undefined) => {
  const d = toDate(v);
  return d ? dateOnly.format(d) : '—';
};
export const isoDateTime = (v: number | string | null | undefined) => toDate(v)?.toISOString() ?? '';

export const TX_LABELS: Record<string, string> = {
  bonus: 'Welcome bonus',
  usage: 'Usage',
  purchase: 'Purchase',
  auto_recharge: 'Auto-recharge',
  admin_grant: 'Admin grant',
  refund: 'Refund',
  dispute: 'Dispute',
  adjustment: 'Adjustment',
  expiry: 'Expired grant',
};
export const TX_TYPES = Object.keys(TX_LABELS);
export const txLabel = (t: string) => TX_LABELS[t] ?? t;
