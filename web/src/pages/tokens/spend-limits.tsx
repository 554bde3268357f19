import { useEffect, useState } from 'preact/hooks';
import { get, put, type SpendLimitsAnswer, type SpendLimitsView } from '../../api';
import { Field, Notice, Section, fieldAria } from '../../components/ui';
import * as f from '../../format';
import { checkSpendLimits } from '../../forms/tokens';
import { useForm } from '../../hooks/use-form';

/** The time zones offered: the runtime's IANA list when it has one, always with UTC and the browser's own. */
function timeZones(current: string): string[] {
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const all = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  return [...new Set(['UTC', current, own, ...all])].filter(Boolean);
}

const windowText = (w: SpendLimitsView['daily']) =>
  w.limit === null ? 'No limit' : `${f.tokens(w.spent)} of ${f.tokens(w.limit)} tokens used; resets ${f.when(w.resetsAt)}`;

/**
 * "Spend limits": the most the account may spend in a calendar day and month (in the chosen time
 * zone), each at most what an admin allows. Charges and holds past a limit are refused until the
 * window resets.
 */
export function SpendLimitsSection() {
  const [limits, setLimits] = useState<SpendLimitsView | null>(null);
  const [daily, setDaily] = useState('');
  const [monthly, setMonthly] = useState('');
  const [timeZone, setTimeZone] = useState('UTC');
  const { errors, error, done, busy, submit } = useForm<'daily' | 'monthly' | 'timeZone'>();

  const show = (l: SpendLimitsView) => {
    setLimits(l);
    setDaily(l.daily.own === null ? '' : String(l.daily.own));
    setMonthly(l.monthly.own === null ? '' : String(l.monthly.own));
    setTimeZone(l.timeZone);
  };
  useEffect(() => {
    get<SpendLimitsAnswer>('/api/account/spend-limits').then((r) => show(r.limits), () => undefined);
  }, []);

  const onSubmit = (e: Event) => {
    e.preventDefault();
    const checked = checkSpendLimits({ daily, monthly, timeZone, dailyCeiling: limits?.daily.ceiling ?? null, monthlyCeiling: limits?.monthly.ceiling ?? null });
    void submit(checked, async (body) => {
      const r = await put<SpendLimitsAnswer>('/api/account/spend-limits', body);
      show(r.limits);
      return 'Spend limits saved.';
    });
  };

  return (
    <Section id="spend-limits" title="Spend limits">
      <p class="muted">Cap what this account spends per calendar day and month. Calls past a limit are refused until it resets.</p>
      {limits ? (
        <ul class="plain" data-testid="spend-limits-status">
          <li>
            <strong>Today:</strong> {windowText(limits.daily)}
          </li>
          <li>
            <strong>This month:</strong> {windowText(limits.monthly)}
          </li>
        </ul>
      ) : null}
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <Notice tone="success">{done}</Notice>
      <form onSubmit={onSubmit} noValidate aria-label="Spend limits">
        <Field id="sl-daily" label="Daily limit in tokens (optional)" hint={limits?.daily.ceiling != null ? `At most ${f.tokens(limits.daily.ceiling)} (set by an admin).` : undefined} error={errors.daily}>
          <input {...fieldAria('sl-daily', errors.daily, limits?.daily.ceiling != null)} type="number" inputMode="numeric" min={1} step={1} value={daily} onInput={(e) => setDaily(e.currentTarget.value)} />
        </Field>
        <Field id="sl-monthly" label="Monthly limit in tokens (optional)" hint={limits?.monthly.ceiling != null ? `At most ${f.tokens(limits.monthly.ceiling)} (set by an admin).` : undefined} error={errors.monthly}>
          <input {...fieldAria('sl-monthly', errors.monthly, limits?.monthly.ceiling != null)} type="number" inputMode="numeric" min={1} step={1} value={monthly} onInput={(e) => setMonthly(e.currentTarget.value)} />
        </Field>
        <Field id="sl-tz" label="Days and months follow the time zone" error={errors.timeZone}>
          <select id="sl-tz" value={timeZone} onChange={(e) => setTimeZone(e.currentTarget.value)}>
            {timeZones(timeZone).map((z) => (
              <option value={z} key={z}>
                {z}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save spend limits'}
        </button>
      </form>
    </Section>
  );
}
