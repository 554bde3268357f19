/**
 * The app as `npm run bench` runs it: the production Worker, unchanged, plus what only the bench
 * needs, so the production RPC surface carries no benchmark methods.
 *
 * - `BenchTokenAccount` is the production `TokenAccount` plus two bench-only RPC methods,
 *   `noop(write)` and `benchDatabaseSize()`. The bench binds `TOKEN_ACCOUNT` to it, so every
 *   production method (charge, getBalance, the outbox alarm) runs the deployed code.
 * - `BenchService` gives the driver that no-op on the same path as a charge: service binding →
 *   entrypoint (HMAC check + zod) → Durable Object.
 * - For the sustained case, `BenchTokenAccount` runs on a metered view of its storage and of D1
 *   (scripts/bench/meter.ts), counting rows as the platform bills them; `BenchService` starts and
 *   stops that meter and sums the objects' database sizes.
 */
import { WorkerEntrypoint } from 'cloudflare:workers';
import { z } from 'zod';
import { TokenAccount } from '../../worker/do/token-account';
import { rpcMessage, verifySignature, type RpcAuth } from '../../worker/lib/billing-auth';
import { errorBody } from '../../worker/lib/errors';
import { validate } from '../../worker/lib/http';
import { userIdSchema } from '../../worker/contracts/common';
import type { BillingResult } from '../../worker/contracts/errors';
import { tagged } from '../../worker/services/billing';
import { meter, meteredD1, meteredState, type MeterReading } from './meter';

export { default, BillingService } from '../../worker/index';

/** `TokenAccount` plus the bench's no-op and meter hooks. Bound as `TOKEN_ACCOUNT` in the bench only. */
export class BenchTokenAccount extends TokenAccount {
  #noopTable = false;

  constructor(ctx: DurableObjectState, env: Env) {
    // The meter counts only while the sustained case runs; otherwise each call passes straight through.
    super(meteredState(ctx), { ...env, DB: meteredD1(env.DB) });
  }

  /** Counts the alarm run (the Durable Objects pricing page bills each as a request), then runs it. */
  override async alarm(...args: Parameters<TokenAccount['alarm']>): Promise<void> {
    meter.alarmRun();
    return super.alarm(...args);
  }

  /** This object's SQLite database size in bytes, for the sustained case's bytes per operation. */
  benchDatabaseSize(): number {
    return this.ctx.storage.sql.databaseSize;
  }

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
  // The meter's controls are not signed: the bench's Miniflare is their only caller, and they
  // touch no account.

  /** Zeroes the meter and starts counting (the sustained case's measured window). */
  meterStart(): void {
    meter.start();
  }

  /** What was counted since `meterStart`, still counting. */
  meterPeek(): MeterReading {
    return meter.peek();
  }

  /** Stops counting and returns what was counted since `meterStart`. */
  meterStop(): MeterReading {
    return meter.stop();
  }

  /** The summed SQLite database sizes, in bytes, of these accounts' Durable Objects. */
  async databaseSize(userIds: string[]): Promise<number> {
    const ns = this.#accounts();
    const sizes = await Promise.all(userIds.map((id) => ns.getByName(id).benchDatabaseSize()));
    return sizes.reduce((a, b) => a + b, 0);
  }

  #accounts(): DurableObjectNamespace<BenchTokenAccount> {
    return this.env.TOKEN_ACCOUNT as unknown as DurableObjectNamespace<BenchTokenAccount>;
  }

  /** Does nothing on the same path as a charge. Signed like every billing call (method `noop`). */
  async noop(params: unknown, auth: RpcAuth): Promise<BillingResult<{ ok: true }>> {
    const ok = await verifySignature(this.env.BILLING_SECRET, auth?.timestamp, rpcMessage(auth?.timestamp, 'noop', params), auth?.signature);
    if (!ok) return { ok: false, error: errorBody('invalid_billing_secret') };
    return tagged(async () => {
      const p = validate(noopSchema, params);
      await this.#accounts().getByName(p.userId).noop(p.write === true);
      return { ok: true as const };
    });
  }
}
