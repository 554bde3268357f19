import { describe, expect, it } from 'vitest';
import { checkAdminSpendLimits } from '../../web/src/forms/admin';
import { checkAutoRecharge, checkSpendLimits } from '../../web/src/forms/tokens';

describe('spend-limit and target-recharge forms', () => {
  it('target mode sends mode and target, and the target must exceed the threshold', () => {
    const form = { enabled: true, threshold: '5000', amount: 0, limit: '', mode: 'target' as const, target: '150000' };
    expect(checkAutoRecharge(form)).toEqual({ ok: true, value: { enabled: true, threshold: 5000, mode: 'target', target: 150_000, monthlyLimitCents: null } });
    expect(checkAutoRecharge({ ...form, target: '5000' })).toEqual({ ok: false, errors: { amount: 'Top up to more tokens than the threshold, or the balance would stay below it.' } });
    expect(checkAutoRecharge({ ...form, target: '1.5' })).toEqual({ ok: false, errors: { amount: 'Enter a whole number of tokens above zero.' } });
  });

  it("the owner's limits: empty is none, never above the admin's ceiling", () => {
    const form = { daily: '2000', monthly: '', timeZone: 'Europe/Paris', dailyCeiling: 3000, monthlyCeiling: null };
    expect(checkSpendLimits(form)).toEqual({ ok: true, value: { daily: 2000, monthly: null, timeZone: 'Europe/Paris' } });
    expect(checkSpendLimits({ ...form, daily: '5000' })).toEqual({ ok: false, errors: { daily: 'At most 3,000 tokens (the limit an admin set).' } });
    expect(checkSpendLimits({ ...form, monthly: '0' })).toEqual({ ok: false, errors: { monthly: 'Enter a whole number of tokens above zero, or leave it empty.' } });
  });

  it("an admin's limits stay at or under their ceilings and need a reason", () => {
    const form = { daily: '4000', dailyCeiling: '5000', monthly: '', monthlyCeiling: '', reason: 'trial' };
    expect(checkAdminSpendLimits(form)).toEqual({ ok: true, value: { daily: 4000, dailyCeiling: 5000, monthly: null, monthlyCeiling: null, reason: 'trial' } });
    expect(checkAdminSpendLimits({ ...form, daily: '6000', reason: ' ' })).toEqual({ ok: false, errors: { daily: 'The limit cannot be above the ceiling.', reason: 'Say why the limits change; it goes to the audit log.' } });
  });
});
