#!/usr/bin/env node
// Model-provider stand-in for tests and local runs: speaks enough of the OpenAI and Anthropic wire
// formats for their official SDKs to use it unchanged (only `baseURL` and a dummy key):
//   new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test' })
//   new Anthropic({ baseURL: url, apiKey: 'sk-ant-test' })
// Wire formats followed (cited where each is produced below):
//   OpenAI chat completions  https://platform.openai.com/docs/api-reference/chat/object
//                            https://platform.openai.com/docs/api-reference/chat-streaming (chunks, stream_options.include_usage)
//   OpenAI responses         https://platform.openai.com/docs/api-reference/responses/object
//                            https://platform.openai.com/docs/api-reference/responses-streaming
//   OpenAI errors            https://platform.openai.com/docs/guides/error-codes
//   Anthropic messages       https://docs.anthropic.com/en/api/messages
//                            (usage.cache_creation, the TTL split of cache_creation_input_tokens: @anthropic-ai/sdk
//                            1.14.0, resources/messages/messages.d.ts `Usage.cache_creation: CacheCreation | null`,
//                            `CacheCreation { ephemeral_1h_input_tokens: number; ephemeral_5m_input_tokens: number }`;
//                            `MessageDeltaUsage` has no such field, so a stream carries it in message_start only;
//                            TTLs and their prices: https://docs.claude.com/en/docs/build-with-claude/prompt-caching)
//                            https://docs.anthropic.com/en/docs/build-with-claude/streaming (event sequence)
//   Anthropic errors         https://docs.anthropic.com/en/api/errors (shape; 529 overloaded_error)
// See docs/ai-endpoints.md, "The upstream stand-in".
import http from 'node:http';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

/** The deterministic output: one o200k_base token per word (checked by the tests). */
export const WORDS = ' the quick brown fox jumps over the lazy dog and then runs away into a green field where many small birds sing'.split(/(?= )/);

/** The first `n` output tokens, as the deltas a stream sends (one token each). */
export function outputDeltas(n) {
  return Array.from({ length: n }, (_, i) => WORDS[i % WORDS.length]);
}

/**
 * Per-request switches, from headers or from a model-name suffix (`gpt-4o-mini+fail=usage_missing+output=5`),
 * so a caller that cannot set headers (a gateway forwarding only the body) can still use them:
 *   x-sim-fail: before_first_token | mid_stream_disconnect[:N] | usage_missing | slow_first_token:<ms> | error_after_tokens[:N]
 *               | body_cut (non-streaming: status, headers and half the body, then the socket is destroyed)
 *   x-sim-output-tokens: N         visible output tokens (default 20, capped by the request's max tokens)
 *   x-sim-cached-tokens: N         prompt tokens served from the cache (OpenAI cached_tokens, Anthropic cache_read_input_tokens)
 *   x-sim-cache-write-tokens: N    Anthropic cache_creation_input_tokens
 *   x-sim-cache-write-1h-tokens: N the part of those written with a 1-hour TTL (Anthropic
 *                                  cache_creation.ephemeral_1h_input_tokens; the rest is ephemeral_5m_input_tokens)
 *   x-sim-reasoning-tokens: N      OpenAI reasoning tokens (inside completion_tokens / output_tokens)
 *   x-sim-chunk-delay-ms: N        wait N ms after each content chunk (default 0), so a client can leave mid-stream;
 *                                  pacing only (like slow_first_token): the chunks themselves follow the docs cited above
 */
export function parseSwitches(headers, model) {
  const raw = {};
  const [base, ...suffix] = String(model ?? '').split('+');
  for (const kv of suffix) {
    const i = kv.indexOf('=');
    if (i > 0) raw[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const h = (name) => headers[`x-sim-${name}`];
  const fail = String(h('fail') ?? raw.fail ?? '');
  const [mode, arg] = fail.split(':');
  const int = (v, d) => (v === undefined || v === '' || !/^\d+$/.test(String(v)) ? d : Number(v));
  return {
    model: base,
    fail: mode || null,
    failArg: arg === undefined ? undefined : int(arg, undefined),
    output: int(h('output-tokens') ?? raw.output, 20),
    cached: int(h('cached-tokens') ?? raw.cached, 0),
    cacheWrite: int(h('cache-write-tokens') ?? raw.cache_write, 0),
    cacheWrite1h: int(h('cache-write-1h-tokens') ?? raw.cache_write_1h, 0),
    reasoning: int(h('reasoning-tokens') ?? raw.reasoning, 0),
    delay: int(h('chunk-delay-ms') ?? raw.delay, 0),
  };
}

/** Text of a content value: a string or a list of parts with `text`. */
function text(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === 'string' ? p : typeof p?.text === 'string' ? p.text : '')).join('');
  return '';
}

/**
 * Prompt tokens as the stand-in reports them: o200k_base over the text + 3 per message + 3 for the
 * reply (OpenAI's documented chat framing). Real providers count with their own tokenizers; what
 * matters here is that the count is deterministic and realistic in size.
 */
export function promptTokens(messages, system) {
  let n = 3;
  if (system) n += 3 + countTokens(text(system));
  for (const m of messages ?? []) n += 3 + countTokens(text(m?.content));
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const id = (prefix) => `${prefix}${Date.now().toString(36)}${(++seq).toString(36).padStart(6, '0')}`;

function sendJson(res, status, body, headers = {}) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** `body_cut`: the answer's status, headers (its whole length announced) and first half, then the connection drops. */
function sendJsonCut(res, status, body, headers = {}) {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': data.length, ...headers });
  res.write(data.subarray(0, Math.floor(data.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
}

/** The non-streamed answer: whole, or cut by `x-sim-fail: body_cut`. */
const sendAnswer = (sw) => (sw.fail === 'body_cut' ? sendJsonCut : sendJson);

/** OpenAI error shape: { error: { message, type, param, code } }, with the `x-request-id` header OpenAI sends. */
const openaiError = (res, status, message, type, code = null) => sendJson(res, status, { error: { message, type, param: null, code } }, { 'x-request-id': id('req_') });
/** Anthropic error shape: { type: 'error', error: { type, message } }, with a request-id header. */
const anthropicError = (res, status, type, message) => sendJson(res, status, { type: 'error', error: { type, message } }, { 'request-id': id('req_') });

function sseHead(res, extra = {}) {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...extra });
  res.flushHeaders();
}

/** Destroy the connection mid-response: the client sees the body end abruptly (no clean close). */
function disconnect(res) {
  res.socket?.destroy();
}

/** Stream mode helper: the number of content chunks after which a mid-stream failure happens. */
const failAfter = (sw, n) => Math.min(sw.failArg ?? Math.max(1, Math.floor(n / 2)), n);

// ---------------------------------------------------------------- OpenAI chat completions

function openaiChatUsage(prompt, sw, completionVisible, includeDetails = true) {
  const cached = Math.min(sw.cached, prompt);
  const completion = completionVisible + sw.reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(includeDetails && {
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: sw.reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    }),
  };
}

async function chatCompletions(req, res, body, sw) {
  if (!Array.isArray(body.messages) || !body.model) return openaiError(res, 400, "Missing required parameter: 'messages' or 'model'.", 'invalid_request_error', 'missing_required_parameter');
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const n = Math.max(0, Math.min(sw.output, maxTokens ?? Infinity));
  const finish = maxTokens !== undefined && sw.output > maxTokens ? 'length' : 'stop';
  const prompt = promptTokens(body.messages);
  const deltas = outputDeltas(n);
  const created = Math.floor(Date.now() / 1000);
  const cid = id('chatcmpl-');
  const base = { id: cid, created, model: sw.model, system_fingerprint: 'fp_upstream_sim', service_tier: 'default' };

  if (sw.fail === 'before_first_token') return openaiError(res, 500, 'The server had an error while processing your request. Sorry about that!', 'server_error');
  if (sw.fail === 'slow_first_token') await sleep(sw.failArg ?? 1000);

  if (!body.stream) {
    if (sw.fail === 'mid_stream_disconnect' || sw.fail === 'error_after_tokens') return disconnect(res);
    return sendAnswer(sw)(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: deltas.join(''), refusal: null, annotations: [] }, logprobs: null, finish_reason: finish }],
      ...(sw.fail === 'usage_missing' ? {} : { usage: openaiChatUsage(prompt, sw, n) }),
    }, { 'x-request-id': id('req_') });
  }

  // https://platform.openai.com/docs/api-reference/chat-streaming: chunks `chat.completion.chunk`;
  // with stream_options.include_usage every chunk carries `usage: null` and one extra chunk with
  // `choices: []` and the usage comes before `data: [DONE]`.
  const includeUsage = body.stream_options?.include_usage === true && sw.fail !== 'usage_missing';
  const chunk = (choices, extra = {}) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
  sseHead(res, { 'x-request-id': id('req_') });
  res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]));
  const cut = sw.fail === 'mid_stream_disconnect' || sw.fail === 'error_after_tokens' ? failAfter(sw, n) : Infinity;
  for (let i = 0; i < n; i++) {
    if (i === cut) {
      if (sw.fail === 'error_after_tokens') {
        // An error payload mid-stream, as OpenAI sends on a server failure after streaming began.
        res.write(`data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } })}\n\n`);
        return res.end();
      }
      return disconnect(res);
    }
    res.write(chunk([{ index: 0, delta: { content: deltas[i] }, logprobs: null, finish_reason: null }]));
    await sleep(sw.delay);
  }
  res.write(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finish }]));
  if (includeUsage) res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage: openaiChatUsage(prompt, sw, n) })}\n\n`);
  res.write('data: [DONE]\n\n');
  res.end();
}

// ---------------------------------------------------------------- OpenAI responses

function responsesUsage(prompt, sw, visible) {
  const output = visible + sw.reasoning;
  return {
    input_tokens: prompt,
    input_tokens_details: { cached_tokens: Math.min(sw.cached, prompt) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: sw.reasoning },
    total_tokens: prompt + output,
  };
}

async function responses(req, res, body, sw) {
  if (!body.model || body.input === undefined) return openaiError(res, 400, "Missing required parameter: 'input' or 'model'.", 'invalid_request_error', 'missing_required_parameter');
  const items = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : body.input;
  const n = Math.max(0, Math.min(sw.output, body.max_output_tokens ?? Infinity));
  const prompt = promptTokens(items, body.instructions);
  const deltas = outputDeltas(n);
  const rid = id('resp_');
  const mid = id('msg_');
  const created_at = Math.floor(Date.now() / 1000);
  const response = (status, output, usage) => ({
    id: rid, object: 'response', created_at, status, error: null, incomplete_details: null, instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null, model: sw.model, output, parallel_tool_calls: true, previous_response_id: null,
    reasoning: { effort: null, summary: null }, store: true, temperature: 1, text: { format: { type: 'text' } }, tool_choice: 'auto',
    tools: [], top_p: 1, truncation: 'disabled', usage, user: null, metadata: {},
  });
  const message = (t, status) => ({ id: mid, type: 'message', status, role: 'assistant', content: [{ type: 'output_text', text: t, annotations: [] }] });

  if (sw.fail === 'before_first_token') return openaiError(res, 500, 'The server had an error while processing your request. Sorry about that!', 'server_error');
  if (sw.fail === 'slow_first_token') await sleep(sw.failArg ?? 1000);
  const usage = sw.fail === 'usage_missing' ? null : responsesUsage(prompt, sw, n);
  if (!body.stream) {
    if (sw.fail === 'mid_stream_disconnect' || sw.fail === 'error_after_tokens') return disconnect(res);
    return sendAnswer(sw)(res, 200, response('completed', [message(deltas.join(''), 'completed')], usage), { 'x-request-id': id('req_') });
  }
  // https://platform.openai.com/docs/api-reference/responses-streaming: typed events with sequence_number.
  let sn = 0;
  const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sn++, ...data })}\n\n`);
  sseHead(res, { 'x-request-id': id('req_') });
  ev('response.created', { response: response('in_progress', [], null) });
  ev('response.in_progress', { response: response('in_progress', [], null) });
  ev('response.output_item.added', { output_index: 0, item: { id: mid, type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
  ev('response.content_part.added', { item_id: mid, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
  const cut = sw.fail === 'mid_stream_disconnect' || sw.fail === 'error_after_tokens' ? failAfter(sw, n) : Infinity;
  for (let i = 0; i < n; i++) {
    if (i === cut) {
      if (sw.fail === 'error_after_tokens') {
        ev('error', { code: 'server_error', message: 'The server had an error while processing your request.', param: null });
        return res.end();
      }
      return disconnect(res);
    }
    ev('response.output_text.delta', { item_id: mid, output_index: 0, content_index: 0, delta: deltas[i], logprobs: [] });
    await sleep(sw.delay);
  }
  const full = deltas.join('');
  ev('response.output_text.done', { item_id: mid, output_index: 0, content_index: 0, text: full, logprobs: [] });
  ev('response.content_part.done', { item_id: mid, output_index: 0, content_index: 0, part: { type: 'output_text', text: full, annotations: [] } });
  ev('response.output_item.done', { output_index: 0, item: message(full, 'completed') });
  ev('response.completed', { response: response('completed', [message(full, 'completed')], usage) });
  res.end();
}

// ---------------------------------------------------------------- Anthropic messages

async function messages(req, res, body, sw) {
  if (!req.headers['anthropic-version']) return anthropicError(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
  if (!Array.isArray(body.messages) || !body.model || typeof body.max_tokens !== 'number') {
    return anthropicError(res, 400, 'invalid_request_error', 'model, messages and max_tokens: Field required');
  }
  const n = Math.max(0, Math.min(sw.output, body.max_tokens));
  const stop = sw.output > body.max_tokens ? 'max_tokens' : 'end_turn';
  const prompt = promptTokens(body.messages, body.system);
  // Anthropic's input fields are disjoint: total input = input + cache read + cache write.
  const cacheRead = Math.min(sw.cached, prompt);
  const cacheWrite = Math.min(sw.cacheWrite, prompt - cacheRead);
  // cache_creation_input_tokens is the sum of both TTLs; cache_creation splits it (SDK Usage.cache_creation,
  // cited at the top). Sent with zeros too: the type allows null, and a present object is what the SDK parses.
  const cacheWrite1h = Math.min(sw.cacheWrite1h, cacheWrite);
  const inputUsage = {
    input_tokens: prompt - cacheRead - cacheWrite,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
    cache_creation: { ephemeral_5m_input_tokens: cacheWrite - cacheWrite1h, ephemeral_1h_input_tokens: cacheWrite1h },
  };
  const deltas = outputDeltas(n);
  const mid = id('msg_');
  const envelope = (content, stop_reason, usage) => ({ id: mid, type: 'message', role: 'assistant', model: sw.model, content, stop_reason, stop_sequence: null, usage });

  if (sw.fail === 'before_first_token') return anthropicError(res, 529, 'overloaded_error', 'Overloaded');
  if (!body.stream) {
    if (sw.fail === 'slow_first_token') await sleep(sw.failArg ?? 1000);
    if (sw.fail === 'mid_stream_disconnect' || sw.fail === 'error_after_tokens') return disconnect(res);
    const msg = envelope([{ type: 'text', text: deltas.join('') }], stop, { ...inputUsage, output_tokens: n });
    if (sw.fail === 'usage_missing') delete msg.usage;
    return sendAnswer(sw)(res, 200, msg, { 'request-id': id('req_') });
  }
  // https://docs.anthropic.com/en/docs/build-with-claude/streaming: message_start, content_block_start,
  // ping, content_block_delta…, content_block_stop, message_delta (cumulative usage), message_stop.
  const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  sseHead(res, { 'request-id': id('req_') });
  ev('message_start', { message: envelope([], null, { ...inputUsage, output_tokens: 1 }) });
  if (sw.fail === 'slow_first_token') await sleep(sw.failArg ?? 1000);
  ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  ev('ping', {});
  const cut = sw.fail === 'mid_stream_disconnect' || sw.fail === 'error_after_tokens' ? failAfter(sw, n) : Infinity;
  for (let i = 0; i < n; i++) {
    if (i === cut) {
      if (sw.fail === 'error_after_tokens') {
        // https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events
        ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
        return res.end();
      }
      return disconnect(res);
    }
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: deltas[i] } });
    await sleep(sw.delay);
  }
  ev('content_block_stop', { index: 0 });
  ev('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, ...(sw.fail === 'usage_missing' ? {} : { usage: { output_tokens: n } }) });
  ev('message_stop', {});
  res.end();
}

// ---------------------------------------------------------------- server

/**
 * Start the stand-in on 127.0.0.1.
 * @param {{ port?: number, logger?: ((msg: string) => void) | false }} [opts]
 * @returns {Promise<{ url: string, port: number, requests: { method: string, path: string, headers: Record<string, string | string[] | undefined>, body: any, at: number }[], reset(): void, close(): Promise<void> }>}
 */
export async function startUpstreamSimulator(opts = {}) {
  const log = opts.logger || (() => {});
  /** Every request received, in order (tests assert "the upstream saw no request"). */
  const requests = [];
  const sockets = new Set();
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body = null;
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      body = undefined;
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body, at: Date.now() });
    log(`${req.method} ${path}`);
    const anthropic = path === '/v1/messages';
    try {
      if (req.method !== 'POST' || !['/v1/chat/completions', '/v1/responses', '/v1/messages'].includes(path)) {
        return anthropic ? anthropicError(res, 404, 'not_found_error', 'Not found') : openaiError(res, 404, `Invalid URL (${req.method} ${path})`, 'invalid_request_error');
      }
      if (body === undefined) {
        return anthropic ? anthropicError(res, 400, 'invalid_request_error', 'Request body is not valid JSON') : openaiError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
      }
      // Any key is accepted, but one must be sent, the way each provider expects it.
      if (anthropic ? !req.headers['x-api-key'] && !req.headers.authorization : !/^Bearer \S+/.test(req.headers.authorization ?? '')) {
        return anthropic
          ? anthropicError(res, 401, 'authentication_error', 'invalid x-api-key')
          : openaiError(res, 401, 'You didn\'t provide an API key.', 'invalid_request_error', 'invalid_api_key');
      }
      const sw = parseSwitches(req.headers, body.model);
      if (path === '/v1/chat/completions') return await chatCompletions(req, res, body, sw);
      if (path === '/v1/responses') return await responses(req, res, body, sw);
      return await messages(req, res, body, sw);
    } catch (e) {
      log(`error: ${e?.stack ?? e}`);
      if (!res.headersSent) openaiError(res, 500, 'stand-in failure', 'server_error');
      else disconnect(res);
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    reset: () => void requests.splice(0),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// CLI: node scripts/upstream-sim/server.mjs [--port 8788]
const invoked = process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
if (invoked) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.UPSTREAM_SIM_PORT ?? 8788);
  const sim = await startUpstreamSimulator({ port, logger: (m) => console.error(`[upstream-sim] ${m}`) });
  console.log(`upstream stand-in on ${sim.url} (OpenAI: ${sim.url}/v1, Anthropic: ${sim.url})`);
  const stop = () => sim.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
