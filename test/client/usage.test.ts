/**
 * Usage normalizers: each provider's usage object, as its own documentation prints it, mapped to
 * the billing API's usage (OpenAI's nesting: input and output totals, each with its cached /
 * cache-write / reasoning parts), every token counted once (input + output = the provider's total).
 * Issue 10 changed the convention from five disjoint classes to this nesting (docs/pricing.md).
 */
import { describe, expect, it } from 'vitest';
import {
  fromAnthropic,
  fromGemini,
  fromOpenAIChat,
  fromOpenAIResponses,
  mergeAnthropicStreamUsage,
  totalTokens,
  UsageFormatError,
  type Usage,
} from '../../client/usage';
import priceList from '../../data/model-prices.json';
import { DEFAULT_SETTINGS } from '../../worker/contracts/settings';
import { buildPriceBook, seedPriceBookEntries, type PriceBookEntry } from '../../worker/lib/price-book';
import { parsePriceList } from '../../worker/lib/price-list';
import { priceCall } from '../../worker/lib/pricing';
import type { SettleInput } from '../../worker/contracts/billing';

describe('fromOpenAIChat', () => {
  it('keeps cached tokens inside prompt_tokens (OpenAI prompt caching guide)', () => {
    // https://platform.openai.com/docs/guides/prompt-caching — "Monitor cache usage" example usage.
    const usage = {
      prompt_tokens: 2006,
      completion_tokens: 300,
      total_tokens: 2306,
      prompt_tokens_details: { cached_tokens: 1920 },
      completion_tokens_details: { reasoning_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    const u = fromOpenAIChat(usage);
    expect(u).toEqual({ inputTokens: 2006, cachedInputTokens: 1920, cacheWriteTokens: 0, outputTokens: 300, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(usage.total_tokens);
  });

  it('keeps reasoning tokens inside completion_tokens', () => {
    // Shape of https://platform.openai.com/docs/api-reference/chat/object `usage`, with the reasoning
    // count an o-series model reports under completion_tokens_details (part of completion_tokens).
    const usage = {
      prompt_tokens: 1117,
      completion_tokens: 1246,
      total_tokens: 2363,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 1200, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    const u = fromOpenAIChat(usage);
    expect(u).toEqual({ inputTokens: 1117, cachedInputTokens: 1024, cacheWriteTokens: 0, outputTokens: 1246, reasoningTokens: 1200 });
    expect(totalTokens(u)).toBe(usage.total_tokens);
  });

  it('counts a cache write reported inside prompt_tokens once, as a part of the input', () => {
    const u = fromOpenAIChat({ prompt_tokens: 3000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 2048 } });
    expect(u).toEqual({ inputTokens: 3000, cachedInputTokens: 0, cacheWriteTokens: 2048, outputTokens: 10, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(3010);
  });

  it('reads the usage-only last chunk of a stream (choices empty) and tolerates null details', () => {
    const chunk = { id: 'chatcmpl-x', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21, prompt_tokens_details: null, completion_tokens_details: null } };
    expect(fromOpenAIChat(chunk.usage)).toEqual({ inputTokens: 9, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 12, reasoningTokens: 0 });
  });

  it('refuses counts that are not non-negative integers, and a part larger than its total', () => {
    expect(() => fromOpenAIChat({ prompt_tokens: 1.5, completion_tokens: 1 })).toThrow(UsageFormatError);
    expect(() => fromOpenAIChat({ prompt_tokens: -1, completion_tokens: 1 })).toThrow(UsageFormatError);
    expect(() => fromOpenAIChat({ prompt_tokens: '10' as unknown as number })).toThrow(UsageFormatError);
    expect(() => fromOpenAIChat({ prompt_tokens: 10, prompt_tokens_details: { cached_tokens: 11 } })).toThrow(/exceeds/);
    expect(() => fromOpenAIChat({ completion_tokens: 1, completion_tokens_details: { reasoning_tokens: 2 } })).toThrow(/exceeds/);
  });
});

describe('fromOpenAIResponses', () => {
  it('keeps reasoning inside output_tokens (OpenAI reasoning guide)', () => {
    // https://platform.openai.com/docs/guides/reasoning — "How reasoning works", usage of the response object.
    const usage = {
      input_tokens: 75,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 1186,
      output_tokens_details: { reasoning_tokens: 1024 },
      total_tokens: 1261,
    };
    const u = fromOpenAIResponses(usage);
    expect(u).toEqual({ inputTokens: 75, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 1186, reasoningTokens: 1024 });
    expect(totalTokens(u)).toBe(usage.total_tokens);
  });

  it('keeps cached tokens inside input_tokens', () => {
    const usage = { input_tokens: 2006, input_tokens_details: { cached_tokens: 1920 }, output_tokens: 300, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 2306 };
    const u = fromOpenAIResponses(usage);
    expect(u).toEqual({ inputTokens: 2006, cachedInputTokens: 1920, cacheWriteTokens: 0, outputTokens: 300, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(2306);
  });
});

describe('fromAnthropic', () => {
  it('adds the three disjoint input fields into the input total, cache reads and writes as its parts (Anthropic prompt caching docs)', () => {
    // https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching — "Tracking cache performance":
    // total input = cache_read_input_tokens + cache_creation_input_tokens + input_tokens.
    const usage = { input_tokens: 50, cache_read_input_tokens: 100000, cache_creation_input_tokens: 0, output_tokens: 503 };
    const u = fromAnthropic(usage);
    expect(u).toEqual({ inputTokens: 100050, cachedInputTokens: 100000, cacheWriteTokens: 0, outputTokens: 503, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(50 + 100000 + 0 + 503);
  });

  it('counts a cache write once: a part of the input, priced as a cache write', () => {
    const u = fromAnthropic({ input_tokens: 21, cache_creation_input_tokens: 188086, cache_read_input_tokens: 0, output_tokens: 393 });
    expect(u).toEqual({ inputTokens: 188107, cachedInputTokens: 0, cacheWriteTokens: 188086, outputTokens: 393, reasoningTokens: 0 });
  });

  it('1-hour cache writes: all writes in cacheWriteTokens, the 1-hour ones also in cacheWrite1hTokens (a part of it)', () => {
    // An Anthropic usage object with both TTLs: cache_creation_input_tokens is the sum of cache_creation's
    // two (the official SDK's Usage.cache_creation: CacheCreation.ephemeral_5m_input_tokens /
    // ephemeral_1h_input_tokens, @anthropic-ai/sdk resources/messages), and a 1-hour write is priced at
    // 2× base input against 1.25× (https://docs.claude.com/en/docs/build-with-claude/prompt-caching, "Pricing").
    const usage = {
      input_tokens: 10,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 3000,
      cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
      output_tokens: 5,
    };
    const u = fromAnthropic(usage);
    expect(u).toEqual({ inputTokens: 3010, cachedInputTokens: 0, cacheWriteTokens: 3000, cacheWrite1hTokens: 2000, outputTokens: 5, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(10 + 3000 + 5);
    // Only 5-minute writes (or cache_creation null/absent): no 1-hour part, the usage keeps its five fields.
    expect(fromAnthropic({ ...usage, cache_creation: { ephemeral_5m_input_tokens: 3000, ephemeral_1h_input_tokens: 0 } })).toEqual({ inputTokens: 3010, cachedInputTokens: 0, cacheWriteTokens: 3000, outputTokens: 5, reasoningTokens: 0 });
    expect(fromAnthropic({ ...usage, cache_creation: null })).not.toHaveProperty('cacheWrite1hTokens');
    // A 1-hour count above the cache-write total it is part of is malformed.
    expect(() => fromAnthropic({ ...usage, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 3001 } })).toThrow(UsageFormatError);
  });

  it('streaming with 1-hour writes: message_start carries cache_creation, the delta the final output', () => {
    const start = { input_tokens: 3, cache_read_input_tokens: 0, cache_creation_input_tokens: 200, cache_creation: { ephemeral_5m_input_tokens: 50, ephemeral_1h_input_tokens: 150 }, output_tokens: 1 };
    const u = fromAnthropic(mergeAnthropicStreamUsage(start, { output_tokens: 9 }));
    expect(u).toEqual({ inputTokens: 203, cachedInputTokens: 0, cacheWriteTokens: 200, cacheWrite1hTokens: 150, outputTokens: 9, reasoningTokens: 0 });
  });

  it('streaming: input from message_start, the LAST cumulative output from message_delta (Anthropic streaming docs)', () => {
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming — "Basic streaming request":
    // message_start usage {input_tokens: 25, output_tokens: 1}; message_delta usage {output_tokens: 15}.
    const start = { input_tokens: 25, output_tokens: 1 };
    const delta = { output_tokens: 15 };
    const u = fromAnthropic(mergeAnthropicStreamUsage(start, delta));
    expect(u).toEqual({ inputTokens: 25, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 15, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(40); // not 41: the delta's count replaces message_start's, it does not add
  });

  it('streaming: cache counts from message_start survive a delta that omits or nulls them', () => {
    const start = { input_tokens: 3, cache_read_input_tokens: 1800, cache_creation_input_tokens: 200, output_tokens: 1 };
    const merged = mergeAnthropicStreamUsage(start, { output_tokens: 7 }, { output_tokens: 42, cache_read_input_tokens: null });
    expect(fromAnthropic(merged)).toEqual({ inputTokens: 2003, cachedInputTokens: 1800, cacheWriteTokens: 200, outputTokens: 42, reasoningTokens: 0 });
  });
});

describe('fromGemini', () => {
  it('keeps cached content inside promptTokenCount (Gemini context caching docs)', () => {
    // https://ai.google.dev/gemini-api/docs/caching — "Generate content", printed usage_metadata
    // (prompt_token_count 696219, cached_content_token_count 696190, candidates 214, total 696433).
    const meta = { promptTokenCount: 696219, cachedContentTokenCount: 696190, candidatesTokenCount: 214, totalTokenCount: 696433 };
    const u = fromGemini(meta);
    expect(u).toEqual({ inputTokens: 696219, cachedInputTokens: 696190, cacheWriteTokens: 0, outputTokens: 214, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(meta.totalTokenCount);
  });

  it('adds thoughts to the output (as its reasoning part) and tool-use prompt tokens to the input: both are outside the prompt and candidate counts', () => {
    // Field semantics per https://ai.google.dev/api/generate-content#UsageMetadata: totalTokenCount =
    // promptTokenCount + candidatesTokenCount + toolUsePromptTokenCount + thoughtsTokenCount.
    const meta = { promptTokenCount: 27, candidatesTokenCount: 6, thoughtsTokenCount: 194, toolUsePromptTokenCount: 12, totalTokenCount: 239 };
    const u = fromGemini(meta);
    expect(u).toEqual({ inputTokens: 39, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 200, reasoningTokens: 194 });
    expect(totalTokens(u)).toBe(meta.totalTokenCount);
  });
});

describe('the billing API takes what the normalizers give', () => {
  it('uses the API\'s five fields (a renamed field on either side fails the type check)', () => {
    const u: Required<Pick<SettleInput, 'inputTokens' | 'outputTokens' | 'cachedInputTokens' | 'cacheWriteTokens' | 'reasoningTokens'>> = fromAnthropic({ input_tokens: 1, output_tokens: 2 });
    expect(Object.keys(u).sort()).toEqual(['cacheWriteTokens', 'cachedInputTokens', 'inputTokens', 'outputTokens', 'reasoningTokens']);
  });
});

/**
 * Each provider's documented usage object, normalized and billed by the billing Worker's own
 * pricing (`priceCall`) with the committed price list (data/model-prices.json: 10,000 tokens per
 * USD, 1.5× markup, rates in bps per model token, rounded up once on the total).
 */
describe('normalized usage billed with the price book', () => {
  const parsed = parsePriceList(priceList);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  // Gemini is not in the committed list (docs/pricing.md): a test entry at round rates stands in for it.
  const gemini: PriceBookEntry = {
    id: 'gemini-test',
    provider: 'google',
    aliases: [],
    rates: { input: 50, cachedInput: 10, cacheWrite: 50, output: 400, reasoning: 400 },
    providerCost: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 },
  };
  const book = { version: 7, book: buildPriceBook([...seedPriceBookEntries(DEFAULT_SETTINGS), ...parsed.list.entries, gemini]) };
  const bill = (model: string, u: Usage) => {
    const r = priceCall(book, { operation: 'chat', model, ...u });
    if (!r.ok) throw new Error(r.message);
    return r;
  };

  it('OpenAI chat (prompt caching guide example) on gpt-5-mini: 86 × 38 + 1,920 × 4 + 300 × 300 = 100,948 / 10,000 → 11 tokens', () => {
    const r = bill('gpt-5-mini', fromOpenAIChat({ prompt_tokens: 2006, completion_tokens: 300, total_tokens: 2306, prompt_tokens_details: { cached_tokens: 1920 } }));
    expect(r.lines.map((l) => [l.kind, l.quantity, l.rate])).toEqual([
      ['input', 86, 38],
      ['cachedInput', 1920, 4],
      ['output', 300, 300],
    ]);
    expect([r.billableTokens, r.actualTokens, r.priceVersion]).toEqual([11, 2306, 7]);
    // Provider cost: (86 × 0.25 + 1,920 × 0.025 + 300 × 2.00) µUSD… per token = 21.5 + 48 + 600 = 669.5 → 670 µUSD.
    expect(r.providerCostMicros).toBe(670);
  });

  it('OpenAI responses (reasoning guide example) on gpt-5-mini: 75 × 38 + 162 × 300 + 1,024 × 300 = 358,650 / 10,000 → 36 tokens', () => {
    const r = bill('gpt-5-mini', fromOpenAIResponses({ input_tokens: 75, input_tokens_details: { cached_tokens: 0 }, output_tokens: 1186, output_tokens_details: { reasoning_tokens: 1024 }, total_tokens: 1261 }));
    expect(r.lines.map((l) => [l.kind, l.quantity])).toEqual([
      ['input', 75],
      ['output', 162],
      ['reasoning', 1024],
    ]);
    expect(r.billableTokens).toBe(36);
  });

  it('Anthropic (prompt caching docs example) on claude-sonnet-4-5: 50 × 450 + 100,000 × 45 + 503 × 2,250 = 5,654,250 / 10,000 → 566 tokens', () => {
    const r = bill('claude-sonnet-4-5', fromAnthropic({ input_tokens: 50, cache_read_input_tokens: 100000, cache_creation_input_tokens: 0, output_tokens: 503 }));
    expect(r.billableTokens).toBe(566);
    expect(r.cachedInputTokens).toBe(100_000);
  });

  it('Anthropic cache write on claude-sonnet-4-5: 21 × 450 + 188,086 × 563 + 393 × 2,250 = 106,786,118 / 10,000 → 10,679 tokens', () => {
    const r = bill('claude-sonnet-4-5', fromAnthropic({ input_tokens: 21, cache_creation_input_tokens: 188086, cache_read_input_tokens: 0, output_tokens: 393 }));
    expect(r.billableTokens).toBe(10_679);
  });

  it('Google (UsageMetadata with thoughts and tool use): 39 × 50 + 6 × 400 + 194 × 400 = 81,950 / 10,000 → 9 tokens', () => {
    const r = bill('gemini-test', fromGemini({ promptTokenCount: 27, candidatesTokenCount: 6, thoughtsTokenCount: 194, toolUsePromptTokenCount: 12, totalTokenCount: 239 }));
    expect(r.billableTokens).toBe(9);
    expect(r.reasoningTokens).toBe(194);
  });

  it('Google cached content (context caching docs example): 29 × 50 + 696,190 × 10 + 214 × 400 = 7,048,950 / 10,000 → 705 tokens', () => {
    const r = bill('gemini-test', fromGemini({ promptTokenCount: 696219, cachedContentTokenCount: 696190, candidatesTokenCount: 214, totalTokenCount: 696433 }));
    expect(r.billableTokens).toBe(705);
  });

  it('Google cached content above a long-context tier (200,000 prompt tokens, doubled input rates, 1.5× output): 29 × 100 + 696,190 × 20 + 214 × 600 = 14,055,100 / 10,000 → 1,406 tokens', () => {
    const tiered: PriceBookEntry = {
      ...gemini,
      id: 'gemini-tiered-test',
      longContext: [{ aboveInputTokens: 200_000, rates: { input: 100, cachedInput: 20, cacheWrite: 100, output: 600, reasoning: 600 }, providerCost: gemini.providerCost }],
    };
    const tieredBook = { version: 8, book: buildPriceBook([...seedPriceBookEntries(DEFAULT_SETTINGS), tiered]) };
    const r = priceCall(tieredBook, { operation: 'chat', model: 'gemini-tiered-test', ...fromGemini({ promptTokenCount: 696219, cachedContentTokenCount: 696190, candidatesTokenCount: 214, totalTokenCount: 696433 }) });
    expect(r.ok && [r.billableTokens, r.lines.map((l) => l.rate)]).toEqual([1406, [100, 20, 600]]);
  });

  it('a model without an entry is billed by `default`, the seed\'s multiplier, whatever the split: ceil(2,306 × 1.5) = 3,459', () => {
    const r = bill('some-new-model', fromOpenAIChat({ prompt_tokens: 2006, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1920 } }));
    expect([r.entryId, r.billableTokens]).toEqual(['default', 3459]);
  });
});
