import { useEffect, useState } from 'preact/hooks';
import { put, type Account, type AutoRecharge, type AutoRechargeAnswer, type Package, type PackagesAnswer } from '../../api';
import { Field, Notice, Section, fieldAria } from '../../components/ui';
import * as f from '../../format';
import { checkAutoRecharge } from '../../forms/tokens';
import { useForm } from '../../hooks/use-form';

const STATE_TEXT: Record<string, string> = {
  off: 'Off',
  armed: 'On — waiting for the balance to drop below the threshold',
  scheduled: 'A recharge is scheduled',
  creating: 'A recharge is in progress',
  confirming: 'A recharge is in progress',
  awaiting_webhook: 'A recharge is waiting for your bank to confirm the payment',
};

/** A whole number of tokens, `min` or more, typed into a Field's input (`hint`: the Field shows one). */
function TokenCount(p: { id: string; error?: string | null; hint?: boolean; min: number; value: string; onValue: (value: string) => void }) {
  return <input {...fieldAria(p.id, p.error, p.hint)} type="number" inputMode="numeric" min={p.min} step={1} value={p.value} onInput={(e) => p.onValue(e.currentTarget.value)} />;
}

/**
 * "Auto-recharge": turn it on or off, with its threshold, what each recharge buys (a fixed amount,
 * or a top-up to a target balance) and an optional monthly limit.
 */
export function AutoRechargeForm(props: { account: Account; pkgs: PackagesAnswer | null; onSaved: (ar: AutoRecharge) => void }) {
  const ar = props.account.autoRecharge;
  const packages = props.pkgs?.packages ?? [];
  const [enabled, setEnabled] = useState(ar.enabled);
  const [threshold, setThreshold] = useState(String(ar.threshold || 5000));
  const initialAmount = ar.amount || packages[0]?.tokens || 150_000;
  const [amountChoice, setAmountChoice] = useState<string>('');
  const [customAmount, setCustomAmount] = useState(String(initialAmount));
  const [limit, setLimit] = useState(ar.monthlyLimitCents ? String(ar.monthlyLimitCents / 100) : '');
  const [mode, setMode] = useState<'fixed' | 'target'>(ar.mode ?? 'fixed');
  const [target, setTarget] = useState(String(ar.target || initialAmount));
  const { errors, error, done: saved, busy, submit } = useForm<'threshold' | 'amount' | 'limit'>();

  // Pick the package matching the saved amount once packages are known.
  useEffect(() => {
    if (amountChoice) return;
    const match = packages.find((p) => p.tokens === initialAmount);
    setAmountChoice(match ? String(match.tokens) : packages.length ? 'custom' : '');
  }, [packages.length]);

  const amountTokens = amountChoice && amountChoice !== 'custom' ? Number(amountChoice) : Number(customAmount);

  const onSubmit = (e: Event) => {
    e.preventDefault();
    void submit(checkAutoRecharge({ enabled, threshold, amount: amountTokens, limit, mode, target }), async (v) => {
      const body: Record<string, unknown> = 'amount' in v ? { enabled: v.enabled, threshold: v.threshold, amount: v.amount } : { enabled: v.enabled, threshold: v.threshold, mode: v.mode, target: v.target };
      // An empty limit is left out, or sent as null when a saved limit must be cleared.
      if (v.monthlyLimitCents !== null) body.monthlyLimitCents = v.monthlyLimitCents;
      else if (ar.monthlyLimitCents) body.monthlyLimitCents = null;
      const r = await put<AutoRechargeAnswer>('/api/account/auto-recharge', body);
      props.onSaved(r.autoRecharge);
      return v.enabled ? 'Auto-recharge is on.' : 'Auto-recharge is off.';
    });
  };

  return (
    <Section id="auto-recharge" title="Auto-recharge">
      <p class="muted">When your available balance drops below the threshold, we buy more tokens with your saved card.</p>
      <p class="ar-state">
        <strong>Status:</strong> {STATE_TEXT[ar.state]}
        {ar.hasPaymentMethod === false ? <span class="hint block">No saved card yet: buy tokens once and the card you pay with is saved for auto-recharge.</span> : null}
      </p>
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <Notice tone="success">{saved}</Notice>
      <form onSubmit={onSubmit} noValidate aria-label="Auto-recharge settings">
        <div class="switch-field">
          <input id="ar-enabled" type="checkbox" role="switch" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
          <label for="ar-enabled">Enable auto-recharge</label>
        </div>
        <Field id="ar-threshold" label="Recharge when available tokens fall below" error={errors.threshold}>
          <TokenCount id="ar-threshold" error={errors.threshold} min={0} value={threshold} onValue={setThreshold} />
        </Field>
        <Field id="ar-mode" label="Each recharge">
          <select id="ar-mode" value={mode} onChange={(e) => setMode(e.currentTarget.value as 'fixed' | 'target')}>
            <option value="fixed">Buys a fixed amount</option>
            <option value="target">Tops up to a target balance</option>
          </select>
        </Field>
        {mode === 'target' ? (
          <Field
            id="ar-target"
            label="Top up to this many available tokens"
            hint="Each recharge buys what brings your available balance back to this, at least the minimum purchase."
            error={errors.amount}
          >
            <TokenCount id="ar-target" error={errors.amount} hint min={1} value={target} onValue={setTarget} />
          </Field>
        ) : null}
        {mode === 'fixed' ? (
          <Field id="ar-amount" label="Tokens to buy each time" error={amountChoice !== 'custom' ? errors.amount : undefined}>
            <select id="ar-amount" value={amountChoice} onChange={(e) => setAmountChoice(e.currentTarget.value)}>
              {packages.map((p: Package) => (
                <option value={String(p.tokens)} key={p.id}>
                  {p.name}: {f.tokens(p.tokens)} tokens ({f.cents(p.priceCents)})
                </option>
              ))}
              <option value="custom">Custom amount</option>
            </select>
          </Field>
        ) : null}
        {mode === 'fixed' && amountChoice === 'custom' ? (
          <Field id="ar-custom" label="Custom number of tokens" error={errors.amount}>
            <TokenCount id="ar-custom" error={errors.amount} min={1} value={customAmount} onValue={setCustomAmount} />
          </Field>
        ) : null}
        <Field id="ar-limit" label="Monthly limit in US dollars (optional)" hint="Auto-recharge stops for the month once it has spent this much." error={errors.limit}>
          <div class="input-prefix">
            <span aria-hidden="true">$</span>
            <input
              {...fieldAria('ar-limit', errors.limit, true)}
              type="number"
              inputMode="decimal"
              min={0}
              step="0.01"
              value={limit}
              onInput={(e) => setLimit(e.currentTarget.value)}
            />
          </div>
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save auto-recharge'}
        </button>
      </form>
    </Section>
  );
}
