import { useMemo } from 'preact/hooks';
import { get, type Usage } from '../../api';
import { DailyChart, type ChartSeries } from '../../components/chart';
import { DataTable, Section, Spinner } from '../../components/ui';
import * as f from '../../format';
import { useLoad } from '../../hooks/use-load';

/** "Usage, last 30 days": tokens per day, with breakdowns by operation and by model. */
export function UsageSection() {
  const { data: usage, error } = useLoad(() => get<Usage>('/api/account/usage', { days: 30 }), []);
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
              <Breakdown title="By operation" rows={usage.byOperation.map((r) => [r.operation, r.requests, r.billableTokens, r.cachedInputTokens, r.reasoningTokens])} />
              <Breakdown title="By model" rows={usage.byModel.map((r) => [r.model, r.requests, r.billableTokens, r.cachedInputTokens, r.reasoningTokens])} />
            </div>
          ) : null}
        </>
      ) : null}
    </Section>
  );
}

/** Rows: name, requests, tokens billed, and of the model's tokens the cached-input and reasoning ones. */
function Breakdown(props: { title: string; rows: [string, number, number, number, number][] }) {
  return (
    <DataTable
      label={props.title}
      caption={props.title}
      class="compact"
      rows={props.rows}
      rowKey={([k]) => k}
      columns={[
        { label: props.title.replace(/^By /, '').replace(/^./, (c) => c.toUpperCase()), rowHeader: true, cell: ([k]) => k },
        { label: 'Requests', num: true, cell: ([, r]) => f.tokens(r) },
        { label: 'Tokens', num: true, cell: ([, , t]) => f.tokens(t) },
        { label: 'Cached', num: true, cell: ([, , , c]) => f.tokens(c) },
        { label: 'Reasoning', num: true, cell: ([, , , , r]) => f.tokens(r) },
      ]}
    />
  );
}
