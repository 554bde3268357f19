/**
 * Usage normalizers: each provider's usage object, as its own documentation prints it, mapped to
 * our five disjoint classes, every token counted once (the classes add up to the provider's total).
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
} from '../../client/usage';
import type { ChargeUsage } from '../../worker/lib/price-book';

describe('fromOpenAIChat', () => {
  it('takes cached tokens out of prompt_tokens (OpenAI prompt caching guide)', () => {
    // https://platform.openai.com/docs/guides/prompt-caching — "Monitor cache usage" example usage.
    const usage = {
      prompt_tokens: 2006,
      completion_tokens: 300,
      total_tokens: 2306,
      prompt_tokens_details: { cached_tokens: 1920 },
      completion_tokens_details: { reasoning_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    const u = fromOpenAIChat(usage);
    expect(u).toEqual({ inputTokens: 86, cachedInputTokens: 1920, cacheWriteTokens: 0, outputTokens: 300, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(usage.total_tokens);
  });

  it('takes reasoning tokens out of completion_tokens', () => {
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
    expect(u).toEqual({ inputTokens: 93, cachedInputTokens: 1024, cacheWriteTokens: 0, outputTokens: 46, reasoningTokens: 1200 });
    expect(totalTokens(u)).toBe(usage.total_tokens);
  });

  it('counts a cache write reported inside prompt_tokens once, as a cache write', () => {
    const u = fromOpenAIChat({ prompt_tokens: 3000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 2048 } });
    expect(u).toEqual({ inputTokens: 952, cachedInputTokens: 0, cacheWriteTokens: 2048, outputTokens: 10, reasoningTokens: 0 });
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
  it('splits reasoning out of output_tokens (OpenAI reasoning guide)', () => {
    // https://platform.openai.com/docs/guides/reasoning — "How reasoning works", usage of the response object.
    const usage = {
      input_tokens: 75,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 1186,
      output_tokens_details: { reasoning_tokens: 1024 },
      total_tokens: 1261,
    };
    const u = fromOpenAIResponses(usage);
    expect(u).toEqual({ inputTokens: 75, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 162, reasoningTokens: 1024 });
    expect(totalTokens(u)).toBe(usage.total_tokens);
  });

  it('takes cached tokens out of input_tokens', () => {
    const usage = { input_tokens: 2006, input_tokens_details: { cached_tokens: 1920 }, output_tokens: 300, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 2306 };
    const u = fromOpenAIResponses(usage);
    expect(u).toEqual({ inputTokens: 86, cachedInputTokens: 1920, cacheWriteTokens: 0, outputTokens: 300, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(2306);
  });
});

describe('fromAnthropic', () => {
  it('keeps the three disjoint input fields apart (Anthropic prompt caching docs)', () => {
    // https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching — "Tracking cache performance":
    // total input = cache_read_input_tokens + cache_creation_input_tokens + input_tokens.
    const usage = { input_tokens: 50, cache_read_input_tokens: 100000, cache_creation_input_tokens: 0, output_tokens: 503 };
    const u = fromAnthropic(usage);
    expect(u).toEqual({ inputTokens: 50, cachedInputTokens: 100000, cacheWriteTokens: 0, outputTokens: 503, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(50 + 100000 + 0 + 503);
  });

  it('counts a cache write as a cache write, not as input', () => {
    const u = fromAnthropic({ input_tokens: 21, cache_creation_input_tokens: 188086, cache_read_input_tokens: 0, output_tokens: 393 });
    expect(u).toEqual({ inputTokens: 21, cachedInputTokens: 0, cacheWriteTokens: 188086, outputTokens: 393, reasoningTokens: 0 });
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
    expect(fromAnthropic(merged)).toEqual({ inputTokens: 3, cachedInputTokens: 1800, cacheWriteTokens: 200, outputTokens: 42, reasoningTokens: 0 });
  });
});

describe('fromGemini', () => {
  it('takes cached content out of promptTokenCount (Gemini context caching docs)', () => {
    // https://ai.google.dev/gemini-api/docs/caching — "Generate content", printed usage_metadata
    // (prompt_token_count 696219, cached_content_token_count 696190, candidates 214, total 696433).
    const meta = { promptTokenCount: 696219, cachedContentTokenCount: 696190, candidatesTokenCount: 214, totalTokenCount: 696433 };
    const u = fromGemini(meta);
    expect(u).toEqual({ inputTokens: 29, cachedInputTokens: 696190, cacheWriteTokens: 0, outputTokens: 214, reasoningTokens: 0 });
    expect(totalTokens(u)).toBe(meta.totalTokenCount);
  });

  it('adds thoughts and tool-use prompt tokens, which are outside the prompt and candidate counts', () => {
    // Field semantics per https://ai.google.dev/api/generate-content#UsageMetadata: totalTokenCount =
    // promptTokenCount + candidatesTokenCount + toolUsePromptTokenCount + thoughtsTokenCount.
    const meta = { promptTokenCount: 27, candidatesTokenCount: 6, thoughtsTokenCount: 194, toolUsePromptTokenCount: 12, totalTokenCount: 239 };
    const u = fromGemini(meta);
    expect(u).toEqual({ inputTokens: 39, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 6, reasoningTokens: 194 });
    expect(totalTokens(u)).toBe(meta.totalTokenCount);
  });
});

describe('the price book takes what the normalizers give', () => {
  it('uses the same five classes (a renamed field on either side fails the type check)', () => {
    const u: Required<Pick<ChargeUsage, 'inputTokens' | 'outputTokens' | 'cachedInputTokens' | 'cacheWriteTokens' | 'reasoningTokens'>> = fromAnthropic({ input_tokens: 1, output_tokens: 2 });
    expect(Object.keys(u).sort()).toEqual(['cacheWriteTokens', 'cachedInputTokens', 'inputTokens', 'outputTokens', 'reasoningTokens']);
  });
});
