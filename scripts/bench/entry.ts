/**
 * The app as `npm run bench` runs it: the production Worker, unchanged, plus what only the bench
 * needs, so the production RPC surface carries no benchmark methods.
 *
 * - `BenchTokenAccount` is the production `TokenAccount` with one extra RPC method, `noop(write)`.
 *   The bench binds `TOKEN_ACCOUNT` to it, so every production method (charge, getBalance, the
 *   outbox alarm) runs exactly as deployed.
 * - `BenchService` gives the driver that no-op on the same path as a charge: service binding →
 *   entrypoint (HMAC check + zod) → Durable Object.
 */
import { WorkerEntrypoint } from 'cloudflare:workers';
import { z } from 'zod';
import { TokenAccount } from '../../worker/do/token-account';
import { rpcMessage, verifySignature, type RpcAuth } from '../../worker/lib/billing-auth';
import { errorBody } from '../../worker/lib/errors';
import { validate } from '../../worker/lib/http';
import { userIdSchema, tagged, type BillingResult } from '../../worker/services/billing';

export { default, BillingService } from '../../worker/index';

/** `TokenAccount` plus the bench's no-op. Bound as `TOKEN_ACCOUNT` in the bench only. */
export class BenchTokenAccount extends TokenAccount {
  #noopTable = false;

  /**
   * Does nothing: the benchmark's ceiling for a call on the charge path. With `write`, it
   * commits one tiny row first (its own table, made on first use), to separate the cost of a
   * durable commit from a charge's own work.
   */
  noop(write = false): null {
    if (write) {
      const sql = this.ctx.storage.sql;
      if (!this.#noopTable) {
        sql.exec(`CREATE TABLE IF NOT EXISTS bench_noop (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)`);
        this.#noopTable = true;
      }
      sql.exec(`INSERT INTO bench_noop (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`, Date.now());
    }
    return null;
  }
}

const noopSchema = z.strictObject({ userId: userIdSchema, write: z.boolean().optional() });

/** The bench's entrypoint: authenticated and validated like `BillingService`, then the no-op. */
export class BenchService extends WorkerEntrypoint<Env> {
  /** Does nothing on the same path as a charge. Signed like every billing call (method `noop`). */
  async noop(params: unknown, auth: RpcAuth): Promise<BillingResult<{ ok: true }>> {
    const ok = await verifySignature(this.env.BILLING_SECRET, auth?.timestamp, rpcMessage(auth?.timestamp, 'noop', params), auth?.signature);
    if (!ok) return { ok: false, error: errorBody('invalid_billing_secret') };
    return tagged(async () => {
      const p = validate(noopSchema, params);
      await (this.env.TOKEN_ACCOUNT as unknown as DurableObjectNamespace<BenchTokenAccount>).getByName(p.userId).noop(p.write === true);
      return { ok: true as const };
    });
  }
}
