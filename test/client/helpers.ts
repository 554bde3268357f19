/**
 * Test doubles for the metering helpers: a recorder standing in for the *billing interface* (the
 * real BillingClient implements it later; it is not the code under test) and SSE byte streams.
 */
import type { MeteringBilling, Outcome } from '../../client/stream';
import type { Usage } from '../../client/usage';

export type BillingCall = { op: 'authorize'; usage: Usage } | { op: 'settle'; id: string; usage: Usage } | { op: 'release'; id: string };

export function billingRecorder(opts: { refuse?: boolean; settleFails?: boolean; settleThrowsSync?: boolean; settleNeverResolves?: boolean } = {}) {
  const calls: BillingCall[] = [];
  const waited: Promise<unknown>[] = [];
  const outcomes: Outcome[] = [];
  const billingErrors: unknown[] = [];
  let n = 0;
  const billing: MeteringBilling = {
    async authorize(usage) {
      calls.push({ op: 'authorize', usage });
      if (opts.refuse) throw Object.assign(new Error('insufficient balance'), { code: 'insufficient_balance' });
      return { reservationId: `res_${++n}` };
    },
    settle(id, usage) {
      calls.push({ op: 'settle', id, usage });
      if (opts.settleThrowsSync) throw new Error('billing client bug');
      if (opts.settleNeverResolves) return new Promise(() => {});
      return opts.settleFails ? Promise.reject(new Error('billing down')) : Promise.resolve({ ok: true });
    },
    async release(id) {
      calls.push({ op: 'release', id });
    },
  };
  return {
    billing,
    calls,
    waited,
    outcomes,
    billingErrors,
    waitUntil: (p: Promise<unknown>) => void waited.push(p),
    onOutcome: (o: Outcome) => void outcomes.push(o),
    onBillingError: (e: unknown) => void billingErrors.push(e),
    /** The settle/release calls (there must be exactly one per metered call). */
    endings: () => calls.filter((c) => c.op !== 'authorize'),
  };
}

const enc = new TextEncoder();

/**
 * An upstream SSE body delivering `parts` one chunk each. `errorAt: i` errors the stream when chunk
 * i is requested (a provider connection lost). `cancelled` reports whether the wrapper cancelled it.
 */
export function sseBody(parts: string[], opts: { errorAt?: number } = {}) {
  const chunks = parts.map((p) => enc.encode(p));
  const state = { cancelled: false, cancelReason: undefined as unknown, delivered: 0 };
  let i = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(c) {
        if (opts.errorAt !== undefined && i === opts.errorAt) return c.error(new TypeError('terminated: other side closed'));
        if (i < chunks.length) {
          state.delivered++;
          c.enqueue(chunks[i++]);
        } else c.close();
      },
      cancel(reason) {
        state.cancelled = true;
        state.cancelReason = reason;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, chunks, state };
}

/** Read a stream to its end, or `limit` chunks then cancel (a client hanging up). */
export async function readStream(stream: ReadableStream<Uint8Array>, limit = Infinity, pauseMs = 0): Promise<{ chunks: Uint8Array[]; error?: unknown }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  try {
    while (chunks.length < limit) {
      // A slow consumer: gives a read-ahead (if the wrapper had one) time to run.
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      const r = await reader.read();
      if (r.done) return { chunks };
      chunks.push(r.value);
    }
    await reader.cancel('client went away');
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** OpenAI chat SSE (chat-streaming reference): a role chunk, content chunks, finish, optional usage, [DONE]. */
export function openaiChatSSE(words: string[], usage: object | null, opts: { done?: boolean } = {}): string[] {
  const base = { id: 'chatcmpl-123', object: 'chat.completion.chunk', created: 1694268190, model: 'gpt-4o-mini', system_fingerprint: 'fp_44709d6fcb' };
  const withUsage = usage ? { usage: null } : {};
  const parts = [`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...withUsage })}\n\n`];
  for (const w of words) parts.push(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: w }, logprobs: null, finish_reason: null }], ...withUsage })}\n\n`);
  parts.push(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...withUsage })}\n\n`);
  if (usage) parts.push(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
  if (opts.done !== false) parts.push('data: [DONE]\n\n');
  return parts;
}

/** Anthropic SSE, the docs' basic streaming example (input 25, output 1 → 15), with our words as deltas. */
export function anthropicSSE(words: string[], opts: { deltaUsage?: object | null; startUsage?: object } = {}): string[] {
  const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const startUsage = opts.startUsage ?? { input_tokens: 25, output_tokens: 1 };
  const deltaUsage = opts.deltaUsage === undefined ? { output_tokens: 15 } : opts.deltaUsage;
  return [
    ev('message_start', { message: { id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY', type: 'message', role: 'assistant', content: [], model: 'claude-3-5-sonnet-20241022', stop_reason: null, stop_sequence: null, usage: startUsage } }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', {}),
    ...words.map((w) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: w } })),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, ...(deltaUsage ? { usage: deltaUsage } : {}) }),
    ev('message_stop', {}),
  ];
}
