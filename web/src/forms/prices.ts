// The Prices section's form checks (admin only): what was typed → a price-book entry, validated
// with the contracts' zod/mini `priceEntrySchema` (the price book's shape and limits). The
// guardrail and the price book's own full-zod schema run on the server, which the editor asks
// for its preview as you type (POST /api/admin/prices/preview): the price-book code brings full
// zod, which the pages must not load (it would share zod's core with /tokens).
import * as z from 'zod/mini';
import type { PriceBookEntry } from '../../../worker/lib/price-book';
import { priceEntrySchema, type PriceClass } from '../../../worker/contracts/prices';
import { isWhole, type Checked, type FieldErrors } from './index';

/** The five classes every entry prices, and the optional 1-hour cache write (Anthropic). */
type TokenClass = PriceClass | 'cacheWrite1h';
export type { TokenClass as FormClass };
export const TOKEN_CLASSES = ['input', 'cachedInput', 'cacheWrite', 'cacheWrite1h', 'output', 'reasoning'] as const satisfies readonly TokenClass[];
/**
 * Left empty, the 1-hour cache write has no rate (or cost) of its own and is priced as a cache
 * write, as every entry made before the class existed is; the form keeps an entry's own figure,
 * so editing another field never drops it.
 */
const OPTIONAL = (c: TokenClass) => c === 'cacheWrite1h';

/** "0.025" → 25000 µUSD, exactly (the same rule as worker/lib/price-list.ts `usdToMicros`). */
export function usdToMicros(usd: string): number {
  const m = /^(\d{1,6})(?:\.(\d{1,6}))?$/.exec(usd);
  if (m === null) throw new RangeError(`not a USD amount with at most 6 decimals: ${JSON.stringify(usd)}`);
  return Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0'));
}


/** The check's result: the value (built only when nothing failed), or the messages. */
function result<T, K extends string>(errors: FieldErrors<K>, value: () => T): Checked<T, K> {
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value: value() };
}

/** One long-context tier as typed: above this many prompt tokens, these rates and costs apply. */
export interface TierForm {
  above: string;
  rates: Record<TokenClass, string>;
  costs: Record<TokenClass, string>;
}

/**
 * What the entry editor shows, as typed: rates in bps and provider costs in USD per 1M tokens;
 * image prices and the request fee in whole platform tokens (their provider costs in USD each);
 * image variants as `name=value` pairs, comma- or line-separated. An empty image price or request
 * fee means the entry has none.
 */
export interface EntryForm {
  id: string;
  provider: string;
  /** Comma-separated. */
  aliases: string;
  rates: Record<TokenClass, string>;
  costs: Record<TokenClass, string>;
  imagePrice: string;
  imageVariants: string;
  imageCost: string;
  imageCostVariants: string;
  requestFee: string;
  requestFeeCost: string;
  tiers: TierForm[];
}

type Extra = 'imagePrice' | 'imageVariants' | 'imageCost' | 'imageCostVariants' | 'requestFee' | 'requestFeeCost';
export type TierField = `tiers.${number}.above` | `tiers.${number}.rates.${TokenClass}` | `tiers.${number}.costs.${TokenClass}`;
export type EntryField = 'id' | 'provider' | 'aliases' | `rates.${TokenClass}` | `costs.${TokenClass}` | Extra | TierField | 'tiers' | 'entry';

export const CLASS_LABELS: Record<TokenClass, string> = {
  input: 'Input',
  cachedInput: 'Cached input',
  cacheWrite: 'Cache write',
  cacheWrite1h: 'Cache write (1 h)',
  output: 'Output',
  reasoning: 'Reasoning',
};

/** The editor's label of each field beyond the token classes (messages start with it). */
export const EXTRA_LABELS: Record<Extra, string> = {
  imagePrice: 'Price per image',
  imageVariants: 'Image variant prices',
  imageCost: 'Provider cost per image',
  imageCostVariants: 'Image variant provider costs',
  requestFee: 'Request fee',
  requestFeeCost: 'Provider cost per request',
};

/** Most long-context tiers an entry holds (the price book's MAX_LONG_CONTEXT_TIERS). */
export const MAX_TIERS = 4;

/** µUSD → "0.025" (exact: six decimals at most, trailing zeros dropped). */
export function microsToUsd(micros: number): string {
  const whole = Math.floor(micros / 1_000_000);
  const frac = String(micros % 1_000_000).padStart(6, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : String(whole);
}

const classStrings = (of: (c: TokenClass) => string) => Object.fromEntries(TOKEN_CLASSES.map((c) => [c, of(c)])) as Record<TokenClass, string>;
const pairs = (v: Record<string, number> | undefined, show: (n: number) => string) =>
  Object.entries(v ?? {})
    .map(([k, n]) => `${k}=${show(n)}`)
    .join(', ');

/** A blank tier for "Add a tier" (its costs start at 0, as a new entry's do). */
export const blankTier = (): TierForm => ({ above: '', rates: classStrings(() => ''), costs: classStrings((c) => (OPTIONAL(c) ? '' : '0')) });
/** A stored figure as the form shows it; an absent optional one (the 1-hour cache write) is empty. */
const shown = (v: number | undefined, show: (n: number) => string) => (v === undefined ? '' : show(v));

/** The editor's fields for an entry (or a new one). */
export function entryForm(e: PriceBookEntry | null): EntryForm {
  const pc = e?.providerCost;
  return {
    id: e?.id ?? '',
    provider: e?.provider ?? '',
    aliases: e?.aliases.join(', ') ?? '',
    rates: classStrings((c) => (e ? shown(e.rates[c], String) : '')),
    costs: classStrings((c) => (pc ? shown(pc[c], microsToUsd) : OPTIONAL(c) ? '' : '0')),
    imagePrice: e?.images ? String(e.images.perImage) : '',
    imageVariants: pairs(e?.images?.variants, String),
    imageCost: pc?.images ? microsToUsd(pc.images.perImage) : '',
    imageCostVariants: pairs(pc?.images?.variants, microsToUsd),
    requestFee: e?.requestFee === undefined ? '' : String(e.requestFee),
    requestFeeCost: pc?.requestFee === undefined ? '' : microsToUsd(pc.requestFee),
    tiers: (e?.longContext ?? []).map((t) => ({ above: String(t.aboveInputTokens), rates: classStrings((c) => shown(t.rates[c], String)), costs: classStrings((c) => shown(t.providerCost[c], microsToUsd)) })),
  };
}

const RATE_MSG = (label: string) => `${label} rate: enter a whole number of basis points (10,000 = 1 token per token).`;
const COST_MSG = (label: string) => `${label} provider cost: enter dollars per 1M tokens with at most 6 decimals, like 0.25.`;

/** "a=1, b=2" (or one per line) → { a: 1, b: 2 } read by `read`; null when a pair is malformed. */
function readPairs(text: string, read: (v: string) => number): Record<string, number> | null {
  const out: Record<string, number> = {};
  for (const part of text.split(/[,\n]/).map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    const name = part.slice(0, eq).trim();
    if (Object.hasOwn(out, name)) return null;
    try {
      const n = read(part.slice(eq + 1).trim());
      if (!Number.isFinite(n)) return null;
      out[name] = n;
    } catch {
      return null;
    }
  }
  return out;
}
const wholeOrNaN = (s: string) => (isWhole(s) ? Number(s.trim()) : NaN);

/** Where a schema issue shows: the editor field its path names. */
function fieldOf(path: readonly PropertyKey[]): EntryField {
  const [a, b, c, d] = path.map(String);
  const isClass = (k: string | undefined): k is TokenClass => (TOKEN_CLASSES as readonly string[]).includes(k ?? '');
  if (a === 'id' || a === 'provider' || a === 'aliases') return a;
  if (a === 'rates' && isClass(b)) return `rates.${b}`;
  if (a === 'images') return b === 'variants' ? 'imageVariants' : 'imagePrice';
  if (a === 'requestFee') return 'requestFee';
  if (a === 'providerCost') {
    if (isClass(b)) return `costs.${b}`;
    if (b === 'images') return c === 'variants' ? 'imageCostVariants' : 'imageCost';
    if (b === 'requestFee') return 'requestFeeCost';
  }
  if (a === 'longContext' && b !== undefined && /^\d+$/.test(b)) {
    if (c === 'aboveInputTokens') return `tiers.${Number(b)}.above`;
    if (c === 'rates' && isClass(d)) return `tiers.${Number(b)}.rates.${d}`;
    if (c === 'providerCost' && isClass(d)) return `tiers.${Number(b)}.costs.${d}`;
  }
  if (a === 'longContext') return 'tiers';
  return 'entry';
}

function labelOf(field: EntryField): string {
  if (field in EXTRA_LABELS) return EXTRA_LABELS[field as Extra];
  const m = /^(?:tiers\.(\d+)\.)?(rates|costs)\.(\w+)$/.exec(field);
  if (m) return `${m[1] === undefined ? '' : `Tier ${Number(m[1]) + 1} `}${CLASS_LABELS[m[3] as TokenClass]} ${m[2] === 'rates' ? 'rate' : 'provider cost'}`;
  const t = /^tiers\.(\d+)\.above$/.exec(field);
  if (t) return `Tier ${Number(t[1]) + 1} threshold`;
  return { id: 'Model id', provider: 'Provider', aliases: 'Aliases', tiers: 'Long-context tiers', entry: 'Entry' }[field as string] ?? field;
}

/**
 * The typed form → a price-book entry: every number read exactly (no float), then the whole
 * entry validated with the contracts' `priceEntrySchema` (zod/mini, the price book's shape and
 * limits), each issue shown at the field it names. `source`, `asOf` and `notes` are kept from
 * `base`; images, the request fee and long-context tiers are the form's (empty = none). The
 * server validates again with the price book's own schema and runs the guardrail.
 */
export function checkEntry(form: EntryForm, base: PriceBookEntry | null): Checked<PriceBookEntry, EntryField> {
  const errors: FieldErrors<EntryField> = {};
  const readClasses = (rs: Record<TokenClass, string>, cs: Record<TokenClass, string>, prefix: '' | `tiers.${number}.`) => {
    const rates = {} as Record<PriceClass, number> & { cacheWrite1h?: number };
    const costs = {} as Record<PriceClass, number> & { cacheWrite1h?: number };
    for (const c of TOKEN_CLASSES) {
      if (OPTIONAL(c) && rs[c].trim() === '' && cs[c].trim() === '') continue;
      const label = labelOf(`${prefix}rates.${c}` as EntryField).replace(/ rate$/, '');
      // One of the two alone is fine for the optional class: the other falls back to the cache write's.
      if (OPTIONAL(c) && rs[c].trim() === '') {
        /* no 1-hour rate of its own */
      } else if (!isWhole(rs[c])) errors[`${prefix}rates.${c}` as EntryField] = RATE_MSG(label);
      else rates[c] = Number(rs[c].trim());
      if (OPTIONAL(c) && cs[c].trim() === '') continue;
      try {
        costs[c] = usdToMicros(cs[c].trim());
      } catch {
        errors[`${prefix}costs.${c}` as EntryField] = COST_MSG(label);
      }
    }
    return { rates, costs };
  };
  const base0 = readClasses(form.rates, form.costs, '');
  const usd = (field: Extra, text: string): number | undefined => {
    if (text.trim() === '') return undefined;
    try {
      return usdToMicros(text.trim());
    } catch {
      errors[field] = `${EXTRA_LABELS[field]}: enter dollars with at most 6 decimals, like 0.04.`;
      return undefined;
    }
  };
  const tokens = (field: Extra, text: string): number | undefined => {
    if (text.trim() === '') return undefined;
    if (!isWhole(text)) errors[field] = `${EXTRA_LABELS[field]}: enter a whole number of platform tokens.`;
    return wholeOrNaN(text);
  };
  const imagePrice = tokens('imagePrice', form.imagePrice);
  const variants = readPairs(form.imageVariants, wholeOrNaN);
  if (variants === null) errors.imageVariants = `${EXTRA_LABELS.imageVariants}: write name=tokens pairs, like 1024x1024/standard=400, separated by commas.`;
  else if (imagePrice === undefined && Object.keys(variants).length > 0) errors.imagePrice = `${EXTRA_LABELS.imagePrice}: give the price of an image without a variant too.`;
  const imageCost = usd('imageCost', form.imageCost);
  const costVariants = readPairs(form.imageCostVariants, usdToMicros);
  if (costVariants === null) errors.imageCostVariants = `${EXTRA_LABELS.imageCostVariants}: write name=dollars pairs, like 1024x1024/standard=0.04, separated by commas.`;
  else if (imageCost === undefined && Object.keys(costVariants).length > 0) errors.imageCost = `${EXTRA_LABELS.imageCost}: give the cost of an image without a variant too.`;
  const requestFee = tokens('requestFee', form.requestFee);
  const requestFeeCost = usd('requestFeeCost', form.requestFeeCost);
  if (form.tiers.length > MAX_TIERS) errors.tiers = `Long-context tiers: at most ${MAX_TIERS}.`;
  const tiers = form.tiers.map((t, i) => {
    const above = wholeOrNaN(t.above);
    if (!isWhole(t.above)) errors[`tiers.${i}.above`] = `Tier ${i + 1} threshold: enter a whole number of prompt tokens.`;
    const { rates, costs } = readClasses(t.rates, t.costs, `tiers.${i}.`);
    return { aboveInputTokens: above, rates, providerCost: costs };
  });
  if (Object.keys(errors).length > 0) return { ok: false, errors };

  const { images: _i, requestFee: _r, longContext: _l, providerCost: _p, ...kept } = base ?? ({} as Partial<PriceBookEntry>);
  const candidate: PriceBookEntry = {
    ...kept,
    id: form.id.trim(),
    provider: form.provider.trim(),
    aliases: form.aliases
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
    rates: base0.rates,
    ...(imagePrice !== undefined ? { images: { perImage: imagePrice, variants: variants ?? {} } } : {}),
    ...(requestFee !== undefined ? { requestFee } : {}),
    ...(tiers.length > 0 ? { longContext: tiers } : {}),
    providerCost: {
      ...base0.costs,
      ...(imageCost !== undefined ? { images: { perImage: imageCost, variants: costVariants ?? {} } } : {}),
      ...(requestFeeCost !== undefined ? { requestFee: requestFeeCost } : {}),
    },
  };
  const parsed = z.safeParse(priceEntrySchema, candidate);
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    const field = fieldOf(issue.path);
    errors[field] ??= `${labelOf(field)}: ${issue.message}`;
  }
  return result(errors, () => candidate);
}

/** Sample usage fields of the preview, as typed → counts (blank = 0). */
export function checkSample(form: Partial<Record<'inputTokens' | 'cachedInputTokens' | 'outputTokens' | 'reasoningTokens' | 'images', string>>): Checked<Record<string, number>, string> {
  const errors: FieldErrors = {};
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(form)) {
    const max = k === 'images' ? 100 : 1_000_000_000;
    if (v === undefined || v.trim() === '') out[k] = 0;
    else if (!isWhole(v) || Number(v) > max) errors[k] = k === 'images' ? 'Sample call: enter a whole number of images up to 100.' : 'Sample call: enter whole numbers of tokens up to 1,000,000,000.';
    else out[k] = Number(v);
  }
  return result(errors, () => out);
}
