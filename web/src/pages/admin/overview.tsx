import { get } from '../../api';
import { Section, Spinner } from '../../components/ui';
import * as f from '../../format';
import { useLoad } from '../../hooks/use-load';
import type { Stats } from './types';

/** "Overview": running totals (tokens, revenue, purchases, accounts, failures) as a grid of stat cards. */
export function StatsSection() {
  const { data: s, error } = useLoad(() => get<Stats>('/api/admin/stats'), []);
  const cards: [string, string, string?][] = s
    ? [
        ['Billable tokens used', f.tokens(s.totalBillableTokens)],
        ['Actual tokens used', f.tokens(s.totalActualTokens)],
        ['Profit margin', f.percent(s.profitMarginPercent), 'token margin: (billable − actual) ÷ billable tokens; money: see Margin in money'],
        ['Total revenue', f.cents(s.totalRevenueCents)],
        ['Average purchase', f.cents(s.averagePurchaseCents)],
        ['Purchases', f.tokens(s.purchaseCount), s.purchasesPerDay === null || s.purchasesPerDay === undefined ? undefined : `${f.num(s.purchasesPerDay)} per day`],
        ['Active accounts', f.tokens(s.activeAccounts)],
        ['Suspended accounts', f.tokens(s.suspendedAccounts), 'negative balance or dispute'],
        ['Average balance', f.tokens(s.averageBalance), 'tokens'],
        ['Failed: insufficient balance', f.tokens(s.failedInsufficientBalance), 'AI operations refused'],
        ['Failed: spend limit', f.tokens(s.failedSpendLimit), 'AI operations refused by a daily or monthly limit'],
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
