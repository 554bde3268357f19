// The Prices section's form checks (admin only): what was typed → a price-book entry. The entry's
// full rules (the price book's own zod schema, the guardrail) run on the server, which the
// editor asks for its preview as you type (POST /api/admin/prices/preview): the price-book code
// brings full zod, which the pages must not load (it would share zod's core with /tokens).
import type { PriceBookEntry } from '../../../worker/lib/price-book';
import type { PriceClass as TokenClass } from '../../../worker/contracts/prices';
import { isWhole, type Checked, type FieldErrors } from './index';

export const TOKEN_CLASSES = ['input', 'cachedInput', 'cacheWrite', 'output', 'reasoning'] as const satisfies readonly TokenClass[];

/** "0.025" → 25000 µUSD, exactly (the same rule as worker/lib/price-list.ts `usdToMicros`). */
export function usdToMicros(usd: string): number {
  const m = /^(\d{1,6})(?:\.(\d{1,6}))?$/.exec(usd);
  if (m === null) throw new RangeError(`not a USD amount with at most 6 decimals: ${JSON.stringify(usd)}`);
  return Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0'));
}

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9_\-:./]{0,99}$/;
const PROVIDER = /^[a-z0-9][a-z0-9_-]{0,39}$/;

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
 * fee, long-context tiers, source and notes) from `base`. The server checks the rest with the
 * price book's own schema (the editor's live preview shows its answer).
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
  if (!MODEL_ID.test(candidate.id)) errors.id = 'Model id: letters, digits and _ - : . / only, starting with a letter or digit.';
  if (!PROVIDER.test(candidate.provider)) errors.provider = 'Provider: lower-case letters, digits, _ and - only.';
  if (aliases.some((a) => !MODEL_ID.test(a))) errors.aliases = 'Aliases: model ids separated by commas.';
  for (const c of TOKEN_CLASSES) if (rates[c] > 1_000_000) errors[`rates.${c}`] = `${CLASS_LABELS[c]} rate: at most 1,000,000 bps (100 tokens per token).`;
  return result(errors, () => candidate as PriceBookEntry);
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
