import type { ReactivateAnswer, ReactivateInput, StripeEventItem, StripeEventsAnswer, StripeEventsQuery } from '../contracts/admin';
import { unwrap } from '../lib/errors';
import { recordAudit } from './audit';
import type { AuthUser } from './auth';
import { ATTENTION } from './stripe-events';

/** The admin's side of payments: Stripe events that need a look, and lifting a suspension. */

interface EventRow {
  id: string;
  type: string;
  status: StripeEventItem['status'];
  user_id: string | null;
  object_id: string | null;
  error: string | null;
  attempts: number;
  received_at: number;
  processed_at: number | null;
}

/**
 * Webhook events, newest first. `attention=1`: failed ones (Stripe is retrying them) and ones
 * acknowledged without moving money (an unknown account, a currency we do not sell in, …; see
 * services/stripe-events.ts), which Stripe will never send again.
 */
export async function listStripeEvents(db: D1Database, q: StripeEventsQuery): Promise<StripeEventsAnswer> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.attention === '1') {
    where.push(`(status = 'failed' OR error LIKE ?)`);
    args.push(`${ATTENTION}%`);
  }
  if (q.status) {
    where.push('status = ?');
    args.push(q.status);
  }
  const { results } = await db
    .prepare(`SELECT id, type, status, user_id, object_id, error, attempts, received_at, processed_at FROM stripe_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC, id LIMIT ?`)
    .bind(...args, q.limit)
    .all<EventRow>();
  return {
    items: results.map((r) => ({
      id: r.id,
      type: r.type,
      status: r.status,
      userId: r.user_id,
      objectId: r.object_id,
      error: r.error,
      needsAttention: r.status === 'failed' || (r.error?.startsWith(ATTENTION) ?? false),
      attempts: r.attempts,
      receivedAt: r.received_at,
      processedAt: r.processed_at,
    })),
  };
}

/** A superadmin lifts an account's suspension (a dispute, a negative balance); audited with the reason. */
export async function reactivateAccount(env: Env, actor: AuthUser, userId: string, input: ReactivateInput): Promise<ReactivateAnswer> {
  const stub = env.TOKEN_ACCOUNT.getByName(userId);
  const before = unwrap(await stub.getBalance()).balance;
  const after = unwrap(await stub.reactivate()).balance;
  await recordAudit(env.DB, {
    actorUserId: actor.id,
    action: 'account.reactivate',
    target: userId,
    before: { status: before.status, suspendedReason: before.suspendedReason, balance: before.balance },
    after: { status: after.status, suspendedReason: after.suspendedReason, balance: after.balance, reason: input.reason },
  });
  return { userId, status: after.status, balance: after.balance };
}
