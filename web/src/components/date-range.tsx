import { useState } from 'preact/hooks';
import { Field } from './ui';

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** A From–To date range being typed, and the range applied (the last 30 days at first): a report reloads on `range` only. */
export function useDateRange() {
  const today = new Date();
  const [from, setFrom] = useState(isoDay(new Date(today.getTime() - 29 * 86_400_000)));
  const [to, setTo] = useState(isoDay(today));
  const [range, setRange] = useState({ from, to });
  return { from, to, setFrom, setTo, range, apply: () => setRange({ from, to }) };
}

/** The form of a {@link useDateRange}: From and To (`<idPrefix>-from`, `<idPrefix>-to`), applied by its button. */
export function DateRangeForm(p: { idPrefix: string; label: string; state: ReturnType<typeof useDateRange> }) {
  const { from, to, setFrom, setTo, apply } = p.state;
  return (
    <form
      class="filters"
      onSubmit={(e) => {
        e.preventDefault();
        apply();
      }}
      aria-label={p.label}
    >
      <Field id={`${p.idPrefix}-from`} label="From">
        <input id={`${p.idPrefix}-from`} type="date" value={from} max={to} onInput={(e) => setFrom(e.currentTarget.value)} />
      </Field>
      <Field id={`${p.idPrefix}-to`} label="To">
        <input id={`${p.idPrefix}-to`} type="date" value={to} min={from} onInput={(e) => setTo(e.currentTarget.value)} />
      </Field>
      <button type="submit" class="btn btn-secondary">
        Apply range
      </button>
    </form>
  );
}
