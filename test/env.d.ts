// Values the global setup (test/setup/global-setup.ts) provides to every test file.
declare module 'vitest' {
  export interface ProvidedContext {
    stripeApiBase: string;
    webhookReceiverBase: string;
    /** The OpenAI/Anthropic stand-in the AI gateway forwards to. */
    upstreamBase: string;
    /** `GET` → JSON list of the requests the stand-in received ({ path, body, at }). */
    upstreamInspector: string;
  }
}
export {};
