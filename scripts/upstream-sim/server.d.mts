// Type declarations for server.mjs (for TypeScript tests that start the stand-in).
export interface UpstreamRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  at: number;
}

export interface UpstreamSimulator {
  url: string;
  port: number;
  /** Every request received, in order. */
  requests: UpstreamRequest[];
  reset(): void;
  close(): Promise<void>;
}

export interface UpstreamSwitches {
  model: string;
  fail: 'before_first_token' | 'mid_stream_disconnect' | 'usage_missing' | 'slow_first_token' | 'error_after_tokens' | null;
  failArg?: number;
  output: number;
  cached: number;
  cacheWrite: number;
  /** The part of `cacheWrite` with a 1-hour TTL. */
  cacheWrite1h: number;
  reasoning: number;
  /** ms after each content chunk. */
  delay: number;
}

export const WORDS: string[];
export function outputDeltas(n: number): string[];
export function promptTokens(messages: { content?: unknown }[], system?: unknown): number;
export function parseSwitches(headers: Record<string, unknown>, model: unknown): UpstreamSwitches;
export function startUpstreamSimulator(opts?: { port?: number; logger?: ((msg: string) => void) | false }): Promise<UpstreamSimulator>;
