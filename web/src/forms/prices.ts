// The Prices section's form checks (admin only). They run the Worker's own price-book code
// (worker/lib/price-book.ts and price-list.ts, pure and shared by design: docs/pricing.md) so the
// page refuses exactly what POST /api/admin/prices/versions refuses, before the round trip.
import { priceBookEntrySchema, TOKEN_CLASSES, type PriceBookEntry, type TokenClass } from '../../../worker/lib/price-book';
import { marginCheck, usdToMicros, type MarginLine } from '../../../worker/lib/price-list';
import { isWhole, type Checked, type FieldErrors } from './index';

/** The check's result: the value (built only when nothing failed), or the messages. */
function result<T, K extends string>(errors: FieldErrors<K>, value: () => T): Checked<T, K> {
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value: value() };
}

/** What the entry editor shows: rates in bps and provider costs in USD per 1M tokens, as typed. */
export interface EntryForm {
  id: string;
  provider: string;
  /** Comma-separated. */
  aliases: string;
  rates: Record<TokenClass, string>;
  costs: Record<TokenClass, string>;
}

export type EntryField = 'id' | 'provider' | 'aliases' | `rates.${TokenClass}` | `costs.${TokenClass}` | 'entry';

export const CLASS_LABELS: Record<TokenClass, string> = {
  input: 'Input',
  cachedInput: 'Cached input',
  cacheWrite: 'Cache write',
  output: 'Output',
  reasoning: 'Reasoning',
};

/** µUSD → "0.025" (exact: six decimals at most, trailing zeros dropped). */
export function microsToUsd(micros: number): string {
  const whole = Math.floor(micros / 1_000_000);
  const frac = String(micros % 1_000_000).padStart(6, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : String(whole);
}

/** The editor's fields for an entry (or a new one). */
export function entryForm(e: PriceBookEntry | null): EntryForm {
  const rates = {} as Record<TokenClass, string>;
  const costs = {} as Record<TokenClass, string>;
  for (const c of TOKEN_CLASSES) {
    rates[c] = e ? String(e.rates[c]) : '';
    costs[c] = e ? microsToUsd(e.providerCost[c]) : '0';
  }
  return { id: e?.id ?? '', provider: e?.provider ?? '', aliases: e?.aliases.join(', ') ?? '', rates, costs };
}

/**
 * The typed form → a price-book entry, keeping what the editor does not show (images, request
 * fee, long-context tiers, source and notes) from `base`; then the price book's own schema.
 */
export function checkEntry(form: EntryForm, base: PriceBookEntry | null): Checked<PriceBookEntry, EntryField> {
  const errors: FieldErrors<EntryField> = {};
  const rates = {} as Record<TokenClass, number>;
  const costs = {} as Record<TokenClass, number>;
  for (const c of TOKEN_CLASSES) {
    if (!isWhole(form.rates[c])) errors[`rates.${c}`] = `${CLASS_LABELS[c]} rate: enter a whole number of basis points (10,000 = 1 token per token).`;
    else rates[c] = Number(form.rates[c]);
    try {
      costs[c] = usdToMicros(form.costs[c].trim());
    } catch {
      errors[`costs.${c}`] = `${CLASS_LABELS[c]} provider cost: enter dollars per 1M tokens with at most 6 decimals, like 0.25.`;
    }
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const aliases = form.aliases
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const candidate = {
    ...(base ?? {}),
    id: form.id.trim(),
    provider: form.provider.trim(),
    aliases,
    rates,
    providerCost: { ...(base?.providerCost ?? {}), ...costs },
  };
  const parsed = priceBookEntrySchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [head, sub] = issue.path as (string | number)[];
      const field: EntryField =
        head === 'id' || head === 'provider' || head === 'aliases' ? head : head === 'rates' && typeof sub === 'string' ? `rates.${sub as TokenClass}` : head === 'providerCost' && typeof sub === 'string' && (TOKEN_CLASSES as readonly string[]).includes(sub) ? `costs.${sub as TokenClass}` : 'entry';
      errors[field] ??= `${fieldLabel(field)}: ${issue.message}`;
    }
  }
  return result(errors, () => parsed.data as PriceBookEntry);
}

function fieldLabel(f: EntryField): string {
  if (f === 'id') return 'Model id';
  if (f === 'provider') return 'Provider';
  if (f === 'aliases') return 'Aliases';
  if (f === 'entry') return 'Entry';
  const [kind, c] = f.split('.') as ['rates' | 'costs', TokenClass];
  return `${CLASS_LABELS[c]} ${kind === 'rates' ? 'rate' : 'provider cost'}`;
}

/** The guardrail as the server applies it: the lines below provider cost × (1 + minimum margin). */
export function belowMargin(entry: PriceBookEntry, tokensPerUsd: number, minMarginBps: number): MarginLine[] {
  return marginCheck(entry, tokensPerUsd, minMarginBps).lines.filter((l) => !l.ok);
}

/** Sample usage fields of the preview, as typed → counts (blank = 0). */
export function checkSample(form: Record<'inputTokens' | 'cachedInputTokens' | 'outputTokens' | 'reasoningTokens', string>): Checked<Record<string, number>, string> {
  const errors: FieldErrors = {};
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(form)) {
    if (v.trim() === '') out[k] = 0;
    else if (!isWhole(v) || Number(v) > 1_000_000_000) errors[k] = 'Sample call: enter whole numbers of tokens up to 1,000,000,000.';
    else out[k] = Number(v);
  }
  return result(errors, () => out);
}
