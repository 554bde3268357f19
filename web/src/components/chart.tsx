import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { day as fmtDay, tokens as fmtTokens } from '../format';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** Draw as bars (default: a line). */
  bars?: boolean;
  /** Use the right-hand axis (e.g. revenue next to tokens). */
  right?: boolean;
  format?: (v: number) => string;
}

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** Days "YYYY-MM-DD" → unix seconds at UTC midnight (uPlot's x scale is time in seconds). */
const toX = (d: string) => Date.parse(`${d}T00:00:00Z`) / 1000;

/**
 * A uPlot time chart that follows its container's width, with a text summary for screen
 * readers and the same data as a table behind a disclosure.
 */
export function DailyChart(props: { title: string; days: string[]; series: ChartSeries[]; height?: number; rightFormat?: (v: number) => string; emptyText?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const { days, series } = props;

  useEffect(() => {
    const el = box.current;
    if (!el || days.length === 0 || series.every((s) => s.values.every((v) => !v))) return;
    const hasRight = series.some((s) => s.right);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 240,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: true },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      scales: { x: { time: true, range: (_u, min, max) => [min - 43_200, max + 43_200] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] }, ...(hasRight ? { r: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] as uPlot.Range.MinMax } } : {}) },
      axes: [
        { stroke: '#3d4451', grid: { stroke: '#e3e6ec' }, ticks: { stroke: '#c9ced8' } },
        { stroke: '#3d4451', grid: { stroke: '#e3e6ec' }, ticks: { stroke: '#c9ced8' }, size: 56, values: (_u, vals) => vals.map((v) => compact.format(v)) },
        ...(hasRight ? [{ scale: 'r', side: 1, stroke: '#3d4451', grid: { show: false }, size: 60, values: (_u: uPlot, vals: number[]) => vals.map((v) => (props.rightFormat ? props.rightFormat(v) : compact.format(v))) }] : []),
      ],
      series: [
        { label: 'Day', value: (_u, v) => (v == null ? '—' : fmtDay(v)) },
        ...series.map(
          (s): uPlot.Series => ({
            label: s.label,
            stroke: s.color,
            width: s.bars ? 0 : 2,
            fill: s.bars ? s.color + 'cc' : s.color + '1f',
            scale: s.right ? 'r' : 'y',
            paths: s.bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
            points: { show: !s.bars && days.length <= 14 },
            value: (_u, v) => (v == null ? '—' : s.format ? s.format(v) : fmtTokens(v)),
          }),
        ),
      ],
    };
    const data: uPlot.AlignedData = [days.map(toX), ...series.map((s) => s.values)];
    const plot = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: opts.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [days, series]);

  if (days.length === 0 || series.every((s) => s.values.every((v) => !v))) return <p class="empty">{props.emptyText ?? 'No data for this period yet.'}</p>;

  const totals = series.map((s) => `${s.label}: ${(s.format ?? fmtTokens)(s.values.reduce<number>((a, v) => a + (v ?? 0), 0))} in total`).join('; ');
  return (
    <figure class="chart">
      <div ref={box} class="chart-canvas" role="img" aria-label={`${props.title}, ${fmtDay(days[0])} to ${fmtDay(days[days.length - 1])}. ${totals}.`} />
      <details class="chart-table">
        <summary>Show the data as a table</summary>
        <div class="table-wrap" role="region" aria-label={`${props.title} data`} tabIndex={0}>
          <table>
            <caption class="sr-only">{props.title}</caption>
            <thead>
              <tr>
                <th scope="col">Day</th>
                {series.map((s) => (
                  <th scope="col" class="num">
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {days.map((d, i) => (
                <tr key={d}>
                  <th scope="row">{fmtDay(toX(d))}</th>
                  {series.map((s) => (
                    <td class="num">{s.values[i] == null ? '—' : (s.format ?? fmtTokens)(s.values[i]!)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

/** The last `n` days as "YYYY-MM-DD" (UTC), oldest first, so gaps in the data show as zero. */
export function lastDays(n: number, end = new Date()): string[] {
  const out: string[] = [];
  const base = Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate());
  for (let i = n - 1; i >= 0; i--) out.push(new Date(base - i * 86_400_000).toISOString().slice(0, 10));
  return out;
}

/** Lines up rows keyed by day onto `days`, filling missing days with 0. */
export function alignByDay<T extends { day: string }>(rows: T[], days: string[], pick: (r: T) => number): number[] {
  const m = new Map(rows.map((r) => [r.day.slice(0, 10), r]));
  return days.map((d) => {
    const r = m.get(d);
    return r ? pick(r) : 0;
  });
}
