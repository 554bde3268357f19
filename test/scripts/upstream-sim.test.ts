/**
 * The upstream stand-in (scripts/upstream-sim/server.mjs) driven by the OFFICIAL `openai` and
 * `@anthropic-ai/sdk` clients, unmodified (only baseURL, a dummy key, and maxRetries where a test
 * needs one attempt): streaming and not, usage as documented, each failure mode seen by the SDK as
 * with the real API, and the metering helpers metering SDK streams end to end.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { estimateAnthropicMessages, estimateOpenAIChat, estimateOpenAIResponses } from '../../client/estimate';
import { meterCall, meterIterable, meterSSE, type MeterOptions } from '../../client/stream';
import { fromAnthropic, fromOpenAIChat, fromOpenAIResponses, totalTokens, type Usage } from '../../client/usage';
import { outputDeltas, promptTokens, startUpstreamSimulator, WORDS, type UpstreamSimulator } from '../../scripts/upstream-sim/server.mjs';
import { billingRecorder } from '../client/helpers';

let sim: UpstreamSimulator;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  sim = await startUpstreamSimulator();
  openai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sk-test-dummy', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: sim.url, apiKey: 'sk-ant-test-dummy', maxRetries: 0 });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const MESSAGES = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say something about foxes.' },
];
const PROMPT = promptTokens(MESSAGES);
const sim_ = (h: Record<string, string | number>) => ({ headers: Object.fromEntries(Object.entries(h).map(([k, v]) => [`x-sim-${k}`, String(v)])) });

function meter(estimate: Usage) {
  const rec = billingRecorder();
  const opts: MeterOptions = { billing: rec.billing, waitUntil: rec.waitUntil, estimate, onOutcome: rec.onOutcome };
  return { rec, opts };
}
function oneEnding(rec: ReturnType<typeof billingRecorder>) {
  expect(rec.endings()).toHaveLength(1);
  expect(rec.waited).toHaveLength(1);
  return { ...rec.endings()[0], ending: rec.outcomes[0].ending };
}

describe('the deterministic output', () => {
  it('is one o200k_base token per word, so "N output tokens" is N deltas', () => {
    for (const w of WORDS) expect(countTokens(w)).toBe(1);
    expect(countTokens(outputDeltas(37).join(''))).toBe(37);
  });
});

describe('OpenAI chat completions with the official openai client', () => {
  it('non-streaming: content and usage with cached and reasoning tokens', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, max_tokens: 50 }, sim_({ 'output-tokens': 12, 'cached-tokens': 8, 'reasoning-tokens': 30 }));
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0].message.content).toBe(outputDeltas(12).join(''));
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: PROMPT, completion_tokens: 42, total_tokens: PROMPT + 42, prompt_tokens_details: { cached_tokens: 8 }, completion_tokens_details: { reasoning_tokens: 30 } });
    expect(fromOpenAIChat(r.usage!)).toEqual({ inputTokens: PROMPT, cachedInputTokens: 8, cacheWriteTokens: 0, outputTokens: 42, reasoningTokens: 30 });
    expect(sim.requests).toHaveLength(1);
    expect(sim.requests[0].headers.authorization).toBe('Bearer sk-test-dummy');
  });

  it('max_tokens caps the output (finish_reason length)', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, max_tokens: 5 }, sim_({ 'output-tokens': 12 }));
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage?.completion_tokens).toBe(5);
  });

  it('streaming with stream_options.include_usage: usage only on the last chunk, whose choices are empty', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true, stream_options: { include_usage: true } }, sim_({ 'output-tokens': 6, 'cached-tokens': 4 }));
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: PROMPT, completion_tokens: 6, prompt_tokens_details: { cached_tokens: 4 } });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(outputDeltas(6).join(''));
  });

  it('streaming without include_usage: no usage at all (as the real API)', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true }, sim_({ 'output-tokens': 3 }));
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
  });

  it('no API key → 401 AuthenticationError; bad path → 404', async () => {
    const res = await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) });
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('invalid_api_key');
    await expect(new OpenAI({ baseURL: `${sim.url}/v2`, apiKey: 'k', maxRetries: 0 }).chat.completions.create({ model: 'm', messages: MESSAGES })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('before_first_token → HTTP 500 server_error: InternalServerError, and the SDK retries it as with the real API', async () => {
    const err = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true }, sim_({ fail: 'before_first_token' })).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(500);
    expect(err.error).toMatchObject({ type: 'server_error' });
    const retrying = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'k', maxRetries: 1 });
    sim.reset();
    await expect(retrying.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES }, sim_({ fail: 'before_first_token' }))).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    expect(sim.requests).toHaveLength(2);
  });

  it('mid_stream_disconnect:3 → the SDK stream throws after 3 content chunks', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true, stream_options: { include_usage: true } }, sim_({ fail: 'mid_stream_disconnect:3', 'output-tokens': 10 }));
    const got: string[] = [];
    const err = await (async () => {
      for await (const c of stream) got.push(c.choices[0]?.delta?.content ?? '');
    })().catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(got.join('')).toBe(outputDeltas(3).join(''));
  });

  it('body_cut → the status and half the body arrive, then the connection drops (reading the body fails, in the SDK too)', async () => {
    const res = await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json', 'x-sim-fail': 'body_cut' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES }) });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    await expect(anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, sim_({ fail: 'body_cut' }))).rejects.toThrow();
  });

  it('non-streaming disconnect → APIConnectionError; the request id header reaches the SDK', async () => {
    await expect(openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES }, sim_({ fail: 'mid_stream_disconnect' }))).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    const r = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES }, sim_({ 'output-tokens': 1 }));
    expect(r._request_id).toMatch(/^req_/);
  });

  it('usage_missing → the stream ends cleanly without the usage chunk despite include_usage', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true, stream_options: { include_usage: true } }, sim_({ fail: 'usage_missing', 'output-tokens': 4 }));
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
  });

  it('slow_first_token:300 → the first content arrives no sooner than 300 ms; switches also work as a model suffix', async () => {
    const t0 = Date.now();
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini+fail=slow_first_token:300+output=2', messages: MESSAGES, stream: true });
    let first = 0;
    const text: string[] = [];
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content && !first) first = Date.now() - t0;
      text.push(c.choices[0]?.delta?.content ?? '');
      expect(c.model).toBe('gpt-4o-mini');
    }
    expect(first).toBeGreaterThanOrEqual(290);
    expect(text.join('')).toBe(outputDeltas(2).join(''));
  });
});

describe('OpenAI responses with the official openai client', () => {
  it('non-streaming: output_text and usage with cached and reasoning tokens', async () => {
    const r = await openai.responses.create({ model: 'o4-mini', input: 'Say something about foxes.', instructions: 'You are terse.' }, sim_({ 'output-tokens': 5, 'reasoning-tokens': 64, 'cached-tokens': 2 }));
    expect(r.output_text).toBe(outputDeltas(5).join(''));
    expect(r.usage).toMatchObject({ input_tokens: PROMPT, output_tokens: 69, input_tokens_details: { cached_tokens: 2 }, output_tokens_details: { reasoning_tokens: 64 } });
    expect(fromOpenAIResponses(r.usage!)).toEqual({ inputTokens: PROMPT, cachedInputTokens: 2, cacheWriteTokens: 0, outputTokens: 69, reasoningTokens: 64 });
  });

  it('streaming: text deltas then response.completed carrying the usage', async () => {
    const stream = await openai.responses.create({ model: 'o4-mini', input: 'Say something about foxes.', stream: true }, sim_({ 'output-tokens': 4 }));
    const types: string[] = [];
    let usage;
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.completed') usage = e.response.usage;
    }
    expect(types[0]).toBe('response.created');
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(4);
    expect(types.at(-1)).toBe('response.completed');
    expect(usage).toMatchObject({ output_tokens: 4 });
  });
});

describe('OpenAI responses failure switches', () => {
  it('error_after_tokens:2 → an `event: error` the SDK throws; metered: settle input + 2', async () => {
    const body = { model: 'o4-mini', input: 'Say something about foxes.', instructions: 'You are terse.', max_output_tokens: 50, stream: true as const };
    const estimate = estimateOpenAIResponses(body);
    expect(estimate.inputTokens).toBe(PROMPT);
    const { rec, opts } = meter(estimate);
    const stream = await meterIterable({ ...opts, format: 'openai-responses' }, () => openai.responses.create(body, sim_({ fail: 'error_after_tokens:2', 'output-tokens': 8 })));
    await expect((async () => { for await (const _ of stream); })()).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(oneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'error_after_tokens', usage: { ...estimate, outputTokens: 2 } });
  });

  it('normal end metered: settle the usage of response.completed (reasoning apart); usage_missing → the hold', async () => {
    const body = { model: 'o4-mini', input: 'Say something about foxes.', instructions: 'You are terse.', max_output_tokens: 50, stream: true as const };
    const estimate = estimateOpenAIResponses(body);
    const a = meter(estimate);
    for await (const _ of await meterIterable({ ...a.opts, format: 'openai-responses' }, () => openai.responses.create(body, sim_({ 'output-tokens': 3, 'reasoning-tokens': 40 })))) void _;
    expect(oneEnding(a.rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'completed', usage: { inputTokens: PROMPT, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 43, reasoningTokens: 40 } });
    const b = meter(estimate);
    for await (const _ of await meterIterable({ ...b.opts, format: 'openai-responses' }, () => openai.responses.create(body, sim_({ fail: 'usage_missing' })))) void _;
    expect(oneEnding(b.rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'usage_missing', usage: estimate });
  });
});

describe('Anthropic messages with the official @anthropic-ai/sdk client', () => {
  const body = { model: 'claude-sonnet-5-5', max_tokens: 100, system: 'You are terse.', messages: [{ role: 'user' as const, content: 'Say something about foxes.' }] };

  it('non-streaming: content and usage with cache read and write (input disjoint from both)', async () => {
    const m = await anthropic.messages.create(body, sim_({ 'output-tokens': 9, 'cached-tokens': 5, 'cache-write-tokens': 3 }));
    expect(m.type).toBe('message');
    expect(m.content).toEqual([{ type: 'text', text: outputDeltas(9).join('') }]);
    expect(m.stop_reason).toBe('end_turn');
    expect(m.usage).toMatchObject({ input_tokens: PROMPT - 8, cache_read_input_tokens: 5, cache_creation_input_tokens: 3, output_tokens: 9 });
    const u = fromAnthropic(m.usage);
    expect(totalTokens(u)).toBe(PROMPT + 9);
    // This SDK version sends the key as `Authorization: Bearer`; older ones as `x-api-key`. The stand-in takes either.
    expect(sim.requests[0].headers['x-api-key'] ?? sim.requests[0].headers.authorization).toMatch(/^(Bearer )?sk-ant-test-dummy$/);
    expect(sim.requests[0].headers['anthropic-version']).toBeDefined();
  });

  it('streaming: the documented event sequence; message_delta carries the cumulative output', async () => {
    const stream = await anthropic.messages.create({ ...body, stream: true }, sim_({ 'output-tokens': 3, 'cached-tokens': 4 }));
    const events = [];
    for await (const e of stream) events.push(e);
    expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    const start = events[0] as Anthropic.RawMessageStartEvent;
    const delta = events[6] as Anthropic.RawMessageDeltaEvent;
    expect(start.message.usage).toMatchObject({ input_tokens: PROMPT - 4, cache_read_input_tokens: 4, output_tokens: 1 });
    expect(delta.usage.output_tokens).toBe(3);
  });

  it('the SDK’s MessageStream helper accumulates the final message from the stand-in’s events', async () => {
    const final = await anthropic.messages.stream(body, sim_({ 'output-tokens': 7 })).finalMessage();
    expect(final.content[0]).toEqual({ type: 'text', text: outputDeltas(7).join('') });
    expect(final.usage.output_tokens).toBe(7);
  });

  it('before_first_token → HTTP 529 overloaded_error: the SDK’s OverloadedError', async () => {
    const err = await anthropic.messages.create({ ...body, stream: true }, sim_({ fail: 'before_first_token' })).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(529);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('error_after_tokens:2 → an `error` event mid-stream, which the SDK throws as an APIError', async () => {
    const stream = await anthropic.messages.create({ ...body, stream: true }, sim_({ fail: 'error_after_tokens:2', 'output-tokens': 6 }));
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of stream) seen.push(e.type);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(seen.filter((t) => t === 'content_block_delta')).toHaveLength(2);
  });

  it('mid_stream_disconnect → the SDK stream throws; no key → 401 authentication_error', async () => {
    const stream = await anthropic.messages.create({ ...body, stream: true }, sim_({ fail: 'mid_stream_disconnect:1' }));
    await expect((async () => { for await (const _ of stream); })()).rejects.toBeInstanceOf(Error);
    const res = await fetch(`${sim.url}/v1/messages`, { method: 'POST', headers: { 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });
});

describe('metering SDK streams end to end (exactly one settle or release per ending)', () => {
  const chatBody = { model: 'gpt-4o-mini', messages: MESSAGES, max_tokens: 64, stream: true as const, stream_options: { include_usage: true } };
  const estimate = estimateOpenAIChat(chatBody);

  it('the estimator’s input equals the stand-in’s prompt count (same documented framing)', () => {
    expect(estimate).toEqual({ inputTokens: PROMPT, outputTokens: 64, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  it('openai: normal end → settle the usage of the last chunk (cached and reasoning apart)', async () => {
    const { rec, opts } = meter(estimate);
    const stream = await meterIterable({ ...opts, format: 'openai-chat' }, () => openai.chat.completions.create(chatBody, sim_({ 'output-tokens': 10, 'cached-tokens': 6, 'reasoning-tokens': 20 })));
    for await (const _ of stream);
    expect(oneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'completed', usage: { inputTokens: PROMPT, cachedInputTokens: 6, cacheWriteTokens: 0, outputTokens: 30, reasoningTokens: 20 } });
  });

  it('openai: the client breaks after 4 content chunks → settle input estimate + 4 tokens; the SDK aborts the request', async () => {
    const { rec, opts } = meter(estimate);
    const stream = await meterIterable({ ...opts, format: 'openai-chat' }, () => openai.chat.completions.create(chatBody, sim_({ 'output-tokens': 30 })));
    let n = 0;
    for await (const c of stream) if (c.choices[0]?.delta?.content && ++n === 4) break;
    expect(oneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'client_abort', usage: { ...estimate, outputTokens: 4 } });
  });

  it('openai: HTTP 500 before the first token → release', async () => {
    const { rec, opts } = meter(estimate);
    await expect(meterIterable({ ...opts, format: 'openai-chat' }, () => openai.chat.completions.create(chatBody, sim_({ fail: 'before_first_token' })))).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    expect(oneEnding(rec)).toEqual({ op: 'release', id: 'res_1', ending: 'error_before_tokens' });
  });

  it('openai: disconnect after 5 tokens → settle input estimate + 5', async () => {
    const { rec, opts } = meter(estimate);
    const stream = await meterIterable({ ...opts, format: 'openai-chat' }, () => openai.chat.completions.create(chatBody, sim_({ fail: 'mid_stream_disconnect:5', 'output-tokens': 20 })));
    await expect((async () => { for await (const _ of stream); })()).rejects.toBeInstanceOf(Error);
    expect(oneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'error_after_tokens', usage: { ...estimate, outputTokens: 5 } });
  });

  it('openai: usage missing → settle the hold', async () => {
    const { rec, opts } = meter(estimate);
    const stream = await meterIterable({ ...opts, format: 'openai-chat' }, () => openai.chat.completions.create(chatBody, sim_({ fail: 'usage_missing' })));
    for await (const _ of stream);
    expect(oneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'usage_missing', usage: estimate });
  });

  const anthBody = { model: 'claude-sonnet-5-5', max_tokens: 64, system: 'You are terse.', messages: [{ role: 'user' as const, content: 'Say something about foxes.' }], stream: true as const };
  const anthEstimate = estimateAnthropicMessages(anthBody);

  it('anthropic: normal end → settle message_start input (cache read/write apart) + message_delta output', async () => {
    const { rec, opts } = meter(anthEstimate);
    const stream = await meterIterable({ ...opts, format: 'anthropic' }, () => anthropic.messages.create(anthBody, sim_({ 'output-tokens': 8, 'cached-tokens': 5, 'cache-write-tokens': 2 })));
    for await (const _ of stream);
    expect(oneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'completed', usage: { inputTokens: PROMPT, cachedInputTokens: 5, cacheWriteTokens: 2, outputTokens: 8, reasoningTokens: 0 } });
  });

  it('anthropic: client abort after 3 deltas → the provider’s input count + 3', async () => {
    const { rec, opts } = meter(anthEstimate);
    const stream = await meterIterable({ ...opts, format: 'anthropic' }, () => anthropic.messages.create(anthBody, sim_({ 'output-tokens': 30, 'cached-tokens': 5 })));
    let n = 0;
    for await (const e of stream) if (e.type === 'content_block_delta' && ++n === 3) break;
    expect(oneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'client_abort', usage: { inputTokens: PROMPT, cachedInputTokens: 5, cacheWriteTokens: 0, outputTokens: 3, reasoningTokens: 0 } });
  });

  it('anthropic: 529 before the first token → release; error event after 2 tokens → settle input + 2; usage missing → the hold', async () => {
    const a = meter(anthEstimate);
    await expect(meterIterable({ ...a.opts, format: 'anthropic' }, () => anthropic.messages.create(anthBody, sim_({ fail: 'before_first_token' })))).rejects.toBeInstanceOf(Anthropic.APIError);
    expect(oneEnding(a.rec)).toEqual({ op: 'release', id: 'res_1', ending: 'error_before_tokens' });

    const b = meter(anthEstimate);
    const s = await meterIterable({ ...b.opts, format: 'anthropic' }, () => anthropic.messages.create(anthBody, sim_({ fail: 'error_after_tokens:2', 'output-tokens': 9 })));
    await expect((async () => { for await (const _ of s); })()).rejects.toBeInstanceOf(Anthropic.APIError);
    expect(oneEnding(b.rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'error_after_tokens', usage: { inputTokens: PROMPT, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 2, reasoningTokens: 0 } });

    const c = meter(anthEstimate);
    const s2 = await meterIterable({ ...c.opts, format: 'anthropic' }, () => anthropic.messages.create(anthBody, sim_({ fail: 'usage_missing' })));
    for await (const _ of s2);
    expect(oneEnding(c.rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'usage_missing', usage: anthEstimate });
  });

  it('non-streaming: meterCall settles the SDK response’s usage', async () => {
    const { rec, opts } = meter(estimate);
    const r = await meterCall({ ...opts, normalize: (r: OpenAI.ChatCompletion) => (r.usage ? fromOpenAIChat(r.usage) : null) }, () => openai.chat.completions.create({ ...chatBody, stream: false }, sim_({ 'output-tokens': 7 })));
    expect(r.choices[0].message.content).toBe(outputDeltas(7).join(''));
    expect(oneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'completed', usage: { inputTokens: PROMPT, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 7, reasoningTokens: 0 } });
  });

  it('a gateway’s shape: the SDK reads a metered SSE body (meterSSE around fetch) as if it came from the provider', async () => {
    const { rec, opts } = meter(anthEstimate);
    // The client's fetch stands in for a gateway: it forwards to the stand-in and meters the body.
    const gatewayFetch: typeof fetch = async (input, init) => {
      const upstream = await fetch(input, init);
      if (!upstream.ok || !upstream.body) return upstream;
      const body = await meterSSE({ ...opts, format: 'anthropic' }, async () => upstream.body!);
      return new Response(body, { status: upstream.status, headers: upstream.headers });
    };
    const client = new Anthropic({ baseURL: sim.url, apiKey: 'k', maxRetries: 0, fetch: gatewayFetch });
    const final = await client.messages.stream({ ...anthBody, stream: undefined }, sim_({ 'output-tokens': 6 })).finalMessage();
    expect(final.content[0]).toEqual({ type: 'text', text: outputDeltas(6).join('') });
    expect(oneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', ending: 'completed', usage: { inputTokens: PROMPT, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 6, reasoningTokens: 0 } });
  });
});
