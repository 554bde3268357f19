/**
 * The estimator: how many tokens to hold before a call, from the request alone.
 *
 * Input: the text of the prompt counted with gpt-tokenizer's `o200k_base` encoding (GPT-4o and
 * later), plus `MESSAGE_OVERHEAD_TOKENS` per message and `REPLY_PRIMING_TOKENS` once, the chat
 * format's framing as OpenAI documents it (each message is wrapped as
 * `<|start|>{role}\n{content}<|end|>\n`, and every reply is primed with `<|start|>assistant`).
 * Non-text parts (images, audio, files) are not tokenized; each is held at `NON_TEXT_PART_TOKENS`.
 * For Anthropic and Gemini models `o200k_base` is an approximation: the hold is corrected at settle.
 *
 * Output: the request's own cap (`max_completion_tokens`/`max_tokens`, `max_output_tokens`), else
 * `DEFAULT_OUTPUT_CAP`. The cap bounds visible and reasoning output together, so the hold covers
 * the worst case and the settle only ever gives back.
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { Usage } from './usage';

/** Framing tokens per message (`<|start|>`, the role, `<|end|>`/newline), as OpenAI's cookbook counts them. */
export const MESSAGE_OVERHEAD_TOKENS = 3;
/** Tokens that prime every reply (`<|start|>assistant<|message|>`). */
export const REPLY_PRIMING_TOKENS = 3;
/** Held per image/audio/file part: not tokenized here; deliberately generous. */
export const NON_TEXT_PART_TOKENS = 1024;
/** Output held when the request sets no cap of its own. */
export const DEFAULT_OUTPUT_CAP = 4096;

/** Tokens of a text in `o200k_base` (the tokenizer also used to count a stream cut short). */
export function countTextTokens(text: string): number {
  return text ? countTokens(text) : 0;
}

type Obj = Record<string, unknown>;

/** Tokens of one message's content: a string, or an array of parts (text counted, others flat). */
function contentTokens(content: unknown): number {
  if (typeof content === 'string') return countTextTokens(content);
  if (!Array.isArray(content)) return content == null ? 0 : countTextTokens(JSON.stringify(content));
  let n = 0;
  for (const part of content as Obj[]) {
    if (typeof part === 'string') n += countTextTokens(part);
    else if (part && typeof part.text === 'string') n += countTextTokens(part.text);
    // Tool results and tool calls carry their payload as JSON or nested content.
    else if (part && part.content !== undefined) n += contentTokens(part.content);
    else if (part && part.input !== undefined) n += countTextTokens(JSON.stringify(part.input));
    else n += NON_TEXT_PART_TOKENS;
  }
  return n;
}

/** A message of any of the supported request formats. */
interface MessageLike {
  role?: string;
  content?: unknown;
  name?: string;
  tool_calls?: { function?: { name?: string; arguments?: string } }[];
}

/** Input tokens of a list of messages, with the per-message and reply-priming overhead. */
export function estimateMessagesTokens(messages: MessageLike[], system?: unknown): number {
  let n = REPLY_PRIMING_TOKENS;
  if (system !== undefined && system !== null && system !== '') n += MESSAGE_OVERHEAD_TOKENS + contentTokens(system);
  for (const m of messages) {
    n += MESSAGE_OVERHEAD_TOKENS + contentTokens(m.content);
    if (m.name) n += countTextTokens(m.name);
    for (const c of m.tool_calls ?? []) n += countTextTokens((c.function?.name ?? '') + (c.function?.arguments ?? ''));
  }
  return n;
}

/** Tool definitions are part of the prompt the provider bills. */
function toolsTokens(tools: unknown): number {
  return Array.isArray(tools) && tools.length ? countTextTokens(JSON.stringify(tools)) : 0;
}

function cap(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

function estimateUsage(inputTokens: number, outputTokens: number): Usage {
  return { inputTokens, outputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
}

/** Hold for an OpenAI `POST /v1/chat/completions` body. */
export function estimateOpenAIChat(body: { messages?: MessageLike[]; tools?: unknown; max_completion_tokens?: number | null; max_tokens?: number | null }, defaultOutputCap = DEFAULT_OUTPUT_CAP): Usage {
  return estimateUsage(
    estimateMessagesTokens(body.messages ?? []) + toolsTokens(body.tools),
    cap(body.max_completion_tokens, cap(body.max_tokens, defaultOutputCap)),
  );
}

/** Hold for an OpenAI `POST /v1/responses` body (`input` is a string or a list of items). */
export function estimateOpenAIResponses(body: { input?: unknown; instructions?: string | null; tools?: unknown; max_output_tokens?: number | null }, defaultOutputCap = DEFAULT_OUTPUT_CAP): Usage {
  const items: MessageLike[] = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? (body.input as MessageLike[]) : [];
  return estimateUsage(
    estimateMessagesTokens(items, body.instructions ?? undefined) + toolsTokens(body.tools),
    cap(body.max_output_tokens, defaultOutputCap),
  );
}

/** Hold for an Anthropic `POST /v1/messages` body (`max_tokens` is required there). */
export function estimateAnthropicMessages(body: { messages?: MessageLike[]; system?: unknown; tools?: unknown; max_tokens?: number }, defaultOutputCap = DEFAULT_OUTPUT_CAP): Usage {
  return estimateUsage(
    estimateMessagesTokens(body.messages ?? [], body.system) + toolsTokens(body.tools),
    cap(body.max_tokens, defaultOutputCap),
  );
}
