import { get } from '../../api';
import { DateRangeForm, useDateRange } from '../../components/date-range';
import { DataTable, Section, Spinner } from '../../components/ui';
import * as f from '../../format';
import { useLoad, type Loaded } from '../../hooks/use-load';
import type { BreakdownTotals, ModelsAnswer, OperationsAnswer } from './types';

/** "Models and operations": usage per model and per operation over a date range (the last 30 days at first). */
export function BreakdownSection() {
  const dates = useDateRange();
  const { range } = dates;
  const models = useLoad(() => get<ModelsAnswer>('/api/admin/stats/models', range), [range]);
  const ops = useLoad(() => get<OperationsAnswer>('/api/admin/stats/operations', range), [range]);
  return (
    <Section id="breakdown" title="Models and operations">
      <DateRangeForm idPrefix="bd" label="Date range for models and operations" state={dates} />
      <div class="grid-2 tight">
        <UsageTable title="By model" label="Model" testId="models-table" state={models} rows={models.data?.models.map((r) => ({ ...r, name: r.model }))} />
        <UsageTable title="By operation" label="Operation" testId="operations-table" state={ops} rows={ops.data?.operations.map((r) => ({ ...r, name: r.operation }))} />
      </div>
    </Section>
  );
}

/** One breakdown table; `rows` are the answer's rows, each named by its model or operation. */
function UsageTable(props: { title: string; label: string; testId: string; state: Loaded<unknown>; rows: (BreakdownTotals & { name: string })[] | undefined }) {
  const { data, error, loading } = props.state;
  const items = props.rows ?? [];
  const { label } = props;
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
          rowKey={(r) => r.name}
          columns={[
            { label, rowHeader: true, cell: (r) => r.name },
            { label: 'Requests', num: true, cell: (r) => f.tokens(r.requests) },
            { label: 'Actual', num: true, cell: (r) => f.tokens(r.actualTokens) },
            { label: 'Billable', num: true, cell: (r) => f.tokens(r.billableTokens) },
            { label: 'Failures', num: true, cell: (r) => f.tokens(r.failures) },
            { label: 'Token margin', num: true, cell: (r) => f.percent(r.profitMarginPercent) },
          ]}
        />
      ) : null}
    </div>
  );
}
