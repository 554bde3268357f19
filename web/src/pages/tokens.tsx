import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorMessage, get, post, put, type Account, type AutoRecharge, type Package, type PackagesAnswer, type Transaction, type Usage, type User } from '../api';
import { DailyChart, type ChartSeries } from '../components/chart';
import { DataTable, Field, Notice, Section, Spinner, describedBy } from '../components/ui';
import * as f from '../format';
import { usePaged } from '../use-paged';

interface CheckoutStatus {
  status: string | null;
  paymentStatus: string;
  tokens: number;
  credited: boolean;
}

const TX_PAGE = 20;
const reducedMotion = () => matchMedia('(prefers-reduced-motion: reduce)').matches;

/** Starts a Checkout Session and sends the browser to it (Stripe Checkout or the local simulator's page). */
async function startCheckout(body: { packageId: string } | { amountCents: number }) {
  const r = await post<{ url: string }>('/api/checkout', body);
  if (!r?.url) throw new Error('The payment page could not be opened. Please try again.');
  location.assign(r.url);
}

export function TokensPage(_props: { user: User }) {
  const [account, setAccount] = useState<Account | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [pkgs, setPkgs] = useState<PackagesAnswer | null>(null);
  const [txVersion, setTxVersion] = useState(0);
  const buyHeading = useRef<HTMLHeadingElement>(null);
  const h1 = useRef<HTMLHeadingElement>(null);
  const [checkout] = useState(() => new URLSearchParams(location.search).get('checkout'));
  const [checkoutNote, setCheckoutNote] = useState<string | null>(null);

  const loadAccount = useCallback(async () => {
    try {
      const a = await get<Account>('/api/account');
      setAccount(a);
      setLoadError(null);
      return a;
    } catch (e) {
      setLoadError(errorMessage(e));
      return null;
    }
  }, []);

  useEffect(() => {
    h1.current?.focus();
    loadAccount();
    get<PackagesAnswer>('/api/packages')
      .then(setPkgs)
      .catch((e) => setPkgs({ packages: [], tokensPerUsd: undefined, minimumPurchaseCents: undefined, error: errorMessage(e) } as PackagesAnswer));
  }, []);

  // Back from checkout: the success URL proves nothing by itself, so ask the server whether the
  // session was paid and whether its tokens are in the account yet; refresh balance and history
  // the moment they are.
  useEffect(() => {
    if (!checkout) return;
    const sessionId = new URLSearchParams(location.search).get('session_id');
    history.replaceState(null, '', '/tokens');
    if (checkout !== 'success' || !sessionId) {
      setCheckoutNote('Checkout was cancelled. You have not been charged.');
      return;
    }
    setCheckoutNote('Checking your payment…');
    let stopped = false;
    (async () => {
      for (let i = 0; i < 30 && !stopped; i++) {
        const s = await get<CheckoutStatus>(`/api/checkout/sessions/${encodeURIComponent(sessionId)}`).catch(() => null);
        if (stopped) return;
        if (s?.credited) {
          setCheckoutNote(`Payment received: ${f.tokens(s.tokens)} tokens were added to your balance.`);
          await loadAccount();
          setTxVersion((v) => v + 1);
          return;
        }
        if (s && s.paymentStatus !== 'paid') {
          setCheckoutNote(s.status === 'complete' ? 'Your payment is processing; the tokens are added when it clears.' : 'This checkout was not paid, so nothing was charged.');
          if (s.status !== 'complete') return;
        } else if (s) {
          setCheckoutNote('Payment received — your tokens will appear in a moment.');
        }
        await new Promise((r) => setTimeout(r, i < 10 ? 700 : 2000));
      }
    })();
    return () => {
      stopped = true;
    };
  }, [checkout]);

  const goBuy = () => {
    const el = document.getElementById('buy');
    el?.scrollIntoView({ behavior: reducedMotion() ? 'auto' : 'smooth', block: 'start' });
    buyHeading.current?.focus({ preventScroll: true });
  };

  const onSaved = (ar: AutoRecharge) => setAccount((a) => (a ? { ...a, autoRecharge: { ...a.autoRecharge, ...ar } } : a));

  return (
    <div class="page">
      <h1 ref={h1} tabIndex={-1}>
        Tokens
      </h1>
      <Notice tone={checkout === 'success' ? 'success' : 'info'}>{checkoutNote}</Notice>
      <Notice tone="error" assertive>
        {loadError ? `Your account could not be loaded: ${loadError}` : null}
      </Notice>
      {account ? <CardFailedNotice account={account} minimumCents={pkgs?.minimumPurchaseCents ?? 500} /> : null}
      {account ? <BalanceCard account={account} onBuy={goBuy} /> : loadError ? null : <Spinner label="Loading your balance…" />}
      <BuySection pkgs={pkgs} headingRef={buyHeading} />
      <div class="grid-2">
        <UsageSection />
        {account ? <AutoRechargeForm account={account} pkgs={pkgs} onSaved={onSaved} /> : null}
      </div>
      <TransactionsSection version={txVersion} />
    </div>
  );
}

function alertLevel(a: Account): 'ok' | 'low' | 'critical' {
  if (a.alertLevel) return a.alertLevel;
  const t = a.thresholds ?? { low: 1000, critical: 100 };
  return a.available < t.critical ? 'critical' : a.available < t.low ? 'low' : 'ok';
}

function BalanceCard(props: { account: Account; onBuy: () => void }) {
  const a = props.account;
  const level = alertLevel(a);
  const t = a.thresholds ?? { low: 1000, critical: 100 };
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

function CardFailedNotice(props: { account: Account; minimumCents: number }) {
  const ar = props.account.autoRecharge;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!ar || ar.enabled || !ar.lastError) return null;
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

function BuySection(props: { pkgs: (PackagesAnswer & { error?: string }) | null; headingRef: any }) {
  const { pkgs } = props;
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dollars, setDollars] = useState('');
  const [amountError, setAmountError] = useState<string | null>(null);
  const minCents = pkgs?.minimumPurchaseCents ?? 500;
  const perUsd = pkgs?.tokensPerUsd ?? 10_000;
  const sorted = useMemo(() => [...(pkgs?.packages ?? [])].sort((a, b) => (a.sortOrder ?? 0) - (b.sortOrder ?? 0) || a.priceCents - b.priceCents), [pkgs]);

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

  const parsed = Number(dollars);
  const customCents = dollars.trim() && Number.isFinite(parsed) ? Math.round(parsed * 100) : NaN;
  const customTokens = Number.isFinite(customCents) ? Math.floor((customCents / 100) * perUsd) : NaN;

  const submitCustom = (e: Event) => {
    e.preventDefault();
    if (!dollars.trim() || !Number.isFinite(parsed)) return setAmountError(`Enter an amount in dollars, at least ${f.cents(minCents)}.`);
    if (!/^\d+(\.\d{1,2})?$/.test(dollars.trim())) return setAmountError('Use dollars and cents, like 12.50.');
    if (customCents < minCents) return setAmountError(`The minimum purchase is ${f.cents(minCents)}.`);
    setAmountError(null);
    buy('custom', { amountCents: customCents });
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
      {!pkgs ? (
        <Spinner label="Loading packages…" />
      ) : pkgs.error ? (
        <p class="field-error">Packages could not be loaded: {pkgs.error}</p>
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
                id="custom-dollars"
                name="amount"
                type="number"
                inputMode="decimal"
                min={minCents / 100}
                step="0.01"
                placeholder={(minCents / 100).toFixed(2)}
                value={dollars}
                aria-invalid={amountError ? true : undefined}
                aria-describedby={describedBy('custom-dollars', true, amountError)}
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

function UsageSection() {
  const [usage, setUsage] = useState<Usage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    get<Usage>('/api/account/usage', { days: 30 })
      .then(setUsage)
      .catch((e) => setError(errorMessage(e)));
  }, []);
  const days = useMemo(() => (usage?.byDay ?? []).map((d) => d.day.slice(0, 10)), [usage]);
  const series = useMemo<ChartSeries[]>(() => [{ label: 'Tokens used', values: (usage?.byDay ?? []).map((d) => d.billableTokens), color: '#1f5fbf', bars: true }], [usage]);
  const total = (usage?.byDay ?? []).reduce((s, d) => s + d.billableTokens, 0);
  const requests = (usage?.byDay ?? []).reduce((s, d) => s + d.requests, 0);
  return (
    <Section id="usage" title="Usage, last 30 days">
      {error ? <p class="field-error">Usage could not be loaded: {error}</p> : null}
      {!usage && !error ? <Spinner label="Loading usage…" /> : null}
      {usage ? (
        <>
          <p class="muted">
            {f.tokens(total)} tokens over {f.tokens(requests)} {requests === 1 ? 'request' : 'requests'}.
          </p>
          <DailyChart title="Tokens used per day" days={days} series={series} height={220} emptyText="No AI usage in the last 30 days." />
          {usage.byOperation.length > 0 || usage.byModel.length > 0 ? (
            <div class="breakdowns">
              <Breakdown title="By operation" rows={usage.byOperation.map((r) => [r.operation, r.requests, r.billableTokens])} />
              <Breakdown title="By model" rows={usage.byModel.map((r) => [r.model, r.requests, r.billableTokens])} />
            </div>
          ) : null}
        </>
      ) : null}
    </Section>
  );
}

function Breakdown(props: { title: string; rows: [string, number, number][] }) {
  return (
    <DataTable
      label={props.title}
      caption={props.title}
      class="compact"
      wrap={false}
      rows={props.rows}
      rowKey={([k]) => k}
      columns={[
        { label: props.title.replace(/^By /, '').replace(/^./, (c) => c.toUpperCase()), rowHeader: true, cell: ([k]) => k },
        { label: 'Requests', num: true, cell: ([, r]) => f.tokens(r) },
        { label: 'Tokens', num: true, cell: ([, , t]) => f.tokens(t) },
      ]}
    />
  );
}

const STATE_TEXT: Record<string, string> = {
  off: 'Off',
  armed: 'On — waiting for the balance to drop below the threshold',
  scheduled: 'A recharge is scheduled',
  creating: 'A recharge is in progress',
  confirming: 'A recharge is in progress',
  awaiting_webhook: 'A recharge is waiting for your bank to confirm the payment',
};

function AutoRechargeForm(props: { account: Account; pkgs: PackagesAnswer | null; onSaved: (ar: AutoRecharge) => void }) {
  const ar = props.account.autoRecharge ?? { enabled: false, threshold: 0, amount: 0 };
  const packages = props.pkgs?.packages ?? [];
  const [enabled, setEnabled] = useState(ar.enabled);
  const [threshold, setThreshold] = useState(String(ar.threshold || 5000));
  const initialAmount = ar.amount || packages[0]?.tokens || 150_000;
  const [amountChoice, setAmountChoice] = useState<string>('');
  const [customAmount, setCustomAmount] = useState(String(initialAmount));
  const [limit, setLimit] = useState(ar.monthlyLimitCents ? String(ar.monthlyLimitCents / 100) : '');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // Pick the package matching the saved amount once packages are known.
  useEffect(() => {
    if (amountChoice) return;
    const match = packages.find((p) => p.tokens === initialAmount);
    setAmountChoice(match ? String(match.tokens) : packages.length ? 'custom' : '');
  }, [packages.length]);

  const amountTokens = amountChoice && amountChoice !== 'custom' ? Number(amountChoice) : Number(customAmount);

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs: Record<string, string> = {};
    const th = Number(threshold);
    if (!/^\d+$/.test(threshold.trim())) errs.threshold = 'Enter a whole number of tokens.';
    if (!Number.isInteger(amountTokens) || amountTokens <= 0) errs.amount = 'Enter a whole number of tokens above zero.';
    let monthlyLimitCents: number | null = null;
    if (limit.trim()) {
      if (!/^\d+(\.\d{1,2})?$/.test(limit.trim())) errs.limit = 'Enter dollars and cents, like 100 or 49.50, or leave it empty.';
      else monthlyLimitCents = Math.round(Number(limit) * 100);
      if (monthlyLimitCents !== null && monthlyLimitCents < 500) errs.limit = 'The monthly limit is at least $5.00, or leave it empty.';
    }
    if (enabled && !errs.amount && !errs.threshold && amountTokens <= th) errs.amount = 'Buy more tokens each time than the threshold, or the balance would stay below it.';
    setErrors(errs);
    setSaved(null);
    if (Object.keys(errs).length) {
      setError('Please fix the highlighted fields.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { enabled, threshold: th, amount: amountTokens };
      if (monthlyLimitCents !== null) body.monthlyLimitCents = monthlyLimitCents;
      else if (ar.monthlyLimitCents) body.monthlyLimitCents = null;
      const r = await put<AutoRecharge | { autoRecharge: AutoRecharge }>('/api/account/auto-recharge', body);
      const next = (r && 'autoRecharge' in r ? r.autoRecharge : r) as AutoRecharge;
      props.onSaved(next ?? { ...ar, enabled, threshold: th, amount: amountTokens, monthlyLimitCents });
      setSaved(enabled ? 'Auto-recharge is on.' : 'Auto-recharge is off.');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section id="auto-recharge" title="Auto-recharge">
      <p class="muted">When your available balance drops below the threshold, we buy more tokens with your saved card.</p>
      <p class="ar-state">
        <strong>Status:</strong> {STATE_TEXT[ar.state ?? (ar.enabled ? 'armed' : 'off')] ?? ar.state}
        {ar.hasPaymentMethod === false ? <span class="hint block">No saved card yet: buy tokens once and the card you pay with is saved for auto-recharge.</span> : null}
      </p>
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <Notice tone="success">{saved}</Notice>
      <form onSubmit={submit} noValidate aria-label="Auto-recharge settings">
        <div class="switch-field">
          <input id="ar-enabled" type="checkbox" role="switch" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
          <label for="ar-enabled">Enable auto-recharge</label>
        </div>
        <Field id="ar-threshold" label="Recharge when available tokens fall below" error={errors.threshold}>
          <input
            id="ar-threshold"
            type="number"
            inputMode="numeric"
            min={0}
            step={1}
            value={threshold}
            aria-invalid={errors.threshold ? true : undefined}
            aria-describedby={describedBy('ar-threshold', false, errors.threshold)}
            onInput={(e) => setThreshold(e.currentTarget.value)}
          />
        </Field>
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
        {amountChoice === 'custom' ? (
          <Field id="ar-custom" label="Custom number of tokens" error={errors.amount}>
            <input
              id="ar-custom"
              type="number"
              inputMode="numeric"
              min={1}
              step={1}
              value={customAmount}
              aria-invalid={errors.amount ? true : undefined}
              aria-describedby={describedBy('ar-custom', false, errors.amount)}
              onInput={(e) => setCustomAmount(e.currentTarget.value)}
            />
          </Field>
        ) : null}
        <Field id="ar-limit" label="Monthly limit in US dollars (optional)" hint="Auto-recharge stops for the month once it has spent this much." error={errors.limit}>
          <div class="input-prefix">
            <span aria-hidden="true">$</span>
            <input
              id="ar-limit"
              type="number"
              inputMode="decimal"
              min={0}
              step="0.01"
              value={limit}
              aria-invalid={errors.limit ? true : undefined}
              aria-describedby={describedBy('ar-limit', true, errors.limit)}
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

function TransactionsSection(props: { version: number }) {
  const [type, setType] = useState('');
  const [announce, setAnnounce] = useState<string | null>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const { items, cursor, loading, error, load } = usePaged<Transaction>('/api/account/transactions', { limit: TX_PAGE, type: type || undefined }, [type, props.version], (r, more) => {
    // The button goes away on the last page: keep focus in the table rather than losing it.
    if (more && !r.nextCursor) setTimeout(() => wrap.current?.querySelector<HTMLElement>('.table-wrap')?.focus(), 0);
    setAnnounce(more ? `Loaded ${r.items.length} more transactions.` : `${r.items.length}${r.nextCursor ? '+' : ''} transactions${type ? ` of type ${f.txLabel(type)}` : ''}.`);
  });

  return (
    <Section
      id="history"
      title="Transaction history"
      actions={
        <div class="inline-field">
          <label for="tx-type">Type</label>
          <select id="tx-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
            <option value="">All types</option>
            {f.TX_TYPES.map((t) => (
              <option value={t} key={t}>
                {f.txLabel(t)}
              </option>
            ))}
          </select>
        </div>
      }
    >
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <p class="sr-only" role="status">
        {announce}
      </p>
      <div ref={wrap}>
      {items.length === 0 && !loading && !error ? (
        <p class="empty">No transactions{type ? ' of this type' : ''} yet.</p>
      ) : items.length > 0 ? (
        <DataTable
          label="Transactions"
          testId="transactions"
          class="tx-table"
          stack
          rows={items}
          rowKey={(t) => t.id}
          rowAttrs={(t) => ({ 'data-type': t.type })}
          columns={[
            { label: 'Date', class: 'nowrap', cell: (t) => <time dateTime={f.isoDateTime(t.createdAt)}>{f.when(t.createdAt)}</time> },
            { label: 'Type', cell: (t) => <span class={`tx-type tx-${t.type}`}>{f.txLabel(t.type)}</span> },
            {
              label: 'Description',
              class: 'desc',
              cell: (t) => (
                <>
                  {t.description || '—'}
                  {t.amountCents ? <span class="hint block">{f.cents(t.amountCents)}</span> : null}
                  {t.ref && (t.type === 'purchase' || t.type === 'auto_recharge' || t.type === 'refund' || t.type === 'dispute') ? <span class="hint block mono">{t.ref}</span> : null}
                </>
              ),
            },
            { label: 'Amount', num: true, class: (t) => (t.amount >= 0 ? 'pos' : 'neg'), cell: (t) => f.signedTokens(t.amount) },
            { label: 'Balance after', num: true, cardLabel: true, cell: (t) => f.tokens(t.balanceAfter) },
          ]}
        />
      ) : null}
      </div>
      {loading && !cursor ? <Spinner label="Loading transactions…" /> : null}
      {cursor ? (
        <button type="button" class="btn btn-secondary" onClick={() => !loading && load(true)} aria-disabled={loading}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      ) : null}
    </Section>
  );
}
