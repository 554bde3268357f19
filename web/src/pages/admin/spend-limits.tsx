import { useState } from 'preact/hooks';
import { get, put, type SpendLimitsAnswer, type SpendLimitsView } from '../../api';
import { Field, Notice, Section, fieldAria } from '../../components/ui';
import * as f from '../../format';
import { checkAdminSpendLimits } from '../../forms/admin';
import { useForm } from '../../hooks/use-form';
import type { AccountRow } from './types';

/** Lets the accounts table open an account's limits ("Spend limits" on a row). */
export interface SpendLimitsHandle {
  pick: (a: AccountRow) => void;
}

type Key = 'daily' | 'dailyCeiling' | 'monthly' | 'monthlyCeiling' | 'reason';
const EMPTY: Record<Key, string> = { daily: '', dailyCeiling: '', monthly: '', monthlyCeiling: '', reason: '' };
const str = (n: number | null) => (n === null ? '' : String(n));

/**
 * "Spend limits" (superadmins): an account's daily and monthly token limits and the ceilings its
 * owner may not go above, with a reason for the audit log. Shows what the windows have counted.
 */
export function SpendLimitsAdminSection(props: { handle: { current: SpendLimitsHandle | null } }) {
  const [userId, setUserId] = useState<string | null>(null);
  const [who, setWho] = useState('');
  const [current, setCurrent] = useState<SpendLimitsView | null>(null);
  const [form, setForm] = useState(EMPTY);
  const [loadError, setLoadError] = useState<string | null>(null);
  const { errors, error, done, setDone, busy, submit } = useForm<Key>();

  const show = (l: SpendLimitsView) => {
    setCurrent(l);
    setForm({ daily: str(l.daily.own), dailyCeiling: str(l.daily.ceiling), monthly: str(l.monthly.own), monthlyCeiling: str(l.monthly.ceiling), reason: '' });
  };

  props.handle.current = {
    pick: (a) => {
      setUserId(a.userId);
      setWho(a.email ?? a.userId);
      setDone(null);
      setLoadError(null);
      setCurrent(null);
      get<SpendLimitsAnswer>(`/api/admin/accounts/${encodeURIComponent(a.userId)}/spend-limits`).then(
        (r) => show(r.limits),
        (e) => setLoadError(String(e?.message ?? e)),
      );
      document.getElementById('spend-limits')?.scrollIntoView({ block: 'start' });
    },
  };

  const onSubmit = (e: Event) => {
    e.preventDefault();
    if (!userId) return;
    void submit(checkAdminSpendLimits(form), async (body) => {
      const r = await put<SpendLimitsAnswer>(`/api/admin/accounts/${encodeURIComponent(userId)}/spend-limits`, body);
      show(r.limits);
      return `Spend limits saved for ${who}.`;
    });
  };

  const input = (key: Exclude<Key, 'reason'>, label: string) => (
    <Field id={`asl-${key}`} label={label} error={errors[key]}>
      <input {...fieldAria(`asl-${key}`, errors[key])} type="number" inputMode="numeric" min={1} step={1} value={form[key]} onInput={(e) => setForm({ ...form, [key]: e.currentTarget.value })} />
    </Field>
  );

  return (
    <Section id="spend-limits" title="Spend limits">
      {!userId ? <p class="muted">Pick an account with “Spend limits” in the accounts table.</p> : null}
      <Notice tone="error" assertive>
        {loadError ?? error}
      </Notice>
      <Notice tone="success">{done}</Notice>
      {userId && current ? (
        <form onSubmit={onSubmit} noValidate class="form-grid" aria-label="Account spend limits">
          <p class="span-2">
            <strong>{who}</strong> · time zone {current.timeZone} · today {f.tokens(current.daily.spent)} · this month {f.tokens(current.monthly.spent)} tokens
          </p>
          {input('daily', 'Daily limit (tokens)')}
          {input('dailyCeiling', 'Daily ceiling (owner may not exceed)')}
          {input('monthly', 'Monthly limit (tokens)')}
          {input('monthlyCeiling', 'Monthly ceiling (owner may not exceed)')}
          <Field id="asl-reason" label="Reason" error={errors.reason} class="span-2">
            <input {...fieldAria('asl-reason', errors.reason)} type="text" maxLength={500} value={form.reason} onInput={(e) => setForm({ ...form, reason: e.currentTarget.value })} />
          </Field>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save spend limits'}
          </button>
        </form>
      ) : null}
    </Section>
  );
}
