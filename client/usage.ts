/**
 * Usage normalizers: a provider's usage object → the billing API's usage (`charge`/`settle`).
 *
 * The convention is the billing API's (worker/contracts/billing.ts), which is OpenAI's nesting: two
 * totals, each with its parts (docs/ai-endpoints.md, "Usage convention"; docs/pricing.md, "Usage
 * classes: each token counted once", for how the parts are priced).
 * Every token the provider processed is in exactly one total, so input + output is the call's total:
 *
 * - `inputTokens`        the whole prompt, cache reads and cache writes INCLUDED
 * - `cachedInputTokens`  the part of it served from a prompt cache (a cache read)
 * - `cacheWriteTokens`   the part of it written to a prompt cache by this call (a cache write)
 * - `outputTokens`       everything generated, reasoning INCLUDED (tool arguments too)
 * - `reasoningTokens`    the part of it that is reasoning/thinking, where the provider reports it apart
 *
 * so cached + cache write ≤ input and reasoning ≤ output. The billing Worker takes the parts out of
 * their totals before pricing (`priceCall`), so no token is billed twice or dropped.
 *
 * Providers nest these differently, hence one normalizer each:
 * - OpenAI chat `prompt_tokens` INCLUDES `prompt_tokens_details.cached_tokens` (and the newer
 *   `cache_write_tokens`), `completion_tokens` INCLUDES `completion_tokens_details.reasoning_tokens`;
 *   the Responses API has the same nesting under `input_tokens`/`output_tokens`: taken as they are.
 * - Anthropic `input_tokens` EXCLUDES `cache_read_input_tokens` and `cache_creation_input_tokens`
 *   (total input = input + cache read + cache write): the three are added up. Extended-thinking
 *   tokens are not reported apart: they are inside `output_tokens` and billed at the output rate,
 *   so `reasoningTokens` stays 0.
 *   `cache_creation_input_tokens` counts 5-minute and 1-hour cache writes together (the split is in
 *   `usage.cache_creation.ephemeral_5m_input_tokens` / `ephemeral_1h_input_tokens`, the official
 *   SDK's `Usage.cache_creation`), and Anthropic prices a 1-hour write at 2× the base input rate
 *   against 1.25× for a 5-minute one (https://docs.claude.com/en/docs/build-with-claude/prompt-caching,
 *   "Pricing"). So all of them are `cacheWriteTokens` and the 1-hour ones also `cacheWrite1hTokens`
 *   (a part of it), which the price book rates at the model's `cacheWrite1h` rate.
 * - Gemini `promptTokenCount` INCLUDES `cachedContentTokenCount`; `candidatesTokenCount` EXCLUDES
 *   `thoughtsTokenCount`, so output = candidates + thoughts; `toolUsePromptTokenCount` (tool results
 *   fed back to the model) is input outside `promptTokenCount`, so it is added to `inputTokens`.
 */

/** Token usage of one call as the billing API takes it: two totals and their parts (non-negative integers). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  /** The part of `cacheWriteTokens` written with a 1-hour TTL (Anthropic); absent = 0. */
  cacheWrite1hTokens?: number;
  reasoningTokens: number;
}

/** A usage with every class at zero. */
export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
}

/** Every token of the call, each counted once: input + output (the other classes are parts of those). */
export function totalTokens(u: Usage): number {
  return u.inputTokens + u.outputTokens;
}

/** Thrown when a usage object carries a count that is not a non-negative integer. */
export class UsageFormatError extends Error {
  override name = 'UsageFormatError';
}

/** A count from a provider: absent/null → 0; anything but a non-negative safe integer is refused. */
function count(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new UsageFormatError(`${field} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A part of a total that includes it: a provider reporting part > total is malformed, not "free". */
function partOf(part: number, total: number, field: string): number {
  if (part > total) throw new UsageFormatError(`${field} exceeds the total it is part of (${part} > ${total})`);
  return part;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' ? (v as Obj) : {});

/** OpenAI Chat Completions `usage` (response body, or the last chunk with `stream_options.include_usage`). */
export interface OpenAIChatUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null; cache_write_tokens?: number | null; [k: string]: unknown } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null; [k: string]: unknown } | null;
  [k: string]: unknown;
}

/**
 * OpenAI's nesting, shared by Chat Completions and the Responses API under other field names: cached and
 * cache-write tokens sit inside the input total, reasoning tokens inside the output total, as the API wants.
 */
function fromOpenAI(usage: Obj, input: string, output: string): Usage {
  const total = count(usage[`${input}_tokens`], `${input}_tokens`);
  const completion = count(usage[`${output}_tokens`], `${output}_tokens`);
  const d = obj(usage[`${input}_tokens_details`]);
  const cached = count(d.cached_tokens, `${input}_tokens_details.cached_tokens`);
  const written = count(d.cache_write_tokens, `${input}_tokens_details.cache_write_tokens`);
  const reasoning = count(obj(usage[`${output}_tokens_details`]).reasoning_tokens, `${output}_tokens_details.reasoning_tokens`);
  partOf(cached + written, total, `${input}_tokens_details cached + cache_write tokens`);
  return {
    inputTokens: total,
    cachedInputTokens: cached,
    cacheWriteTokens: written,
    outputTokens: completion,
    reasoningTokens: partOf(reasoning, completion, `${output}_tokens_details.reasoning_tokens`),
  };
}

/** OpenAI Chat Completions usage → the API's usage (the same nesting: totals with their cached and reasoning parts). */
export function fromOpenAIChat(usage: OpenAIChatUsage): Usage {
  return fromOpenAI(usage, 'prompt', 'completion');
}

/** OpenAI Responses API `usage` (response object, or `response.completed` when streaming). */
export interface OpenAIResponsesUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  total_tokens?: number | null;
  input_tokens_details?: { cached_tokens?: number | null; cache_write_tokens?: number | null; [k: string]: unknown } | null;
  output_tokens_details?: { reasoning_tokens?: number | null; [k: string]: unknown } | null;
  [k: string]: unknown;
}

/** OpenAI Responses API usage → the API's usage (same nesting as chat, other field names). */
export function fromOpenAIResponses(usage: OpenAIResponsesUsage): Usage {
  return fromOpenAI(usage, 'input', 'output');
}

/** Anthropic Messages `usage` (response body; `message_start.message.usage`; `message_delta.usage`). */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  /** The TTL split of `cache_creation_input_tokens`: its 1-hour part becomes `cacheWrite1hTokens`. */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
  [k: string]: unknown;
}

/** Anthropic usage → the API's usage. The three input fields are disjoint, so the input total is their sum; output includes thinking. */
export function fromAnthropic(usage: AnthropicUsage): Usage {
  const read = count(usage.cache_read_input_tokens, 'cache_read_input_tokens');
  const written = count(usage.cache_creation_input_tokens, 'cache_creation_input_tokens');
  // The 1-hour writes are inside cache_creation_input_tokens (the sum of both TTLs); more is malformed.
  const written1h = partOf(count(obj(usage.cache_creation).ephemeral_1h_input_tokens, 'cache_creation.ephemeral_1h_input_tokens'), written, 'cache_creation.ephemeral_1h_input_tokens');
  return {
    inputTokens: count(usage.input_tokens, 'input_tokens') + read + written,
    cachedInputTokens: read,
    cacheWriteTokens: written,
    // Only when there are any, so every usage without 1-hour writes keeps its five fields.
    ...(written1h > 0 ? { cacheWrite1hTokens: written1h } : {}),
    outputTokens: count(usage.output_tokens, 'output_tokens'),
    reasoningTokens: 0,
  };
}

/**
 * Anthropic streaming usage: `message_start.message.usage` carries the input counts (and an initial
 * `output_tokens`, often 1); each `message_delta.usage` is CUMULATIVE, so the last one replaces the
 * output count rather than adding to it. Fields a delta carries (non-null) override the start's,
 * as the official SDK's message accumulator does.
 */
export function mergeAnthropicStreamUsage(start: AnthropicUsage | null | undefined, ...deltas: (AnthropicUsage | null | undefined)[]): AnthropicUsage {
  const merged: AnthropicUsage = { ...(start ?? {}) };
  for (const d of deltas) {
    if (!d) continue;
    for (const [k, v] of Object.entries(d)) if (v !== null && v !== undefined) merged[k] = v;
  }
  return merged;
}

/** Gemini `usageMetadata` (generateContent, or the last chunk of streamGenerateContent). */
export interface GeminiUsageMetadata {
  promptTokenCount?: number | null;
  candidatesTokenCount?: number | null;
  cachedContentTokenCount?: number | null;
  thoughtsTokenCount?: number | null;
  toolUsePromptTokenCount?: number | null;
  totalTokenCount?: number | null;
  [k: string]: unknown;
}

/**
 * Gemini usageMetadata (https://ai.google.dev/api/generate-content#UsageMetadata) → the API's usage:
 * cached content is already part of the prompt; thoughts are outside the candidates, so they are
 * added to the output total as its reasoning part; tool-use prompt tokens are added to the input.
 */
export function fromGemini(meta: GeminiUsageMetadata): Usage {
  const prompt = count(meta.promptTokenCount, 'promptTokenCount');
  const cached = partOf(count(meta.cachedContentTokenCount, 'cachedContentTokenCount'), prompt, 'cachedContentTokenCount');
  const thoughts = count(meta.thoughtsTokenCount, 'thoughtsTokenCount');
  return {
    inputTokens: prompt + count(meta.toolUsePromptTokenCount, 'toolUsePromptTokenCount'),
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens: count(meta.candidatesTokenCount, 'candidatesTokenCount') + thoughts,
    reasoningTokens: thoughts,
  };
}
