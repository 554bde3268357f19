/**
 * Stream metering helpers: under every ending, exactly one settle or one release, with the usage the
 * documented rule gives, dispatched through waitUntil; the bytes reach the consumer untouched.
 */
import { describe, expect, it } from 'vitest';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { Metering, meterCall, meterIterable, meterSSE, type MeterOptions } from '../../client/stream';
import { fromOpenAIChat, type Usage } from '../../client/usage';
import { anthropicSSE, billingRecorder, concat, openaiChatSSE, readStream, sseBody } from './helpers';

const WORDS = [' the', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog'];
const ESTIMATE: Usage = { inputTokens: 40, outputTokens: 256, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
// https://platform.openai.com/docs/guides/prompt-caching usage example, as the stream's last chunk.
const OPENAI_USAGE = { prompt_tokens: 2006, completion_tokens: 300, total_tokens: 2306, prompt_tokens_details: { cached_tokens: 1920 }, completion_tokens_details: { reasoning_tokens: 0 } };

function setup(extra: Partial<{ refuse: boolean; settleFails: boolean; settleThrowsSync: boolean; settleNeverResolves: boolean }> = {}) {
  const rec = billingRecorder(extra);
  const opts: MeterOptions = { billing: rec.billing, waitUntil: rec.waitUntil, estimate: ESTIMATE, onOutcome: rec.onOutcome, onBillingError: rec.onBillingError };
  return { rec, opts };
}

/** The one ending a metered call must have: exactly one settle or release, handed to waitUntil once. */
function expectOneEnding(rec: ReturnType<typeof billingRecorder>) {
  expect(rec.endings()).toHaveLength(1);
  expect(rec.waited).toHaveLength(1);
  expect(rec.outcomes).toHaveLength(1);
  return rec.endings()[0];
}

const partial = (input: Partial<Usage>, outputTokens: number): Usage => ({ ...ESTIMATE, reasoningTokens: 0, ...input, outputTokens });

describe('meterSSE — OpenAI chat', () => {
  it('passes the bytes through byte-identical (same chunks, even split inside a UTF-8 character)', async () => {
    const { rec, opts } = setup();
    const text = openaiChatSSE([' héllo', ' wörld ✓'], OPENAI_USAGE).join('');
    const bytes = new TextEncoder().encode(text);
    // Split at awkward places: mid-line and inside the multi-byte characters.
    const cuts = [7, 200, bytes.indexOf(0xc3) + 1, bytes.lastIndexOf(0x9c), bytes.length];
    const pieces: Uint8Array[] = [];
    let at = 0;
    for (const c of cuts.sort((a, b) => a - b)) if (c > at) pieces.push(bytes.slice(at, (at = c)));
    const upstream = new ReadableStream<Uint8Array>({ start(c) { for (const p of pieces) c.enqueue(p); c.close(); } });
    const out = await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => upstream));
    expect(out.chunks).toHaveLength(pieces.length);
    out.chunks.forEach((c, i) => expect(c).toBe(pieces[i])); // the very same objects
    expect(concat(out.chunks)).toEqual(bytes);
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: fromOpenAIChat(OPENAI_USAGE) });
  });

  it('normal end with usage in the last chunk → settle the normalized usage', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(openaiChatSSE(WORDS, OPENAI_USAGE));
    await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream));
    expect(rec.calls[0]).toEqual({ op: 'authorize', usage: ESTIMATE });
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: { inputTokens: 2006, cachedInputTokens: 1920, cacheWriteTokens: 0, outputTokens: 300, reasoningTokens: 0 } });
    expect(rec.outcomes[0].ending).toBe('completed');
  });

  it('usage missing at the end → settle the hold', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(openaiChatSSE(WORDS, null));
    await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream));
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: ESTIMATE });
    expect(rec.outcomes[0].ending).toBe('usage_missing');
  });

  it('client abort after 4 chunks → settle the estimate’s input + the deltas received, counted in o200k_base; upstream cancelled', async () => {
    const { rec, opts } = setup();
    const body = sseBody(openaiChatSSE(WORDS, OPENAI_USAGE));
    const out = await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => body.stream), 4, 5);
    expect(out.chunks).toHaveLength(4); // role chunk + 3 words
    expect(body.state.cancelled).toBe(true);
    expect(body.state.delivered).toBe(4); // no read-ahead past what the client took
    const produced = countTokens(WORDS.slice(0, 3).join(''));
    expect(produced).toBe(3);
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: partial({}, 3) });
    expect(rec.outcomes[0].ending).toBe('client_abort');
  });

  it('client abort after the usage chunk arrived (before [DONE]) → settle that usage', async () => {
    const { rec, opts } = setup();
    const parts = openaiChatSSE(WORDS, OPENAI_USAGE);
    const { stream } = sseBody(parts);
    await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream), parts.length - 1);
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: fromOpenAIChat(OPENAI_USAGE) });
  });

  it('abort before any token → still settles the input (work was requested), output 0', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(openaiChatSSE(WORDS, OPENAI_USAGE));
    await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream), 0);
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: partial({}, 0) });
  });

  it('provider connection lost before any token → release; the consumer sees the error', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(openaiChatSSE(WORDS, OPENAI_USAGE), { errorAt: 1 }); // only the role chunk came
    const out = await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream));
    expect(out.error).toBeInstanceOf(TypeError);
    expect(expectOneEnding(rec)).toEqual({ op: 'release', id: 'res_1' });
    expect(rec.outcomes[0].ending).toBe('error_before_tokens');
  });

  it('provider connection lost after 5 tokens → settle input + 5 output tokens', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(openaiChatSSE(WORDS, OPENAI_USAGE), { errorAt: 6 });
    const out = await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream));
    expect(out.error).toBeDefined();
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: partial({}, 5) });
    expect(rec.outcomes[0].ending).toBe('error_after_tokens');
  });

  it('an error payload mid-stream (then a clean close) is a provider error after tokens', async () => {
    const { rec, opts } = setup();
    const parts = [...openaiChatSSE(WORDS.slice(0, 2), null, { done: false }).slice(0, 3), `data: ${JSON.stringify({ error: { message: 'The server had an error', type: 'server_error', param: null, code: null } })}\n\n`];
    const { stream } = sseBody(parts);
    await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream));
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: partial({}, 2) });
  });

  it('opening the provider call fails (HTTP 500) → release and rethrow; a refused authorize never calls the provider', async () => {
    const { rec, opts } = setup();
    await expect(meterSSE({ ...opts, format: 'openai-chat' }, async () => { throw new Error('500 server_error'); })).rejects.toThrow('500');
    expect(expectOneEnding(rec)).toEqual({ op: 'release', id: 'res_1' });

    const refused = setup({ refuse: true });
    let called = false;
    await expect(meterSSE({ ...refused.opts, format: 'openai-chat' }, async () => { called = true; return sseBody([]).stream; })).rejects.toThrow('insufficient');
    expect(called).toBe(false);
    expect(refused.rec.endings()).toHaveLength(0);
    expect(refused.rec.waited).toHaveLength(0);
  });

  it('settles off the response path: the stream ends while the settle is still pending', async () => {
    const { rec, opts } = setup({ settleNeverResolves: true });
    const { stream } = sseBody(openaiChatSSE(WORDS, OPENAI_USAGE));
    const out = await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream));
    expect(out.error).toBeUndefined();
    expect(rec.endings()).toHaveLength(1);
    expect(rec.waited).toHaveLength(1); // handed to waitUntil, not awaited by the stream
  });

  it('a failing settle is reported, and the promise handed to waitUntil does not reject', async () => {
    const { rec, opts } = setup({ settleFails: true });
    const { stream } = sseBody(openaiChatSSE(WORDS, OPENAI_USAGE));
    await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream));
    await expect(Promise.all(rec.waited)).resolves.toBeDefined();
    expect(rec.billingErrors).toHaveLength(1);
    expect(expectOneEnding(rec).op).toBe('settle');
  });

  it('a billing client that throws synchronously is reported the same way; the stream is unaffected', async () => {
    const { rec, opts } = setup({ settleThrowsSync: true });
    const { stream } = sseBody(openaiChatSSE(WORDS, OPENAI_USAGE));
    const out = await readStream(await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream));
    expect(out.error).toBeUndefined();
    await Promise.all(rec.waited);
    expect(rec.billingErrors).toHaveLength(1);
    expect(expectOneEnding(rec).op).toBe('settle');
  });

  it('a cancel while a read is pending (provider slow) → one client-abort ending, no error', async () => {
    const { rec, opts } = setup();
    const parts = openaiChatSSE(WORDS.slice(0, 2), OPENAI_USAGE);
    const enc = new TextEncoder();
    let i = 0;
    let cancelled = false;
    // Two content chunks, then the provider goes quiet: the next read stays pending.
    const upstream = new ReadableStream<Uint8Array>({ pull: (c) => (i < 3 ? c.enqueue(enc.encode(parts[i++])) : new Promise(() => {})), cancel: () => void (cancelled = true) }, { highWaterMark: 0 });
    const reader = (await meterSSE({ ...opts, format: 'openai-chat' }, async () => upstream)).getReader();
    for (let k = 0; k < 3; k++) await reader.read();
    const pending = reader.read();
    await reader.cancel('client went away');
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(cancelled).toBe(true);
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: partial({}, 2) });
    expect(rec.outcomes[0].ending).toBe('client_abort');
  });

  it('a cancel after the stream ended changes nothing (still one ending)', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(openaiChatSSE(WORDS, OPENAI_USAGE));
    const metered = await meterSSE({ ...opts, format: 'openai-chat' }, async () => stream);
    await readStream(metered);
    await metered.cancel('late').catch(() => {});
    expect(expectOneEnding(rec).op).toBe('settle');
  });
});

describe('meterSSE — Anthropic', () => {
  it('normal end → settle input from message_start and the cumulative output of message_delta', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(anthropicSSE(['Hello', '!']));
    await readStream(await meterSSE({ ...opts, format: 'anthropic' }, async () => stream));
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: { inputTokens: 25, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 15, reasoningTokens: 0 } });
  });

  it('cache read and write from message_start are settled in their own classes', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(anthropicSSE(WORDS, { startUsage: { input_tokens: 4, cache_read_input_tokens: 1800, cache_creation_input_tokens: 300, output_tokens: 1 }, deltaUsage: { output_tokens: 9 } }));
    await readStream(await meterSSE({ ...opts, format: 'anthropic' }, async () => stream));
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: { inputTokens: 2104, cachedInputTokens: 1800, cacheWriteTokens: 300, outputTokens: 9, reasoningTokens: 0 } });
  });

  it('client abort → the provider’s own input count (message_start) + the deltas counted', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(anthropicSSE(WORDS, { startUsage: { input_tokens: 7, cache_read_input_tokens: 1000, cache_creation_input_tokens: 0, output_tokens: 1 } }));
    await readStream(await meterSSE({ ...opts, format: 'anthropic' }, async () => stream), 3 + 4); // start, block start, ping, 4 deltas
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: { inputTokens: 1007, cachedInputTokens: 1000, cacheWriteTokens: 0, outputTokens: 4, reasoningTokens: 0 } });
  });

  it('usage missing from message_delta → settle the hold', async () => {
    const { rec, opts } = setup();
    const { stream } = sseBody(anthropicSSE(WORDS, { deltaUsage: null }));
    await readStream(await meterSSE({ ...opts, format: 'anthropic' }, async () => stream));
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: ESTIMATE });
  });

  it('an `error` event (overloaded) after 2 deltas → settle input + 2; before any delta → release', async () => {
    const err = `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`;
    const after = setup();
    const parts = anthropicSSE(WORDS);
    await readStream(await meterSSE({ ...after.opts, format: 'anthropic' }, async () => sseBody([...parts.slice(0, 5), err]).stream));
    expect(expectOneEnding(after.rec)).toEqual({ op: 'settle', id: 'res_1', usage: { inputTokens: 25, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 2, reasoningTokens: 0 } });

    const before = setup();
    await readStream(await meterSSE({ ...before.opts, format: 'anthropic' }, async () => sseBody([...parts.slice(0, 3), err]).stream));
    expect(expectOneEnding(before.rec)).toEqual({ op: 'release', id: 'res_1' });
  });
});

describe('wrapSSE onFinalEvent (a proxy may close its client\'s copy there)', () => {
  /** Reads chunk by chunk; returns the index of the chunk whose read saw onFinalEvent already called, or -1. */
  async function finalAt(format: 'openai-chat' | 'anthropic', parts: string[], errorAt?: number) {
    const { rec, opts } = setup();
    const m = await Metering.authorize(opts);
    let calls = 0;
    const reader = m.wrapSSE(format, sseBody(parts, { errorAt }).stream, { onFinalEvent: () => void calls++ }).getReader();
    let at = -1;
    for (let i = 0; ; i++) {
      const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) break;
      if (calls > 0 && at < 0) at = i;
    }
    return { at, calls, rec };
  }

  it('OpenAI chat: called once, by the time the consumer receives the [DONE] chunk; the metering still ends at the stream\'s end', async () => {
    const parts = openaiChatSSE(WORDS, OPENAI_USAGE);
    const { at, calls, rec } = await finalAt('openai-chat', parts);
    expect([at, calls]).toEqual([parts.length - 1, 1]);
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: fromOpenAIChat(OPENAI_USAGE) });
  });

  it('Anthropic: called once, with the message_stop chunk', async () => {
    const parts = anthropicSSE(WORDS);
    const { at, calls } = await finalAt('anthropic', parts);
    expect(parts[at]).toContain('message_stop');
    expect([at, calls]).toEqual([parts.length - 1, 1]);
  });

  it('never called when the provider\'s stream ends without its last event (lost connection, or no [DONE])', async () => {
    expect((await finalAt('openai-chat', openaiChatSSE(WORDS, OPENAI_USAGE), 5)).calls).toBe(0);
    expect((await finalAt('openai-chat', openaiChatSSE(WORDS, OPENAI_USAGE, { done: false }))).calls).toBe(0);
    expect((await finalAt('anthropic', anthropicSSE(WORDS).slice(0, -1))).calls).toBe(0);
  });
});

describe('meterIterable (SDK stream objects)', () => {
  const chunks = (n: number, usage: object | null) => [
    ...WORDS.slice(0, n).map((w) => ({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })),
    ...(usage ? [{ id: 'c', object: 'chat.completion.chunk', choices: [], usage }] : []),
  ];
  async function* gen<T>(items: T[], throwAt?: number) {
    for (let i = 0; i < items.length; i++) {
      if (i === throwAt) throw new Error('APIConnectionError');
      yield items[i];
    }
  }

  it('yields the same objects; normal end with usage → settle it', async () => {
    const { rec, opts } = setup();
    const items = chunks(5, OPENAI_USAGE);
    const seen: unknown[] = [];
    for await (const c of await meterIterable({ ...opts, format: 'openai-chat' }, async () => gen(items))) seen.push(c);
    expect(seen).toHaveLength(items.length);
    seen.forEach((c, i) => expect(c).toBe(items[i]));
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: fromOpenAIChat(OPENAI_USAGE) });
  });

  it('breaking out of the loop is a client abort: settle what was produced, and the source is returned', async () => {
    const { rec, opts } = setup();
    let returned = false;
    const source = {
      async *[Symbol.asyncIterator]() {
        try {
          yield* chunks(9, OPENAI_USAGE);
        } finally {
          returned = true;
        }
      },
    };
    let n = 0;
    for await (const _ of await meterIterable({ ...opts, format: 'openai-chat' }, async () => source)) if (++n === 3) break;
    expect(returned).toBe(true);
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: partial({}, 3) });
  });

  it('a consumer that returns before reading anything still ends the call (client abort, input only)', async () => {
    const { rec, opts } = setup();
    let returned = false;
    const source = { [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true as const, value: undefined }), return: async () => ((returned = true), { done: true as const, value: undefined }) }) };
    const it = (await meterIterable({ ...opts, format: 'openai-chat' }, async () => source))[Symbol.asyncIterator]();
    await it.return!();
    expect(returned).toBe(true);
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: partial({}, 0) });
  });

  it('a throw before any token → release; after tokens → settle them; usage missing → the hold', async () => {
    const before = setup();
    await expect((async () => { for await (const _ of await meterIterable({ ...before.opts, format: 'openai-chat' }, async () => gen(chunks(5, null), 0))); })()).rejects.toThrow('APIConnectionError');
    expect(expectOneEnding(before.rec)).toEqual({ op: 'release', id: 'res_1' });

    const after = setup();
    await expect((async () => { for await (const _ of await meterIterable({ ...after.opts, format: 'openai-chat' }, async () => gen(chunks(5, null), 4))); })()).rejects.toThrow();
    expect(expectOneEnding(after.rec)).toEqual({ op: 'settle', id: 'res_1', usage: partial({}, 4) });

    const missing = setup();
    for await (const _ of await meterIterable({ ...missing.opts, format: 'openai-chat' }, async () => gen(chunks(5, null))));
    expect(expectOneEnding(missing.rec)).toEqual({ op: 'settle', id: 'res_1', usage: ESTIMATE });
  });

  it('OpenAI Responses events: usage from response.completed', async () => {
    const { rec, opts } = setup();
    const usage = { input_tokens: 75, input_tokens_details: { cached_tokens: 0 }, output_tokens: 1186, output_tokens_details: { reasoning_tokens: 1024 }, total_tokens: 1261 };
    const events = [
      { type: 'response.created', sequence_number: 0, response: { usage: null } },
      { type: 'response.output_text.delta', sequence_number: 1, delta: ' the' },
      { type: 'response.completed', sequence_number: 2, response: { usage } },
    ];
    for await (const _ of await meterIterable({ ...opts, format: 'openai-responses' }, async () => gen(events)));
    expect(expectOneEnding(rec)).toEqual({ op: 'settle', id: 'res_1', usage: { inputTokens: 75, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 1186, reasoningTokens: 1024 } });
  });
});

describe('meterCall (non-streaming)', () => {
  const normalize = (r: { id?: string; usage?: typeof OPENAI_USAGE }) => (r.usage ? fromOpenAIChat(r.usage) : null);

  it('result with usage → settle it; without → settle the hold; a malformed usage → the hold', async () => {
    const a = setup();
    const result = { id: 'x', usage: OPENAI_USAGE };
    expect(await meterCall({ ...a.opts, normalize }, async () => result)).toBe(result);
    expect(expectOneEnding(a.rec)).toEqual({ op: 'settle', id: 'res_1', usage: fromOpenAIChat(OPENAI_USAGE) });

    const b = setup();
    await meterCall({ ...b.opts, normalize }, async () => ({ id: 'x' }));
    expect(expectOneEnding(b.rec)).toEqual({ op: 'settle', id: 'res_1', usage: ESTIMATE });

    const c = setup();
    await meterCall({ ...c.opts, normalize }, async () => ({ id: 'x', usage: { ...OPENAI_USAGE, prompt_tokens: -5 } }));
    expect(expectOneEnding(c.rec)).toEqual({ op: 'settle', id: 'res_1', usage: ESTIMATE });
  });

  it('the call throws → release and rethrow; refused authorize → the call is not made', async () => {
    const a = setup();
    await expect(meterCall({ ...a.opts, normalize }, async () => { throw new Error('529 overloaded'); })).rejects.toThrow('529');
    expect(expectOneEnding(a.rec)).toEqual({ op: 'release', id: 'res_1' });

    const b = setup({ refuse: true });
    let called = false;
    await expect(meterCall({ ...b.opts, normalize }, async () => { called = true; return {}; })).rejects.toThrow('insufficient');
    expect(called).toBe(false);
    expect(b.rec.endings()).toHaveLength(0);
  });
});

describe('Metering guard', () => {
  it('lets exactly one settle or release through, whatever is called after', async () => {
    const { rec, opts } = setup();
    const m = await Metering.authorize(opts);
    expect(m.settle(ESTIMATE, 'completed')).toBe(true);
    expect(m.release()).toBe(false);
    expect(m.settle(ESTIMATE, 'client_abort')).toBe(false);
    expect(expectOneEnding(rec).op).toBe('settle');
    expect(m.outcome).toEqual({ ending: 'completed', action: 'settle', usage: ESTIMATE });
  });
});
