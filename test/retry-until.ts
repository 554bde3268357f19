/**
 * Retries `check` until it stops throwing, every `everyMs`, for at most `timeoutMs` (then its last
 * error is thrown): for what follows a commit a moment later (the outbox reaching D1, the alert
 * queue's deliveries). Plain TypeScript, so the workerd and the Node (browser) tests share it.
 */
export async function retryUntil<T>(check: () => Promise<T>, timeoutMs: number, everyMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}
