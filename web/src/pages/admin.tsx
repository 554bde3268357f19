import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorMessage, get, post, put, type Package, type User } from '../api';
import { DailyChart, type ChartSeries } from '../components/chart';
import { DataTable, Field, Notice, Section, Spinner, describedBy } from '../components/ui';
import * as f from '../format';
import { usePaged } from '../use-paged';

interface Stats {
  totalBillableTokens: number;
  totalActualTokens: number;
  profitMarginPercent: number | null;
  totalRevenueCents: number;
  averagePurchaseCents: number | null;
  purchaseCount: number;
  purchasesPerDay: number | null;
  activeAccounts: number;
  suspendedAccounts: number;
  averageBalance: number | null;
  failedInsufficientBalance: number;
  autoRecharge: { successes: number; failures: number };
  webhooks: { successes: number; failures: number };
}
interface DailyStat {
  day: string;
  billableTokens: number;
  actualTokens: number;
  revenueCents: number;
}
interface UsageStat {
  model?: string;
  operation?: string;
  requests: number;
  actualTokens: number;
  billableTokens: number;
  failures?: number;
  profitMarginPercent?: number | null;
}
/** The breakdown routes answer { models } / { operations } (older drafts: { items }). */
type Breakdown = { items?: UsageStat[]; models?: UsageStat[]; operations?: UsageStat[] };
interface AccountRow {
  userId: string;
  email: string | null;
  workspaceId?: string;
  balance: number;
  status: string;
  lastPurchaseAt?: number | string | null;
}
interface Settings {
  tokenMultiplier: number;
  imageCosts: Record<string, number>;
  tokensPerUsd: number;
  minimumPurchaseCents: number;
  welcomeBonus: number;
  lowBalanceThreshold: number;
  criticalBalanceThreshold: number;
}
interface AuditEntry {
  id: string;
  actor?: { id: string; email?: string | null } | null;
  actorUserId?: string | null;
  actorEmail?: string | null;
  action: string;
  target?: string | null;
  before?: unknown;
  after?: unknown;
  createdAt: number | string;
}

const SECTIONS: [string, string][] = [
  ['stats', 'Overview'],
  ['usage-over-time', 'Usage'],
  ['breakdown', 'Models & operations'],
  ['accounts', 'Accounts'],
  ['grant', 'Grant tokens'],
  ['settings', 'Settings'],
  ['packages', 'Packages'],
  ['audit', 'Audit log'],
];

const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const compactUsd = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export function AdminPage(props: { user: User }) {
  const { user } = props;
  const h1 = useRef<HTMLHeadingElement>(null);
  const canRead = user.roles.includes('admin') || user.roles.includes('superadmin');
  const canWrite = user.roles.includes('superadmin');
  const grantRef = useRef<{ pick: (a: AccountRow) => void }>(null);
  const [accountsVersion, setAccountsVersion] = useState(0);

  useEffect(() => {
    h1.current?.focus();
  }, []);

  if (!canRead) {
    return (
      <div class="page narrow">
        <h1 ref={h1} tabIndex={-1}>
          Not authorized
        </h1>
        <div class="notice notice-error" role="alert">
          <p>You are not authorized to view the token billing admin. Ask a superadmin for the admin role.</p>
        </div>
        <p>
          Go to <a href="/tokens">your tokens</a>.
        </p>
      </div>
    );
  }

  return (
    <div class="page admin">
      <div class="page-head">
        <h1 ref={h1} tabIndex={-1}>
          Token billing admin
        </h1>
        <span class={`badge ${canWrite ? 'badge-ok' : 'badge-muted'}`}>{canWrite ? 'Superadmin' : 'Admin · read-only'}</span>
      </div>
      <nav aria-label="Dashboard sections" class="toc">
        <ul>
          {SECTIONS.filter(([id]) => canWrite || id !== 'grant').map(([id, label]) => (
            <li key={id}>
              <a href={`#${id}`}>{label}</a>
            </li>
          ))}
        </ul>
      </nav>
      {!canWrite ? (
        <p class="notice notice-info">You can see everything here; changes (grants, settings, packages) need the superadmin role.</p>
      ) : null}
      <StatsSection />
      <DailySection />
      <BreakdownSection />
      <AccountsSection canWrite={canWrite} version={accountsVersion} onGrant={(a) => grantRef.current?.pick(a)} />
      {canWrite ? <GrantSection handle={grantRef} onGranted={() => setAccountsVersion((v) => v + 1)} /> : null}
      <SettingsSection canWrite={canWrite} />
      <PackagesSection canWrite={canWrite} />
      <AuditSection />
    </div>
  );
}

function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: string | null; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load()
      .then((d) => live && (setData(d), setError(null)))
      .catch((e) => live && setError(errorMessage(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}

function StatsSection() {
  const { data: s, error } = useLoad(() => get<Stats>('/api/admin/stats'), []);
  const cards: [string, string, string?][] = s
    ? [
        ['Billable tokens used', f.tokens(s.totalBillableTokens)],
        ['Actual tokens used', f.tokens(s.totalActualTokens)],
        ['Profit margin', f.percent(s.profitMarginPercent), '(billable − actual) ÷ billable tokens'],
        ['Total revenue', f.cents(s.totalRevenueCents)],
        ['Average purchase', f.cents(s.averagePurchaseCents)],
        ['Purchases', f.tokens(s.purchaseCount), s.purchasesPerDay === null || s.purchasesPerDay === undefined ? undefined : `${f.num(s.purchasesPerDay)} per day`],
        ['Active accounts', f.tokens(s.activeAccounts)],
        ['Suspended accounts', f.tokens(s.suspendedAccounts), 'negative balance or dispute'],
        ['Average balance', f.tokens(s.averageBalance), 'tokens'],
        ['Failed: insufficient balance', f.tokens(s.failedInsufficientBalance), 'AI operations refused'],
        ['Auto-recharge', `${f.tokens(s.autoRecharge?.successes)} ok`, `${f.tokens(s.autoRecharge?.failures)} failed`],
        ['Webhooks', `${f.tokens(s.webhooks?.successes)} ok`, `${f.tokens(s.webhooks?.failures)} failed`],
      ]
    : [];
  return (
    <Section id="stats" title="Overview">
      {error ? <p class="field-error">Statistics could not be loaded: {error}</p> : null}
      {!s && !error ? <Spinner label="Loading statistics…" /> : null}
      {s ? (
        <dl class="stat-grid" data-testid="stats">
          {cards.map(([label, value, sub]) => (
            <div class="stat" key={label}>
              <dt>{label}</dt>
              <dd>
                <span class="stat-value">{value}</span>
                {sub ? <span class="stat-sub">{sub}</span> : null}
              </dd>
            </div>
          ))}
        </dl>
      ) : null}
    </Section>
  );
}

function DailySection() {
  const [days, setDays] = useState(30);
  const { data, error, loading } = useLoad(() => get<{ byDay?: DailyStat[]; days?: DailyStat[] }>('/api/admin/stats/daily', { days }), [days]);
  const rows = data?.byDay ?? data?.days ?? [];
  const x = useMemo(() => rows.map((r) => r.day.slice(0, 10)), [data]);
  const series = useMemo<ChartSeries[]>(
    () => [
      { label: 'Billable tokens', values: rows.map((r) => r.billableTokens), color: '#1f5fbf', bars: true },
      { label: 'Actual tokens', values: rows.map((r) => r.actualTokens), color: '#0b7a53' },
      { label: 'Revenue', values: rows.map((r) => r.revenueCents / 100), color: '#a2470b', right: true, format: (v) => f.cents(v * 100) },
    ],
    [data],
  );
  return (
    <Section
      id="usage-over-time"
      title="Usage over time"
      actions={
        <div class="inline-field">
          <label for="daily-range">Period</label>
          <select id="daily-range" value={String(days)} onChange={(e) => setDays(Number(e.currentTarget.value))}>
            <option value="7">Last 7 days</option>
            <option value="30">Last 30 days</option>
            <option value="90">Last 90 days</option>
          </select>
        </div>
      }
    >
      {error ? <p class="field-error">Daily statistics could not be loaded: {error}</p> : null}
      {loading && !data ? <Spinner /> : null}
      {data ? <DailyChart title="Tokens and revenue per day" days={x} series={series} height={260} rightFormat={(v) => (v < 10 ? `$${v.toFixed(2)}` : `$${compactUsd.format(v)}`)} emptyText="No usage or revenue in this period yet." /> : null}
    </Section>
  );
}

function BreakdownSection() {
  const today = new Date();
  const [from, setFrom] = useState(isoDay(new Date(today.getTime() - 29 * 86_400_000)));
  const [to, setTo] = useState(isoDay(today));
  const [range, setRange] = useState({ from, to });
  const models = useLoad(() => get<Breakdown>('/api/admin/stats/models', range), [range]);
  const ops = useLoad(() => get<Breakdown>('/api/admin/stats/operations', range), [range]);
  const apply = (e: Event) => {
    e.preventDefault();
    setRange({ from, to });
  };
  return (
    <Section id="breakdown" title="Models and operations">
      <form class="filters" onSubmit={apply} aria-label="Date range for models and operations">
        <Field id="bd-from" label="From">
          <input id="bd-from" type="date" value={from} max={to} onInput={(e) => setFrom(e.currentTarget.value)} />
        </Field>
        <Field id="bd-to" label="To">
          <input id="bd-to" type="date" value={to} min={from} onInput={(e) => setTo(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="btn btn-secondary">
          Apply range
        </button>
      </form>
      <div class="grid-2 tight">
        <UsageTable title="By model" keyName="model" testId="models-table" state={models} />
        <UsageTable title="By operation" keyName="operation" testId="operations-table" state={ops} />
      </div>
    </Section>
  );
}

function UsageTable(props: { title: string; keyName: 'model' | 'operation'; testId: string; state: ReturnType<typeof useLoad<Breakdown>> }) {
  const { data, error, loading } = props.state;
  const items = data?.items ?? data?.models ?? data?.operations ?? [];
  const label = props.keyName === 'model' ? 'Model' : 'Operation';
  return (
    <div>
      <h3>{props.title}</h3>
      {error ? <p class="field-error">Could not load: {error}</p> : null}
      {loading && !data ? <Spinner /> : null}
      {data && items.length === 0 ? <p class="empty">No usage in this range.</p> : null}
      {items.length > 0 ? (
        <DataTable
          label={props.title}
          testId={props.testId}
          class="compact"
          rows={items}
          rowKey={(r) => r[props.keyName] ?? ''}
          columns={[
            { label, rowHeader: true, cell: (r) => r[props.keyName] },
            { label: 'Requests', num: true, cell: (r) => f.tokens(r.requests) },
            { label: 'Actual', num: true, cell: (r) => f.tokens(r.actualTokens) },
            { label: 'Billable', num: true, cell: (r) => f.tokens(r.billableTokens) },
            { label: 'Failures', num: true, cell: (r) => f.tokens(r.failures ?? 0) },
            { label: 'Margin', num: true, cell: (r) => f.percent(r.profitMarginPercent) },
          ]}
        />
      ) : null}
    </div>
  );
}

function AccountsSection(props: { canWrite: boolean; version: number; onGrant: (a: AccountRow) => void }) {
  const [status, setStatus] = useState('');
  const [minBalance, setMin] = useState('');
  const [maxBalance, setMax] = useState('');
  const [q, setQ] = useState('');
  const [filters, setFilters] = useState({ status: '', minBalance: '', maxBalance: '', q: '' });
  const [announce, setAnnounce] = useState('');
  const { items, cursor, loading, error, load } = usePaged<AccountRow>('/api/admin/accounts', filters, [filters, props.version], (r, more) =>
    setAnnounce(more ? `Loaded ${r.items.length} more accounts.` : `${r.items.length}${r.nextCursor ? '+' : ''} ${r.items.length === 1 ? 'account' : 'accounts'} found.`),
  );

  const apply = (e: Event) => {
    e.preventDefault();
    setFilters({ status, minBalance: minBalance.trim(), maxBalance: maxBalance.trim(), q: q.trim() });
  };
  const clear = () => {
    setStatus('');
    setMin('');
    setMax('');
    setQ('');
    setFilters({ status: '', minBalance: '', maxBalance: '', q: '' });
  };

  return (
    <Section id="accounts" title="Accounts">
      <form class="filters" onSubmit={apply} aria-label="Filter accounts" role="search">
        <Field id="acc-q" label="Search email or user id">
          <input id="acc-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </Field>
        <Field id="acc-status" label="Status">
          <select id="acc-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="suspended">Suspended</option>
          </select>
        </Field>
        <Field id="acc-min" label="Min balance">
          <input id="acc-min" type="number" step={1} inputMode="numeric" value={minBalance} onInput={(e) => setMin(e.currentTarget.value)} />
        </Field>
        <Field id="acc-max" label="Max balance">
          <input id="acc-max" type="number" step={1} inputMode="numeric" value={maxBalance} onInput={(e) => setMax(e.currentTarget.value)} />
        </Field>
        <div class="filter-actions">
          <button type="submit" class="btn btn-primary">
            Apply filters
          </button>
          <button type="button" class="btn btn-quiet" onClick={clear}>
            Clear
          </button>
        </div>
      </form>
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <p class="sr-only" role="status">
        {announce}
      </p>
      {items.length === 0 && !loading && !error ? <p class="empty">No accounts match these filters.</p> : null}
      {items.length > 0 ? (
        <DataTable
          label="Accounts"
          testId="accounts-table"
          class="stack-table"
          stack
          rows={items}
          rowKey={(a) => a.userId}
          columns={[
            {
              label: 'Email',
              rowHeader: true,
              cell: (a) => (
                <>
                  {a.email ?? <span class="muted">(no user record)</span>}
                  <span class="hint block mono">{a.userId}</span>
                </>
              ),
            },
            { label: 'Workspace', class: 'mono', cardLabel: true, cell: (a) => a.workspaceId ?? '—' },
            { label: 'Balance', num: true, class: (a) => (a.balance < 0 ? 'neg' : undefined), cardLabel: true, cell: (a) => f.tokens(a.balance) },
            { label: 'Status', cardLabel: true, cell: (a) => <span class={`badge ${a.status === 'active' ? 'badge-ok' : 'badge-bad'}`}>{a.status}</span> },
            { label: 'Last purchase', class: 'nowrap', cardLabel: true, cell: (a) => (a.lastPurchaseAt ? f.day(a.lastPurchaseAt) : '—') },
            props.canWrite && {
              label: 'Actions',
              hiddenLabel: true,
              cell: (a) => (
                <button type="button" class="btn btn-small btn-secondary" onClick={() => props.onGrant(a)} aria-label={`Grant tokens to ${a.email ?? a.userId}`}>
                  Grant tokens
                </button>
              ),
            },
          ]}
        />
      ) : null}
      {loading && !cursor ? <Spinner label="Loading accounts…" /> : null}
      {cursor ? (
        <button type="button" class="btn btn-secondary" onClick={() => !loading && load(true)} aria-disabled={loading}>
          {loading ? 'Loading…' : 'Load more accounts'}
        </button>
      ) : null}
    </Section>
  );
}

function GrantSection(props: { handle: { current: { pick: (a: AccountRow) => void } | null }; onGranted: () => void }) {
  const [userId, setUserId] = useState('');
  const [who, setWho] = useState<string | null>(null);
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const amountRef = useRef<HTMLInputElement>(null);

  props.handle.current = {
    pick: (a) => {
      setUserId(a.userId);
      setWho(a.email ?? a.userId);
      setDone(null);
      document.getElementById('grant')?.scrollIntoView({ block: 'start' });
      amountRef.current?.focus();
    },
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (!userId.trim()) errs.user = 'Enter a user id, or pick an account above.';
    if (!/^\d+$/.test(amount.trim()) || Number(amount) <= 0) errs.amount = 'Enter a whole number of tokens above zero.';
    if (!reason.trim()) errs.reason = 'Say why these tokens are granted; it goes to the audit log.';
    setErrors(errs);
    setDone(null);
    if (Object.keys(errs).length) {
      setError('Please fix the highlighted fields.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await post('/api/admin/grants', { userId: userId.trim(), amount: Number(amount), reason: reason.trim() });
      setDone(`Granted ${f.tokens(Number(amount))} tokens to ${who ?? userId.trim()}.`);
      setAmount('');
      setReason('');
      props.onGranted();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section id="grant" title="Grant tokens">
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <Notice tone="success">{done}</Notice>
      <form onSubmit={submit} noValidate class="form-grid" aria-label="Grant tokens">
        <Field id="grant-user" label="User id" hint={who ? `Selected: ${who}` : 'Pick an account with “Grant tokens”, or paste a user id.'} error={errors.user}>
          <input
            id="grant-user"
            type="text"
            class="mono"
            value={userId}
            aria-invalid={errors.user ? true : undefined}
            aria-describedby={describedBy('grant-user', true, errors.user)}
            onInput={(e) => {
              setUserId(e.currentTarget.value);
              setWho(null);
            }}
          />
        </Field>
        <Field id="grant-amount" label="Tokens" error={errors.amount}>
          <input
            ref={amountRef}
            id="grant-amount"
            type="number"
            min={1}
            step={1}
            inputMode="numeric"
            value={amount}
            aria-invalid={errors.amount ? true : undefined}
            aria-describedby={describedBy('grant-amount', false, errors.amount)}
            onInput={(e) => setAmount(e.currentTarget.value)}
          />
        </Field>
        <Field id="grant-reason" label="Reason" error={errors.reason} class="span-2">
          <input
            id="grant-reason"
            type="text"
            maxLength={500}
            value={reason}
            aria-invalid={errors.reason ? true : undefined}
            aria-describedby={describedBy('grant-reason', false, errors.reason)}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </Field>
        <div class="span-2">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? 'Granting…' : 'Grant tokens'}
          </button>
        </div>
      </form>
    </Section>
  );
}

function SettingsSection(props: { canWrite: boolean }) {
  const { data, error: loadError, reload } = useLoad(() => get<{ settings: Settings }>('/api/admin/settings'), []);
  const [form, setForm] = useState<Record<string, string> | null>(null);
  const [images, setImages] = useState<[string, string][]>([]);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const s = data?.settings;
    if (!s) return;
    setForm({
      tokenMultiplier: String(s.tokenMultiplier),
      tokensPerUsd: String(s.tokensPerUsd),
      minimumPurchase: (s.minimumPurchaseCents / 100).toFixed(2),
      welcomeBonus: String(s.welcomeBonus),
      lowBalanceThreshold: String(s.lowBalanceThreshold),
      criticalBalanceThreshold: String(s.criticalBalanceThreshold),
    });
    setImages(Object.entries(s.imageCosts ?? {}).map(([k, v]) => [k, String(v)]));
  }, [data]);

  const set = (k: string) => (e: Event) => setForm((fm) => ({ ...fm!, [k]: (e.currentTarget as HTMLInputElement).value }));

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!form) return;
    setDone(null);
    const ints = ['tokensPerUsd', 'welcomeBonus', 'lowBalanceThreshold', 'criticalBalanceThreshold'];
    for (const k of ints) if (!/^\d+$/.test(form[k].trim())) return setError(`${LABELS[k]}: enter a whole number.`);
    const mult = Number(form.tokenMultiplier);
    if (!Number.isFinite(mult) || mult <= 0) return setError('Token multiplier: enter a number above zero, like 1.5.');
    if (!/^\d+(\.\d{1,2})?$/.test(form.minimumPurchase.trim())) return setError('Minimum purchase: enter dollars and cents, like 5.00.');
    const imageCosts: Record<string, number> = {};
    for (const [m, v] of images) {
      if (!m.trim() && !v.trim()) continue;
      if (!m.trim() || !/^\d+$/.test(v.trim())) return setError('Image costs: every row needs a model name and a whole number of tokens.');
      imageCosts[m.trim()] = Number(v);
    }
    // The API merges image prices per model: a row deleted here is removed with an explicit null.
    const removed = Object.keys(data?.settings.imageCosts ?? {}).filter((m) => !Object.hasOwn(imageCosts, m));
    const settings: Omit<Settings, 'imageCosts'> & { imageCosts: Record<string, number | null> } = {
      tokenMultiplier: mult,
      imageCosts: { ...imageCosts, ...Object.fromEntries(removed.map((m) => [m, null])) },
      tokensPerUsd: Number(form.tokensPerUsd),
      minimumPurchaseCents: Math.round(Number(form.minimumPurchase) * 100),
      welcomeBonus: Number(form.welcomeBonus),
      lowBalanceThreshold: Number(form.lowBalanceThreshold),
      criticalBalanceThreshold: Number(form.criticalBalanceThreshold),
    };
    setBusy(true);
    setError(null);
    try {
      // The route takes the (partial) settings object itself.
      await put('/api/admin/settings', settings);
      setDone('Settings saved.');
      reload();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section id="settings" title="Settings">
      {loadError ? <p class="field-error">Settings could not be loaded: {loadError}</p> : null}
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <Notice tone="success">{done}</Notice>
      {!form && !loadError ? <Spinner /> : null}
      {form ? (
        <form onSubmit={submit} noValidate aria-label="System settings">
          <fieldset disabled={!props.canWrite} class="plain">
            <legend class="sr-only">System settings{props.canWrite ? '' : ' (read-only)'}</legend>
            <div class="form-grid">
              {(['tokenMultiplier', 'tokensPerUsd', 'minimumPurchase', 'welcomeBonus', 'lowBalanceThreshold', 'criticalBalanceThreshold'] as const).map((k) => (
                <Field id={`set-${k}`} label={LABELS[k]} hint={HINTS[k]} key={k}>
                  <input
                    id={`set-${k}`}
                    type="number"
                    step={k === 'tokenMultiplier' ? '0.01' : k === 'minimumPurchase' ? '0.01' : '1'}
                    min={0}
                    inputMode="decimal"
                    value={form[k]}
                    aria-describedby={HINTS[k] ? `set-${k}-hint` : undefined}
                    onInput={set(k)}
                  />
                </Field>
              ))}
            </div>
            <fieldset class="image-costs">
              <legend>Image generation costs (tokens per image)</legend>
              {images.map(([m, v], i) => (
                <div class="row" key={i}>
                  <Field id={`img-model-${i}`} label="Model">
                    <input id={`img-model-${i}`} aria-label={`Model ${i + 1}`} type="text" value={m} onInput={(e) => setImages((rows) => rows.map((r, j) => (j === i ? [e.currentTarget.value, r[1]] : r)))} />
                  </Field>
                  <Field id={`img-cost-${i}`} label="Tokens">
                    <input id={`img-cost-${i}`} aria-label={`Tokens per image for ${m || `model ${i + 1}`}`} type="number" min={0} step={1} value={v} onInput={(e) => setImages((rows) => rows.map((r, j) => (j === i ? [r[0], e.currentTarget.value] : r)))} />
                  </Field>
                  {props.canWrite ? (
                    <button type="button" class="btn btn-quiet btn-small" onClick={() => setImages((rows) => rows.filter((_, j) => j !== i))} aria-label={`Remove ${m || 'this image model'}`}>
                      Remove
                    </button>
                  ) : null}
                </div>
              ))}
              {props.canWrite ? (
                <button type="button" class="btn btn-quiet btn-small" onClick={() => setImages((rows) => [...rows, ['', '']])}>
                  Add image model
                </button>
              ) : null}
            </fieldset>
            {props.canWrite ? (
              <button type="submit" class="btn btn-primary" disabled={busy}>
                {busy ? 'Saving…' : 'Save settings'}
              </button>
            ) : null}
          </fieldset>
        </form>
      ) : null}
    </Section>
  );
}

const LABELS: Record<string, string> = {
  tokenMultiplier: 'Token multiplier',
  tokensPerUsd: 'Tokens per US dollar',
  minimumPurchase: 'Minimum purchase ($)',
  welcomeBonus: 'Welcome bonus (tokens)',
  lowBalanceThreshold: 'Low balance warning below',
  criticalBalanceThreshold: 'Critical balance alert below',
};
const HINTS: Record<string, string | undefined> = {
  tokenMultiplier: 'Billable tokens = actual tokens × this, e.g. 1.5.',
};

const EMPTY_PKG = { name: '', description: '', tokens: '', price: '', stripePriceId: '', popular: false, active: true, sortOrder: '0' };
type PkgForm = typeof EMPTY_PKG;

function PackagesSection(props: { canWrite: boolean }) {
  const { data, error: loadError, reload } = useLoad(() => get<{ packages: Package[] }>('/api/admin/packages'), []);
  const [editing, setEditing] = useState<string | null>(null); // package id, 'new', or null
  const [form, setForm] = useState<PkgForm>(EMPTY_PKG);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const formHeading = useRef<HTMLHeadingElement>(null);
  const pkgs = [...(data?.packages ?? [])].sort((a, b) => (a.sortOrder ?? 0) - (b.sortOrder ?? 0));

  const open = (p: Package | null) => {
    setEditing(p ? p.id : 'new');
    setError(null);
    setDone(null);
    setForm(
      p
        ? {
            name: p.name,
            description: p.description ?? '',
            tokens: String(p.tokens),
            price: (p.priceCents / 100).toFixed(2),
            stripePriceId: p.stripePriceId ?? '',
            popular: !!p.popular,
            active: p.active !== false,
            sortOrder: String(p.sortOrder ?? 0),
          }
        : EMPTY_PKG,
    );
    setTimeout(() => formHeading.current?.focus(), 0);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!form.name.trim()) return setError('Name: required.');
    if (!/^\d+$/.test(form.tokens.trim()) || Number(form.tokens) <= 0) return setError('Tokens: enter a whole number above zero.');
    if (!/^\d+(\.\d{1,2})?$/.test(form.price.trim()) || Number(form.price) <= 0) return setError('Price: enter dollars and cents, like 15.00.');
    if (!/^-?\d+$/.test(form.sortOrder.trim())) return setError('Sort order: enter a whole number.');
    const body = {
      name: form.name.trim(),
      description: form.description.trim(),
      tokens: Number(form.tokens),
      priceCents: Math.round(Number(form.price) * 100),
      stripePriceId: form.stripePriceId.trim(),
      popular: form.popular,
      active: form.active,
      sortOrder: Number(form.sortOrder),
    };
    setBusy(true);
    setError(null);
    try {
      if (editing === 'new') await post('/api/admin/packages', body);
      else await put(`/api/admin/packages/${encodeURIComponent(editing!)}`, body);
      setDone(`Package “${body.name}” saved.`);
      setEditing(null);
      reload();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const field = (k: keyof PkgForm) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    setForm((fm) => ({ ...fm, [k]: t.type === 'checkbox' ? t.checked : t.value }));
  };

  return (
    <Section
      id="packages"
      title="Packages"
      actions={
        props.canWrite ? (
          <button type="button" class="btn btn-secondary btn-small" onClick={() => open(null)}>
            New package
          </button>
        ) : null
      }
    >
      {loadError ? <p class="field-error">Packages could not be loaded: {loadError}</p> : null}
      <Notice tone="success">{done}</Notice>
      {!data && !loadError ? <Spinner /> : null}
      {pkgs.length > 0 ? (
        <DataTable
          label="Packages"
          testId="packages-table"
          rows={pkgs}
          rowKey={(p) => p.id}
          rowAttrs={(p) => ({ class: p.active === false ? 'inactive' : undefined })}
          columns={[
            {
              label: 'Name',
              rowHeader: true,
              cell: (p) => (
                <>
                  {p.name}
                  {p.description ? <span class="hint block">{p.description}</span> : null}
                </>
              ),
            },
            { label: 'Tokens', num: true, cell: (p) => f.tokens(p.tokens) },
            { label: 'Price', num: true, cell: (p) => f.cents(p.priceCents) },
            { label: 'Per 1,000', num: true, cell: (p) => f.per1000(p.priceCents, p.tokens) },
            { label: 'Stripe price id', class: 'mono', cell: (p) => p.stripePriceId || '—' },
            {
              label: 'Flags',
              cell: (p) => (
                <>
                  {p.popular ? <span class="badge badge-info">popular</span> : null} {p.active === false ? <span class="badge badge-muted">inactive</span> : <span class="badge badge-ok">active</span>}
                </>
              ),
            },
            { label: 'Order', num: true, cell: (p) => p.sortOrder ?? 0 },
            props.canWrite && {
              label: 'Actions',
              hiddenLabel: true,
              cell: (p) => (
                <button type="button" class="btn btn-small btn-secondary" onClick={() => open(p)} aria-label={`Edit ${p.name}`}>
                  Edit
                </button>
              ),
            },
          ]}
        />
      ) : null}
      {props.canWrite && editing ? (
        <form class="subform" onSubmit={submit} noValidate aria-labelledby="pkg-form-title">
          <h3 id="pkg-form-title" ref={formHeading} tabIndex={-1}>
            {editing === 'new' ? 'New package' : `Edit ${form.name || 'package'}`}
          </h3>
          <Notice tone="error" assertive>
            {error}
          </Notice>
          <div class="form-grid">
            <Field id="pkg-name" label="Name">
              <input id="pkg-name" type="text" value={form.name} onInput={field('name')} />
            </Field>
            <Field id="pkg-stripe" label="Stripe price id" hint="Starts with price_.">
              <input id="pkg-stripe" type="text" class="mono" value={form.stripePriceId} aria-describedby="pkg-stripe-hint" onInput={field('stripePriceId')} />
            </Field>
            <Field id="pkg-tokens" label="Tokens">
              <input id="pkg-tokens" type="number" min={1} step={1} value={form.tokens} onInput={field('tokens')} />
            </Field>
            <Field id="pkg-price" label="Price ($)">
              <input id="pkg-price" type="number" min={0.01} step="0.01" value={form.price} onInput={field('price')} />
            </Field>
            <Field id="pkg-desc" label="Description" class="span-2">
              <input id="pkg-desc" type="text" value={form.description} onInput={field('description')} />
            </Field>
            <Field id="pkg-order" label="Sort order">
              <input id="pkg-order" type="number" step={1} value={form.sortOrder} onInput={field('sortOrder')} />
            </Field>
            <div class="checks">
              <div class="check">
                <input id="pkg-popular" type="checkbox" checked={form.popular} onChange={field('popular')} />
                <label for="pkg-popular">Mark as popular</label>
              </div>
              <div class="check">
                <input id="pkg-active" type="checkbox" checked={form.active} onChange={field('active')} />
                <label for="pkg-active">Active (offered to users)</label>
              </div>
            </div>
          </div>
          <div class="actions">
            <button type="submit" class="btn btn-primary" disabled={busy}>
              {busy ? 'Saving…' : 'Save package'}
            </button>
            <button type="button" class="btn btn-quiet" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : null}
    </Section>
  );
}

function Json(props: { value: unknown }) {
  if (props.value === null || props.value === undefined) return <span class="muted">—</span>;
  let v = props.value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return <code>{v as string}</code>;
    }
  }
  return <pre class="json">{JSON.stringify(v, null, 1)}</pre>;
}

function AuditSection() {
  const { items, cursor, loading, error, load } = usePaged<AuditEntry>('/api/admin/audit', {}, []);
  return (
    <Section id="audit" title="Audit log" actions={<button type="button" class="btn btn-quiet btn-small" onClick={() => load(false)}>Refresh</button>}>
      <Notice tone="error" assertive>
        {error}
      </Notice>
      {items.length === 0 && !loading && !error ? <p class="empty">No admin actions recorded yet.</p> : null}
      {items.length > 0 ? (
        <DataTable
          label="Audit log"
          testId="audit-table"
          class="stack-table"
          stack
          rows={items}
          rowKey={(a) => a.id}
          columns={[
            { label: 'When', class: 'nowrap', cardLabel: true, cell: (a) => <time dateTime={f.isoDateTime(a.createdAt)}>{f.when(a.createdAt)}</time> },
            { label: 'Who', cardLabel: true, cell: (a) => a.actor?.email ?? a.actorEmail ?? <span class="mono">{a.actor?.id ?? a.actorUserId ?? 'system'}</span> },
            { label: 'Action', cardLabel: true, cell: (a) => <code>{a.action}</code> },
            { label: 'Target', class: 'mono', cardLabel: true, cell: (a) => a.target ?? '—' },
            {
              label: 'Change',
              cell: (a) => (
                <details>
                  <summary>Before and after</summary>
                  <div class="diff">
                    <div>
                      <span class="figure-label">Before</span>
                      <Json value={a.before} />
                    </div>
                    <div>
                      <span class="figure-label">After</span>
                      <Json value={a.after} />
                    </div>
                  </div>
                </details>
              ),
            },
          ]}
        />
      ) : null}
      {loading && !cursor ? <Spinner label="Loading audit log…" /> : null}
      {cursor ? (
        <button type="button" class="btn btn-secondary" onClick={() => !loading && load(true)} aria-disabled={loading}>
          {loading ? 'Loading…' : 'Load more entries'}
        </button>
      ) : null}
    </Section>
  );
}
