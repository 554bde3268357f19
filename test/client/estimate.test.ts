/** The estimator: prompt text in o200k_base + documented framing overhead; output from the request's cap. */
import { describe, expect, it } from 'vitest';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import {
  DEFAULT_OUTPUT_CAP,
  estimateAnthropicMessages,
  estimateMessagesTokens,
  estimateOpenAIChat,
  estimateOpenAIResponses,
  MESSAGE_OVERHEAD_TOKENS,
  NON_TEXT_PART_TOKENS,
  REPLY_PRIMING_TOKENS,
} from '../../client/estimate';

const SYSTEM = 'You are a helpful assistant.';
const USER = 'Write a haiku about billing systems that never lose a token.';

describe('estimator', () => {
  it('input = text tokens + 3 per message + 3 for the reply (OpenAI cookbook framing)', () => {
    expect(MESSAGE_OVERHEAD_TOKENS).toBe(3);
    expect(REPLY_PRIMING_TOKENS).toBe(3);
    const n = estimateMessagesTokens([{ role: 'system', content: SYSTEM }, { role: 'user', content: USER }]);
    expect(n).toBe(countTokens(SYSTEM) + countTokens(USER) + 2 * 3 + 3);
    expect(n).toBe(6 + 13 + 9); // pinned: a tokenizer change shows up here
  });

  it('OpenAI chat: max_completion_tokens, else max_tokens, else the default cap', () => {
    const messages = [{ role: 'user', content: USER }];
    expect(estimateOpenAIChat({ messages, max_completion_tokens: 200, max_tokens: 50 }).outputTokens).toBe(200);
    expect(estimateOpenAIChat({ messages, max_tokens: 50 }).outputTokens).toBe(50);
    expect(estimateOpenAIChat({ messages }).outputTokens).toBe(DEFAULT_OUTPUT_CAP);
    expect(estimateOpenAIChat({ messages }, 1000).outputTokens).toBe(1000);
    expect(estimateOpenAIChat({ messages, max_tokens: 50 })).toEqual({ inputTokens: countTokens(USER) + 6, outputTokens: 50, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  it('text parts are counted, non-text parts held flat, tool definitions counted as prompt', () => {
    const parts = [{ role: 'user', content: [{ type: 'text', text: USER }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }];
    expect(estimateMessagesTokens(parts)).toBe(countTokens(USER) + NON_TEXT_PART_TOKENS + 6);
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const withTools = estimateOpenAIChat({ messages: [{ role: 'user', content: USER }], tools, max_tokens: 1 });
    expect(withTools.inputTokens).toBe(countTokens(USER) + 6 + countTokens(JSON.stringify(tools)));
  });

  it('Anthropic: system counted as a message, max_tokens is the output hold', () => {
    const e = estimateAnthropicMessages({ system: SYSTEM, messages: [{ role: 'user', content: USER }], max_tokens: 1024 });
    expect(e).toEqual({ inputTokens: countTokens(SYSTEM) + countTokens(USER) + 9, outputTokens: 1024, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  it('Responses: a string input is one user message; instructions count like a system message', () => {
    const e = estimateOpenAIResponses({ input: USER, instructions: SYSTEM, max_output_tokens: 300 });
    expect(e.inputTokens).toBe(countTokens(SYSTEM) + countTokens(USER) + 9);
    expect(e.outputTokens).toBe(300);
    expect(estimateOpenAIResponses({ input: USER }).outputTokens).toBe(DEFAULT_OUTPUT_CAP);
  });
});
