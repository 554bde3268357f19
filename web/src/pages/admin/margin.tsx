// "Margin in money" (issue 10): revenue of the tokens used (at the price paid) against the
// provider's cost, per model, per operation and per day, from the rollups. The seed's token
// margin stays in the overview and the breakdown, labelled "token margin".
import { get } from '../../api';
import { DateRangeForm, useDateRange } from '../../components/date-range';
import { DataTable, Section, Spinner } from '../../components/ui';
import * as f from '../../format';
import { useLoad } from '../../hooks/use-load';
import type { MarginAnswer, MoneyMargin } from './types';

const usdFine = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 4 });
const usd = (micros: number) => usdFine.format(micros / 1_000_000);

export function MarginSection() {
  const dates = useDateRange();
  const { data, error, loading } = useLoad(() => get<MarginAnswer>('/api/admin/stats/margin', dates.range), [dates.range]);
  const t = data?.totals;
  return (
    <Section id="margin" title="Margin in money">
      <DateRangeForm idPrefix="mg" label="Date range for the margin in money" state={dates} />
      {error ? <p class="field-error">The margin could not be loaded: {error}</p> : null}
      {loading && !data ? <Spinner /> : null}
      {t ? (
        <>
          <dl class="stat-grid" data-testid="margin-totals">
            <div class="stat">
              <dt>Revenue</dt>
              <dd>
                <span class="stat-value">{usd(t.revenueMicros)}</span>
                <span class="stat-sub">tokens used ÷ tokens per USD</span>
              </dd>
            </div>
            <div class="stat">
              <dt>Provider cost</dt>
              <dd>
                <span class="stat-value">{usd(t.providerCostMicros)}</span>
              </dd>
            </div>
            <div class="stat">
              <dt>Margin</dt>
              <dd>
                <span class="stat-value">{usd(t.marginMicros)}</span>
                <span class="stat-sub">{f.percent(t.marginPercent)} of revenue</span>
              </dd>
            </div>
          </dl>
          <div class="grid-2 tight">
            <MoneyTable title="By model" label="Model" testId="margin-models-table" rows={data!.byModel.map((r) => ({ ...r, name: r.model }))} />
            <MoneyTable title="By operation" label="Operation" testId="margin-operations-table" rows={data!.byOperation.map((r) => ({ ...r, name: r.operation }))} />
          </div>
          <MoneyTable title="By day" label="Day" testId="margin-days-table" rows={data!.byDay.filter((r) => r.requests > 0).map((r) => ({ ...r, name: r.day }))} />
        </>
      ) : null}
    </Section>
  );
}

function MoneyTable(props: { title: string; label: string; testId: string; rows: (MoneyMargin & { name: string })[] }) {
  return (
    <div>
      <h3>{props.title}</h3>
      {props.rows.length === 0 ? <p class="empty">No usage in this range.</p> : null}
      {props.rows.length > 0 ? (
        <DataTable
          label={`Margin ${props.title.toLowerCase()}`}
          testId={props.testId}
          class="compact"
          rows={props.rows}
          rowKey={(r) => r.name}
          columns={[
            { label: props.label, rowHeader: true, cell: (r) => r.name },
            { label: 'Requests', num: true, cell: (r) => f.tokens(r.requests) },
            { label: 'Revenue', num: true, cell: (r) => usd(r.revenueMicros) },
            { label: 'Provider cost', num: true, cell: (r) => usd(r.providerCostMicros) },
            { label: 'Margin', num: true, cell: (r) => usd(r.marginMicros) },
            { label: 'Margin %', num: true, cell: (r) => f.percent(r.marginPercent) },
          ]}
        />
      ) : null}
    </div>
  );
}
