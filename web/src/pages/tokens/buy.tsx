import type { Ref } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { errorMessage, type PackagesAnswer } from '../../api';
import { Field, Notice, Section, Spinner, fieldAria } from '../../components/ui';
import * as f from '../../format';
import { checkCustomAmount } from '../../forms/tokens';
import { startCheckout } from './checkout';

/**
 * "Buy tokens": the packages on sale and a custom dollar amount, each opening Checkout. `pkgs` is
 * null while /api/packages loads; `error` says why it failed.
 */
export function BuySection(props: { pkgs: PackagesAnswer | null; error: string | null; headingRef: Ref<HTMLHeadingElement> }) {
  const { pkgs } = props;
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dollars, setDollars] = useState('');
  const [amountError, setAmountError] = useState<string | null>(null);
  const minCents = pkgs?.minimumPurchaseCents ?? 500;
  const perUsd = pkgs?.tokensPerUsd ?? 10_000;
  const sorted = useMemo(() => [...(pkgs?.packages ?? [])].sort((a, b) => a.sortOrder - b.sortOrder || a.priceCents - b.priceCents), [pkgs]);

  const buy = async (key: string, body: { packageId: string } | { amountCents: number }) => {
    setBusy(key);
    setError(null);
    try {
      await startCheckout(body);
    } catch (e) {
      setError(errorMessage(e));
      setBusy(null);
    }
  };

  // What the custom amount buys, for the hint while typing (the check on submit is checkCustomAmount).
  const parsed = Number(dollars);
  const customCents = dollars.trim() && Number.isFinite(parsed) ? Math.round(parsed * 100) : NaN;
  const customTokens = Number.isFinite(customCents) ? Math.floor((customCents / 100) * perUsd) : NaN;

  const submitCustom = (e: Event) => {
    e.preventDefault();
    const checked = checkCustomAmount(dollars, minCents);
    if (!checked.ok) return setAmountError(checked.errors.amount ?? null);
    setAmountError(null);
    buy('custom', checked.value);
  };

  return (
    <Section id="buy" title="Buy tokens" headingRef={props.headingRef}>
      <Notice tone="error" assertive>
        {error ? `Checkout could not start: ${error}` : null}
      </Notice>
      {pkgs?.testMode ? (
        <p class="hint" data-testid="test-mode">
          Test mode: no real money moves. Pay with card 4242 4242 4242 4242, any future expiry and any CVC.
        </p>
      ) : null}
      {props.error ? (
        <p class="field-error">Packages could not be loaded: {props.error}</p>
      ) : !pkgs ? (
        <Spinner label="Loading packages…" />
      ) : (
        <ul class="packages" aria-label="Token packages">
          {sorted.map((p) => (
            <li key={p.id} class={`package${p.popular ? ' package-popular' : ''}`}>
              {p.popular ? <span class="package-flag">Most popular</span> : null}
              <h3 class="package-name">{p.name}</h3>
              <p class="package-tokens">
                <strong>{f.tokens(p.tokens)}</strong> tokens
              </p>
              <p class="package-price">{f.cents(p.priceCents)}</p>
              <p class="package-rate">{f.per1000(p.priceCents, p.tokens)} per 1,000 tokens</p>
              {p.description ? <p class="package-desc">{p.description}</p> : null}
              <button
                type="button"
                class={`btn ${p.popular ? 'btn-primary' : 'btn-secondary'} btn-block`}
                onClick={() => buy(p.id, { packageId: p.id })}
                disabled={busy !== null}
                aria-label={`Buy ${p.name}: ${f.tokens(p.tokens)} tokens for ${f.cents(p.priceCents)}`}
              >
                {busy === p.id ? 'Opening checkout…' : `Buy ${p.name}`}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="custom-amount" onSubmit={submitCustom} noValidate aria-labelledby="custom-title">
        <h3 id="custom-title">Custom amount</h3>
        <div class="row">
          <Field
            id="custom-dollars"
            label="Amount in US dollars"
            hint={
              Number.isFinite(customTokens) && customCents >= minCents
                ? `You get ${f.tokens(customTokens)} tokens (${f.tokens(perUsd)} per dollar).`
                : `Minimum ${f.cents(minCents)}; ${f.tokens(perUsd)} tokens per dollar.`
            }
            error={amountError}
          >
            <div class="input-prefix">
              <span aria-hidden="true">$</span>
              <input
                {...fieldAria('custom-dollars', amountError, true)}
                name="amount"
                type="number"
                inputMode="decimal"
                min={minCents / 100}
                step="0.01"
                placeholder={(minCents / 100).toFixed(2)}
                value={dollars}
                onInput={(e) => {
                  setDollars(e.currentTarget.value);
                  setAmountError(null);
                }}
              />
            </div>
          </Field>
          <button type="submit" class="btn btn-secondary" disabled={busy !== null}>
            {busy === 'custom' ? 'Opening checkout…' : 'Buy custom amount'}
          </button>
        </div>
      </form>
    </Section>
  );
}
