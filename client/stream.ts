/**
 * Stream metering: authorize an estimate before a provider call, pass the answer through untouched,
 * and end EXACTLY ONCE with one settle or one release, off the response path (`waitUntil`).
 *
 * The rule for each ending (docs/ai-endpoints.md, "Lifecycle"):
 * - normal end with the provider's final usage      → settle that usage (normalized)
 * - normal end, final usage missing                  → settle the hold (the authorized estimate)
 * - consumer cancels (client abort)                  → settle what was produced so far
 * - provider error before any token                  → release
 * - provider error after tokens                      → settle what was produced so far
 * "What was produced so far" = input (the provider's own count when it already sent one, e.g.
 * Anthropic's `message_start`, else the estimate's input) + the output text deltas received,
 * counted with `o200k_base`. Hidden reasoning is not streamed, so it cannot be counted here.
 * If the final usage already arrived before the cancel or error, that usage is settled instead.
 *
 * Pure Web-platform TypeScript (ReadableStream, TextDecoder): runs in a Worker as in Node.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { countTextTokens } from './estimate';
import {
  fromAnthropic,
  fromOpenAIChat,
  fromOpenAIResponses,
  mergeAnthropicStreamUsage,
  type AnthropicUsage,
  type Usage,
} from './usage';

/**
 * What the helpers need from billing, for one call. `BillingClient` (worker/client.ts) does not
 * implement it itself: its calls need the user, the model and an idempotency key besides the usage,
 * so an adapter per call does (`CallBilling`, client/billing.ts);
 * tests use a recorder. `authorize` throws when the balance or a limit does not cover the
 * estimate, before the provider is called.
 */
export interface MeteringBilling {
  /** Hold `estimate` on the account; the id names the hold for its one settle or release. */
  authorize(estimate: Usage): Promise<{ reservationId: string }>;
  /** Charge `usage` against the hold and give back the rest. */
  settle(reservationId: string, usage: Usage): Promise<unknown>;
  /** Give the whole hold back: nothing is charged. */
  release(reservationId: string): Promise<unknown>;
}

/** `ctx.waitUntil`: keeps the settle/release running after the response has been sent. */
export type WaitUntil = (promise: Promise<unknown>) => void;

/** The wire formats the stream observers understand. */
export type StreamFormat = 'openai-chat' | 'openai-responses' | 'anthropic';

/** How a metered call ended (what the one settle or release was chosen from). */
export type Ending = 'completed' | 'usage_missing' | 'client_abort' | 'error_before_tokens' | 'error_after_tokens';

/** The one outcome of a metered call. */
export interface Outcome {
  ending: Ending;
  action: 'settle' | 'release';
  /** The usage settled (undefined for a release). */
  usage?: Usage;
}

export interface MeterOptions {
  billing: MeteringBilling;
  waitUntil: WaitUntil;
  /** The hold: from `estimate.ts`, or the caller's own. */
  estimate: Usage;
  /** Called once with the outcome, when the settle/release is dispatched. */
  onOutcome?: (outcome: Outcome) => void;
  /** A settle/release that fails after the response is gone has nowhere to go but here (default: console.error). */
  onBillingError?: (error: unknown, outcome: Outcome) => void;
}

/**
 * One authorized call: the guard that lets exactly one settle or release through. Created by
 * `Metering.authorize`; its wrappers (`wrapSSE`, `wrapIterable`, `endWithUsage`) end it, and so may
 * the caller directly (`settle`, `release`): whichever comes first is the one ending.
 */
export class Metering {
  #outcome: Outcome | null = null;

  private constructor(
    private readonly opts: MeterOptions,
    /** The hold's id, as `authorize` returned it. */
    readonly reservationId: string,
  ) {}

  /** Authorize the estimate (on the response path: a refusal must stop the call). */
  static async authorize(opts: MeterOptions): Promise<Metering> {
    const { reservationId } = await opts.billing.authorize(opts.estimate);
    return new Metering(opts, reservationId);
  }

  /** The hold that was authorized. */
  get estimate(): Usage {
    return this.opts.estimate;
  }

  /** The outcome once decided, else null. */
  get outcome(): Outcome | null {
    return this.#outcome;
  }

  /** Settle `usage` unless the call already ended; returns whether this call decided the outcome. */
  settle(usage: Usage, ending: Ending): boolean {
    return this.#finish({ ending, action: 'settle', usage });
  }

  /** Release the hold unless the call already ended. */
  release(ending: Ending = 'error_before_tokens'): boolean {
    return this.#finish({ ending, action: 'release' });
  }

  #finish(outcome: Outcome): boolean {
    if (this.#outcome) return false;
    this.#outcome = outcome;
    const { billing, waitUntil, onOutcome, onBillingError } = this.opts;
    let call: Promise<unknown>;
    try {
      call = outcome.action === 'settle' ? billing.settle(this.reservationId, outcome.usage!) : billing.release(this.reservationId);
    } catch (e) {
      call = Promise.reject(e); // a billing client that throws synchronously is reported the same way
    }
    // The promise handed to waitUntil never rejects: a failure after the response is reported, not thrown.
    waitUntil(
      Promise.resolve(call).then(
        () => undefined,
        (e) => (onBillingError ?? ((err) => console.error('metering: billing call failed', err)))(e, outcome),
      ),
    );
    onOutcome?.(outcome);
    return true;
  }

  /**
   * Wrap a non-streaming call's result. Usage present → settle it; absent → settle the hold.
   * (A call that throws is handled by `meterCall`: nothing was delivered, so it releases.)
   */
  endWithUsage(usage: Usage | null): void {
    if (usage) this.settle(usage, 'completed');
    else this.settle(this.estimate, 'usage_missing');
  }

  /**
   * Pass an SSE byte stream through byte-identical while metering a parsed copy. `onFinalEvent` is
   * called once, synchronously while the chunk that carries it is being enqueued (so before a reader
   * receives that chunk), when the format's last event has been parsed (OpenAI chat `[DONE]`,
   * Responses `response.completed|incomplete|failed`, Anthropic `message_stop`): a proxy may close its
   * client's copy there instead of waiting for the provider's end of stream. The metering itself
   * still ends when the stream does.
   */
  wrapSSE(format: StreamFormat, upstream: ReadableStream<Uint8Array>, hooks: { onFinalEvent?: () => void } = {}): ReadableStream<Uint8Array> {
    const observer = createObserver(format);
    const decoder = new TextDecoder();
    let final = false;
    const parser = createParser({
      onEvent: (ev: EventSourceMessage) => {
        observer.onSSE(ev.event, ev.data);
        if (!final && observer.sawFinalEvent) {
          final = true;
          hooks.onFinalEvent?.();
        }
      },
    });
    const reader = upstream.getReader();
    let cancelled = false;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          let r: ReadableStreamReadResult<Uint8Array>;
          try {
            r = await reader.read();
          } catch (e) {
            if (cancelled) return;
            controller.error(e);
            this.#endError(observer);
            return;
          }
          // A read still pending when the consumer cancelled resolves afterwards: nothing left to do.
          if (cancelled) return;
          if (r.done) {
            parser.feed(decoder.decode());
            controller.close();
            this.#endNormally(observer);
            return;
          }
          // The consumer gets the very chunk the provider sent; the parser reads a decoded copy
          // (before the consumer's read resolves: `onFinalEvent` has run when it sees the chunk).
          controller.enqueue(r.value);
          parser.feed(decoder.decode(r.value, { stream: true }));
        },
        cancel: async (reason) => {
          cancelled = true;
          this.#endAbort(observer);
          await reader.cancel(reason).catch(() => {});
        },
      },
      // No read-ahead: what is metered on an abort is what the provider had sent when the consumer left.
      { highWaterMark: 0 },
    );
  }

  /**
   * Pass an async iterable of parsed events through (the `openai` and `@anthropic-ai/sdk` stream
   * objects, the same objects in the same order) while metering them. Breaking out of the loop
   * (`return()`) is a client abort; the SDK's iterator is returned, which aborts its request.
   */
  wrapIterable<T>(format: StreamFormat, source: AsyncIterable<T>): AsyncIterable<T> {
    const observer = createObserver(format);
    // A hand-written iterator rather than an async generator: `return()` must end the call even when
    // it comes before the first `next()` (a consumer that leaves without reading anything).
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<T> => {
        const it = source[Symbol.asyncIterator]();
        return {
          next: async () => {
            let r: IteratorResult<T>;
            try {
              r = await it.next();
            } catch (e) {
              this.#endError(observer);
              throw e;
            }
            if (r.done) this.#endNormally(observer);
            else observer.onEvent(r.value);
            return r;
          },
          return: async (value?: unknown) => {
            this.#endAbort(observer);
            // Returning the SDK's iterator aborts its HTTP request.
            await Promise.resolve()
              .then(() => it.return?.(value))
              .catch(() => undefined);
            return { done: true, value: value as T };
          },
        };
      },
    };
  }

  #endNormally(o: Observer): void {
    const usage = o.finalUsage();
    if (usage) this.settle(usage, 'completed');
    else if (o.sawError) this.#endError(o);
    else this.settle(this.estimate, 'usage_missing');
  }

  #endError(o: Observer): void {
    const usage = o.finalUsage();
    if (usage) this.settle(usage, 'completed');
    else if (o.producedAny()) this.settle(o.partialUsage(this.estimate), 'error_after_tokens');
    else this.release('error_before_tokens');
  }

  #endAbort(o: Observer): void {
    const usage = o.finalUsage();
    this.settle(usage ?? o.partialUsage(this.estimate), 'client_abort');
  }
}

/**
 * Authorize, then open the provider call. If opening throws (HTTP error, refused connection) no
 * token was delivered: release and rethrow. A refused authorize throws before the provider is called.
 */
async function authorizeAndOpen<T>(opts: MeterOptions, open: () => Promise<T>): Promise<{ m: Metering; value: T }> {
  const m = await Metering.authorize(opts);
  try {
    return { m, value: await open() };
  } catch (e) {
    m.release('error_before_tokens');
    throw e;
  }
}

/** Meter a non-streaming call: `normalize` reads the usage from its result (null when absent). */
export async function meterCall<T>(opts: MeterOptions & { normalize: (result: T) => Usage | null }, call: () => Promise<T>): Promise<T> {
  const { m, value } = await authorizeAndOpen(opts, call);
  let usage: Usage | null;
  try {
    usage = opts.normalize(value);
  } catch {
    usage = null; // a malformed usage object is a missing one: the hold is settled
  }
  m.endWithUsage(usage);
  return value;
}

/** Meter a streamed call whose answer is an SSE byte stream (e.g. `fetch(...).body`). */
export async function meterSSE(opts: MeterOptions & { format: StreamFormat }, open: () => Promise<ReadableStream<Uint8Array>>): Promise<ReadableStream<Uint8Array>> {
  const { m, value } = await authorizeAndOpen(opts, open);
  return m.wrapSSE(opts.format, value);
}

/** Meter a streamed call whose answer is an async iterable of events (an SDK stream object). */
export async function meterIterable<T>(opts: MeterOptions & { format: StreamFormat }, open: () => Promise<AsyncIterable<T>>): Promise<AsyncIterable<T>> {
  const { m, value } = await authorizeAndOpen(opts, open);
  return m.wrapIterable(opts.format, value);
}

/** Reads a stream's events: the final usage when it comes, the output produced, errors seen. */
interface Observer {
  onSSE(event: string | undefined, data: string): void;
  onEvent(event: unknown): void;
  finalUsage(): Usage | null;
  producedAny(): boolean;
  partialUsage(estimate: Usage): Usage;
  sawError: boolean;
  /** The format's last event has been seen (nothing billable can follow it). */
  sawFinalEvent: boolean;
}

type Obj = Record<string, any>;

/** The parts every format shares: the produced text and the partial usage computed from it. */
abstract class BaseObserver implements Observer {
  sawError = false;
  sawFinalEvent = false;
  protected text: string[] = [];
  protected usage: Usage | null = null;
  /** Input as the provider counted it, when it says so before the end (Anthropic's message_start). */
  protected knownInput: Usage | null = null;

  onSSE(event: string | undefined, data: string): void {
    if (event === 'error') this.sawError = true;
    if (data === '[DONE]') {
      // OpenAI chat's end-of-stream sentinel (https://platform.openai.com/docs/api-reference/chat-streaming).
      this.sawFinalEvent = true;
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return; // not ours to judge: the consumer gets the bytes as they are
    }
    this.onEvent(parsed);
  }

  abstract onEvent(event: unknown): void;

  protected produced(piece: unknown): void {
    if (typeof piece === 'string' && piece.length) this.text.push(piece);
  }

  finalUsage(): Usage | null {
    return this.usage;
  }

  producedAny(): boolean {
    return this.text.length > 0;
  }

  partialUsage(estimate: Usage): Usage {
    const output = countTextTokens(this.text.join(''));
    const input = this.knownInput ?? { ...estimate, outputTokens: 0, reasoningTokens: 0 };
    return { ...input, outputTokens: output, reasoningTokens: 0 };
  }
}

/** OpenAI chat chunks: text in `choices[].delta`, usage in the last chunk (`stream_options.include_usage`). */
class OpenAIChatObserver extends BaseObserver {
  onEvent(ev: unknown): void {
    const e = ev as Obj;
    if (!e || typeof e !== 'object') return;
    if (e.error) this.sawError = true;
    for (const c of Array.isArray(e.choices) ? e.choices : []) {
      const d = c?.delta ?? {};
      this.produced(d.content);
      this.produced(d.refusal);
      this.produced(d.reasoning_content);
      for (const t of Array.isArray(d.tool_calls) ? d.tool_calls : []) this.produced(t?.function?.arguments);
    }
    if (e.usage) this.usage = fromOpenAIChat(e.usage);
  }
}

/** OpenAI Responses events: `response.*.delta` text, usage on `response.completed`/`response.incomplete`. */
class OpenAIResponsesObserver extends BaseObserver {
  onEvent(ev: unknown): void {
    const e = ev as Obj;
    if (!e || typeof e !== 'object') return;
    const type = String(e.type ?? '');
    if (type === 'error' || type === 'response.failed') this.sawError = true;
    if (type.endsWith('.delta') && typeof e.delta === 'string') this.produced(e.delta);
    if ((type === 'response.completed' || type === 'response.incomplete') && e.response?.usage) {
      this.usage = fromOpenAIResponses(e.response.usage);
    }
    // The Responses stream's terminal events: nothing follows them.
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') this.sawFinalEvent = true;
  }
}

/** Anthropic events: input on `message_start`, cumulative output on `message_delta`. */
class AnthropicObserver extends BaseObserver {
  #start: AnthropicUsage | null = null;

  onEvent(ev: unknown): void {
    const e = ev as Obj;
    if (!e || typeof e !== 'object') return;
    switch (e.type) {
      case 'message_start':
        if (e.message?.usage) {
          this.#start = e.message.usage;
          this.knownInput = { ...fromAnthropic(e.message.usage), outputTokens: 0 };
        }
        break;
      case 'content_block_delta': {
        const d = e.delta ?? {};
        this.produced(d.text);
        this.produced(d.partial_json);
        this.produced(d.thinking);
        break;
      }
      case 'message_delta':
        // The final (cumulative) count. Without message_start's input it is not a whole usage.
        if (e.usage && this.#start) this.usage = fromAnthropic(mergeAnthropicStreamUsage(this.#start, e.usage));
        break;
      case 'message_stop':
        // The last event of a Messages stream (https://docs.anthropic.com/en/api/messages-streaming).
        this.sawFinalEvent = true;
        break;
      case 'error':
        this.sawError = true;
        break;
    }
  }
}

function createObserver(format: StreamFormat): Observer {
  switch (format) {
    case 'openai-chat':
      return new OpenAIChatObserver();
    case 'openai-responses':
      return new OpenAIResponsesObserver();
    case 'anthropic':
      return new AnthropicObserver();
  }
}
