import type { AdminSpendLimitsInput, SpendLimitsAnswer, SpendLimitsInput } from '../contracts/account';
import { unwrap } from '../lib/errors';
import { recordAudit } from './audit';
import type { AuthUser } from './auth';

/**
 * Spend limits (issue 11): read and set in the account's DO, the only place they are enforced
 * (worker/do/spend-limits.ts). The owner sets limits at or below an admin's ceiling; a
 * superadmin sets ceilings and limits, audited with the reason.
 */

export async function getSpendLimits(env: Env, userId: string): Promise<SpendLimitsAnswer> {
  return { limits: unwrap(await env.TOKEN_ACCOUNT.getByName(userId).getSpendLimits()).limits };
}

/** The owner's change (`/tokens`). */
export async function setOwnSpendLimits(env: Env, userId: string, input: SpendLimitsInput): Promise<SpendLimitsAnswer> {
  return { limits: unwrap(await env.TOKEN_ACCOUNT.getByName(userId).setSpendLimits(input, 'user')).limits };
}

/** A superadmin's change (`/admin/tokens`), audited as `account.spend_limits` with before, after and reason. */
export async function setAccountSpendLimits(env: Env, actor: AuthUser, userId: string, input: AdminSpendLimitsInput): Promise<SpendLimitsAnswer> {
  const stub = env.TOKEN_ACCOUNT.getByName(userId);
  const before = unwrap(await stub.getSpendLimits()).limits;
  const { reason, ...change } = input;
  const after = unwrap(await stub.setSpendLimits(change, 'admin')).limits;
  const shape = (l: typeof before) => ({ daily: l.daily.own, dailyCeiling: l.daily.ceiling, monthly: l.monthly.own, monthlyCeiling: l.monthly.ceiling });
  await recordAudit(env.DB, { actorUserId: actor.id, action: 'account.spend_limits', target: userId, before: shape(before), after: { ...shape(after), reason } });
  return { limits: after };
}
