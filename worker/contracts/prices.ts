import * as z from 'zod/mini';
import { cursorParam, idempotencyKeySchema, intIn, limitParam, modelSchema } from './common';

/**
 * The price book's API (issue 10): the admin's `/api/admin/prices…` and the user's
 * `/api/prices`. An entry's own schema is `priceBookEntrySchema` in worker/lib/price-book.ts
 * (it also describes provider price lists, a data file); these request schemas bound the
 * envelope and the service validates each entry with that schema. The entry shapes below mirror
 * `PriceBookEntry` for the browser (contracts import only zod): the service assigns the lib's
 * type to them, so the compiler keeps the two in step.
 */

/** The five token classes, in the order charges itemise them (worker/lib/price-book.ts `TOKEN_CLASSES`). */
export const PRICE_CLASSES = ['input', 'cachedInput', 'cacheWrite', 'output', 'reasoning'] as const;
export type PriceClass = (typeof PRICE_CLASSES)[number];

/**
 * bps of a platform token per model token (10,000 = 1 token per token). `cacheWrite1h`, the
 * 1-hour cache write (Anthropic), is optional: absent, it is priced at `cacheWrite`.
 */
export type PriceRates = Record<PriceClass, number> & { cacheWrite1h?: number };

export interface PriceImages {
  perImage: number;
  variants: Record<string, number>;
}

/** A price-book entry as the admin API shows it (`PriceBookEntry`). */
export interface PriceEntry {
  id: string;
  provider: string;
  aliases: string[];
  rates: PriceRates;
  images?: PriceImages;
  requestFee?: number;
  longContext?: { aboveInputTokens: number; rates: PriceRates; providerCost: PriceRates }[];
  /** µUSD per 1M model tokens (per image, per request). */
  providerCost: PriceRates & { images?: PriceImages; requestFee?: number };
  source?: string;
  asOf?: string;
  notes?: string;
}

/** A version's header: who made it, when it applies, why. */
export interface PriceVersionInfo {
  version: number;
  effectiveAt: number;
  createdAt: number;
  createdBy: string;
  reason: string | null;
  /** Set when a superadmin overrode the minimum-margin guardrail. */
  overrideReason: string | null;
  entryCount: number;
}

/** One priced thing of an entry against its provider cost (worker/lib/price-list.ts `marginCheck`). */
export interface PriceMarginLine {
  /** null for the base rates, else the long-context tier index. */
  tier: number | null;
  /** A token class, `image`, `image:<variant>` or `request`. */
  kind: string;
  /** Revenue in µUSD per 1M model tokens (token classes) or per image/request, floored for display. */
  revenueMicros: number;
  costMicros: number;
  /** floor((revenue − cost) / revenue × 10,000); null when the revenue is 0. */
  marginBps: number | null;
  /** revenue ≥ cost × (1 + minMarginBps / 10,000), compared exactly. */
  ok: boolean;
}

/** `GET /api/admin/prices`: the book in force now (version null = the seed's pricing, no version stored yet) and the next scheduled version. */
export interface AdminPriceBookAnswer {
  current: (PriceVersionInfo | { version: null; effectiveAt: null }) & { entries: PriceEntry[] };
  /** The newest version; equal to `current` unless one is scheduled. New changes build on it. */
  latestVersion: number | null;
  next: PriceVersionInfo | null;
  tokensPerUsd: number;
  minMarginBps: number;
  /** Per entry id: whether it passes the guardrail now, and its lowest margin (bps of revenue; null when it earns nothing). */
  margins: Record<string, { ok: boolean; lowestMarginBps: number | null }>;
}

// ---------------------------------------------------------------- an entry, for the browser

// The limits of worker/lib/price-book.ts (MAX_RATE_BPS, MAX_IMAGE_PRICE_TOKENS, …), restated
// here because contracts import only zod; test/contracts/prices-entry.test.ts checks that
// this schema and the lib's `priceBookEntrySchema` agree on every entry of data/model-prices.json
// and on the limits.
const ENTRY_ID = /^[A-Za-z0-9][A-Za-z0-9_\-:./]*$/;
const entryId = (max: number) => z.string().check(z.minLength(1), z.maxLength(max), z.regex(ENTRY_ID, 'letters, digits and _ - : . / only, starting with a letter or digit'));
const rateBps = intIn(0, 1_000_000);
const costMicros = intIn(0, 1_000_000_000);
const classShape = <T extends z.core.$ZodType>(v: T) => ({ input: v, cachedInput: v, cacheWrite: v, cacheWrite1h: z.optional(v), output: v, reasoning: v });
const imagePricesSchema = (max: number) =>
  z.strictObject({
    perImage: intIn(0, max),
    variants: z.record(entryId(64), intIn(0, max)).check(z.refine((v) => Object.keys(v).length <= 32, 'at most 32 variants')),
  });

/**
 * One price-book entry in zod/mini: the shape and limits of `priceBookEntrySchema`
 * (worker/lib/price-book.ts), which the service still applies; the admin editor validates with
 * this one so the page never bundles full zod.
 */
export const priceEntrySchema = z
  .strictObject({
    id: entryId(100),
    provider: z.string().check(z.minLength(1), z.maxLength(40), z.regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, _ and - only')),
    aliases: z.array(entryId(100)).check(z.maxLength(32)),
    rates: z.strictObject(classShape(rateBps)),
    images: z.optional(imagePricesSchema(1_000_000_000)),
    requestFee: z.optional(intIn(0, 1_000_000_000)),
    longContext: z.optional(
      z
        .array(z.strictObject({ aboveInputTokens: intIn(1, 3_000_000_000), rates: z.strictObject(classShape(rateBps)), providerCost: z.strictObject(classShape(costMicros)) }))
        .check(z.minLength(1), z.maxLength(4)),
    ),
    providerCost: z.strictObject({ ...classShape(costMicros), images: z.optional(imagePricesSchema(1_000_000_000)), requestFee: z.optional(costMicros) }),
    source: z.optional(z.string().check(z.maxLength(500), z.regex(/^https:\/\/[^\s]+$/, 'an https URL'))),
    asOf: z.optional(z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD'))),
    notes: z.optional(z.string().check(z.maxLength(1000))),
  })
  .check(
    z.refine((e) => new Set([e.id, ...e.aliases]).size === e.aliases.length + 1, { message: 'an alias repeats the id or another alias', path: ['aliases'] }),
    z.refine((e) => (e.longContext ?? []).every((t, i, all) => i === 0 || t.aboveInputTokens > all[i - 1].aboveInputTokens), {
      message: 'tiers must be in strictly ascending aboveInputTokens',
      path: ['longContext'],
    }),
  );

/** `GET /api/admin/prices/versions/:version`. */
export interface PriceVersionAnswer {
  version: PriceVersionInfo & { entries: PriceEntry[] };
}

/** `GET /api/admin/prices/versions`: newest first. */
export interface PriceVersionsPage {
  items: PriceVersionInfo[];
  nextCursor: string | null;
}

export const priceVersionsQuery = z.object({ cursor: z.optional(cursorParam), limit: z._default(limitParam, 20) });
export type PriceVersionsQuery = z.output<typeof priceVersionsQuery>;

export const priceVersionParam = z.coerce.number().check(z.int(), z.gte(1), z.lte(Number.MAX_SAFE_INTEGER));

/** Most entries in one book (bounds validation work and the row's size). */
export const MAX_BOOK_ENTRIES = 500;

/** An entry before the service validates it with the price book's own schema. */
const rawEntry = z.record(z.string(), z.unknown());

const reasonSchema = z.string().check(z.trim(), z.minLength(1), z.maxLength(500));

/** Common to every write: when it applies (ms; default now), why, the guardrail override, a retry key. */
const versionMeta = {
  effectiveAt: z.optional(intIn(0, 8_640_000_000_000_000)),
  reason: z.optional(reasonSchema),
  /** Superadmins only: accept prices below provider cost × (1 + minimum margin); audited. */
  override: z.optional(z.strictObject({ reason: reasonSchema })),
  idempotencyKey: z.optional(idempotencyKeySchema),
};

/**
 * `POST /api/admin/prices/versions`: exactly one of the whole book (`entries`), one entry added
 * or replaced by id (`entry`), or one entry removed (`remove`; never `default`). Each makes
 * one new version on top of the newest one.
 */
export const priceVersionSchema = z
  .strictObject({
    entries: z.optional(z.array(rawEntry).check(z.minLength(1), z.maxLength(MAX_BOOK_ENTRIES))),
    entry: z.optional(rawEntry),
    remove: z.optional(modelSchema),
    ...versionMeta,
  })
  .check(z.refine((v) => [v.entries, v.entry, v.remove].filter((x) => x !== undefined).length === 1, 'give exactly one of entries, entry or remove'));
export type PriceVersionInput = z.output<typeof priceVersionSchema>;

/** `POST /api/admin/prices/import`: a provider price list (the format of data/model-prices.json); `apply` makes it one new version, else only the diff is answered. */
export const priceImportSchema = z.strictObject({
  list: z.record(z.string(), z.unknown()),
  /** Shown in the version's reason (`import <fileName>`). */
  fileName: z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(200))),
  apply: z._default(z.boolean(), false),
  ...versionMeta,
});
export type PriceImportInput = z.output<typeof priceImportSchema>;

/** A sample call for the preview (absent classes are 0). */
export const sampleUsageSchema = z.strictObject({
  inputTokens: z.optional(intIn(0, 1_000_000_000)),
  cachedInputTokens: z.optional(intIn(0, 1_000_000_000)),
  cacheWriteTokens: z.optional(intIn(0, 1_000_000_000)),
  /** 1-hour cache writes, apart from `cacheWriteTokens` (the sample is in the price book's classes, each token in one). */
  cacheWrite1hTokens: z.optional(intIn(0, 1_000_000_000)),
  outputTokens: z.optional(intIn(0, 1_000_000_000)),
  reasoningTokens: z.optional(intIn(0, 1_000_000_000)),
  images: z.optional(intIn(0, 100)),
});
export type SampleUsage = z.output<typeof sampleUsageSchema>;

/** The preview's default sample call: 1,000 in / 500 out / 2,000 cached. */
export const DEFAULT_SAMPLE: SampleUsage = { inputTokens: 1000, outputTokens: 500, cachedInputTokens: 2000 };

/** `POST /api/admin/prices/preview`: what `usage` on `model` costs by the current book and with `entry` in it. */
export const pricePreviewSchema = z.strictObject({ model: modelSchema, entry: z.optional(rawEntry), usage: z._default(sampleUsageSchema, DEFAULT_SAMPLE) });
export type PricePreviewInput = z.output<typeof pricePreviewSchema>;

/** The cost of one call by one book. `tokens` null when the book cannot price it (e.g. an image model without image prices). */
export interface PreviewCost {
  /** The entry that priced the call (the model's own or `default`); null when none could. */
  entryId: string | null;
  tokens: number | null;
  /** `tokens` in µUSD at the settings' tokens per USD, rounded down (display only), and what it costs at the provider. */
  revenueMicros: number | null;
  providerCostMicros: number | null;
  lines: { kind: string; quantity: number; rate: number; numerator: number }[];
  error: string | null;
}

export interface PricePreviewAnswer {
  model: string;
  usage: SampleUsage;
  before: PreviewCost;
  after: PreviewCost;
  /** The proposed entry's lines below provider cost × (1 + minMarginBps): saving it needs `override`. */
  belowMargin: PriceMarginLine[];
  minMarginBps: number;
}

/** What an import would change (`PriceBookDiff`). */
export interface PriceDiff {
  added: PriceEntry[];
  changed: { id: string; changes: { field: string; from: unknown; to: unknown }[] }[];
  removed: PriceEntry[];
  unchanged: string[];
}

/** `POST /api/admin/prices/import`: the diff against the newest version; `version` when applied. */
export interface PriceImportAnswer {
  diff: PriceDiff;
  applied: boolean;
  /** The version made (applied and something changed), else null. */
  version: PriceVersionInfo | null;
  /** Entries the guardrail refuses (applying them needs `override`). */
  belowMargin: { id: string; lines: PriceMarginLine[] }[];
}

/** `POST /api/admin/prices/versions`: 201 with the new version; 200 and `duplicate: true` for a retried key. */
export interface PriceVersionCreated {
  version: PriceVersionInfo;
  duplicate: boolean;
}

// ---------------------------------------------------------------- the user's view

/** One model's price to a user: rates only, never provider costs. */
export interface UserModelPrice {
  id: string;
  provider: string;
  aliases: string[];
  /** bps of a platform token per model token; per 1,000 model tokens that is rate ÷ 10 platform tokens. */
  rates: PriceRates;
  images?: PriceImages;
  requestFee?: number;
  longContext?: { aboveInputTokens: number; rates: PriceRates }[];
}

/** `GET /api/prices`: what each model costs the signed-in user; `default` prices every other model. */
export interface UserPricesAnswer {
  version: number | null;
  effectiveAt: number | null;
  tokensPerUsd: number;
  models: UserModelPrice[];
}
