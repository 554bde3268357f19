import { useMemo, useState } from 'preact/hooks';
import { get } from '../../api';
import { DailyChart, type ChartSeries } from '../../components/chart';
import { Section, Spinner } from '../../components/ui';
import * as f from '../../format';
import { useLoad } from '../../hooks/use-load';
import type { DailyAnswer } from './types';

const compactUsd = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** "Usage over time": billable and actual tokens and revenue per day, over a chosen period. */
export function DailySection() {
  const [days, setDays] = useState(30);
  const { data, error, loading } = useLoad(() => get<DailyAnswer>('/api/admin/stats/daily', { days }), [days]);
  const rows = data?.byDay ?? [];
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
