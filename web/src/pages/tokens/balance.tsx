import { useState } from 'preact/hooks';
import { errorMessage, type Account } from '../../api';
import * as f from '../../format';
import { startCheckout } from './checkout';

/** The balance, what is available and held, status, the run-out estimate and low/critical alerts. */
export function BalanceCard(props: { account: Account; onBuy: () => void }) {
  const a = props.account;
  const level = a.alertLevel;
  const t = a.thresholds;
  const burn = a.burn;
  return (
    <section class="card balance-card" aria-labelledby="balance-title">
      <h2 id="balance-title" class="sr-only">
        Balance
      </h2>
      <div class="balance-figures">
        <div class="figure figure-main">
          <span class="figure-label" id="balance-label">
            Balance
          </span>
          <span class="figure-value" data-testid="balance" aria-describedby="balance-label">
            {f.tokens(a.balance)}
          </span>
          <span class="figure-unit">tokens</span>
        </div>
        <div class="figure">
          <span class="figure-label">Available</span>
          <span class="figure-value small" data-testid="available">
            {f.tokens(a.available)}
          </span>
          <span class="figure-unit">{a.reserved > 0 ? `${f.tokens(a.reserved)} held for running requests` : 'none held for running requests'}</span>
        </div>
        <div class="figure">
          <span class="figure-label">Status</span>
          <span class={`badge ${a.status === 'active' ? 'badge-ok' : 'badge-bad'}`}>{a.status === 'active' ? 'Active' : 'Suspended'}</span>
          <span class="figure-unit">{a.lastPurchaseAt ? `Last purchase ${f.day(a.lastPurchaseAt)}` : 'No purchases yet'}</span>
        </div>
      </div>
      <p class="burn" data-testid="burn">
        {burn && burn.tokensPerDay > 0 && burn.daysLeft !== null && burn.daysLeft !== undefined ? (
          <>
            At your recent pace of {f.tokens(burn.tokensPerDay)} tokens a day, your tokens run out{' '}
            <strong>{burn.daysLeft < 1 ? 'in less than a day' : `in about ${f.tokens(burn.daysLeft)} ${burn.daysLeft === 1 ? 'day' : 'days'}`}</strong>.
          </>
        ) : (
          'No usage in the last 7 days, so there is no run-out estimate yet.'
        )}
      </p>
      {a.status === 'suspended' ? (
        <div class="notice notice-critical" role="alert">
          <p>
            <strong>Your account is suspended.</strong> AI features are paused. If your balance is negative, buying tokens brings it back.
          </p>
        </div>
      ) : null}
      {level === 'critical' ? (
        <div class="notice notice-critical balance-alert" role="alert" data-testid="alert-critical">
          <p>
            <strong>Critical: only {f.tokens(a.available)} tokens left</strong> (below {f.tokens(t.critical)}). AI requests will be refused when they run out.
          </p>
          <button type="button" class="btn btn-danger" onClick={props.onBuy}>
            Buy tokens
          </button>
        </div>
      ) : level === 'low' ? (
        <div class="notice notice-warning balance-alert" role="status" data-testid="alert-low">
          <p>
            <strong>Low balance: {f.tokens(a.available)} tokens left</strong> (below {f.tokens(t.low)}). Top up to keep things running.
          </p>
          <button type="button" class="btn btn-warning" onClick={props.onBuy}>
            Buy tokens
          </button>
        </div>
      ) : null}
    </section>
  );
}

/** Shown when auto-recharge switched itself off after a card failure: buying once with a working card saves it. */
export function CardFailedNotice(props: { account: Account; minimumCents: number }) {
  const ar = props.account.autoRecharge;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (ar.enabled || !ar.lastError) return null;
  const update = async () => {
    setBusy(true);
    setError(null);
    try {
      await startCheckout({ amountCents: props.minimumCents });
    } catch (e) {
      setError(errorMessage(e));
      setBusy(false);
    }
  };
  return (
    <div class="notice notice-warning" role="alert" data-testid="auto-recharge-failed">
      <p>
        <strong>Auto-recharge was turned off because your card failed.</strong> {ar.lastError}
      </p>
      <p>Buy {f.cents(props.minimumCents)} of tokens with a working card to save it, then turn auto-recharge back on.</p>
      <button type="button" class="btn btn-primary" onClick={update} disabled={busy}>
        {busy ? 'Opening checkout…' : 'Update card'}
      </button>
      {error ? <p class="field-error">{error}</p> : null}
    </div>
  );
}
