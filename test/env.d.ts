// Values the global setup (test/setup/global-setup.ts) provides to every test file.
declare module 'vitest' {
  export interface ProvidedContext {
    stripeApiBase: string;
    webhookReceiverBase: string;
  }
}
export {};
