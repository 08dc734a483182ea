// A live line chart (uPlot), with its data also in the DOM: the figure carries the point count
// and the values sit in a table for screen readers (and anyone who wants the numbers).
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  /** One value per x; null where the series has no point. */
  values: (number | null)[];
  points?: boolean;
  dash?: number[];
}

interface Props {
  title: string;
  /** Machine-readable name, used in data attributes. */
  name: string;
  x: number[];
  series: Series[];
  xLabel?: string;
  format?: (v: number) => string;
  height?: number;
  log?: boolean;
  empty?: string;
}

function withDigits(v: number, digits: number, exponential: boolean): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return !exponential && a >= 0.01 && a < 1e4 ? String(+v.toPrecision(digits)) : v.toExponential(digits - 1);
}

/**
 * Axis labels in the chart's own format, unless two ticks would read the same (a learning rate
 * from 9.5e-4 to 1e-3 is "1.0e-3" three times at two digits): then with as many significant
 * digits as it takes to tell every tick apart.
 */
export function tickLabels(vals: (number | null)[], fmt: (v: number) => string): string[] {
  const labels = vals.map((v) => (v === null ? '' : fmt(v)));
  const distinct = (l: string[]) => new Set(l.filter((x) => x !== '')).size === l.filter((x) => x !== '').length;
  if (distinct(labels)) return labels;
  const exponential = labels.some((l) => /e[+-]?\d/.test(l));
  for (let digits = 2; digits <= 10; digits++) {
    const more = vals.map((v) => (v === null ? '' : withDigits(v, digits, exponential)));
    if (distinct(more)) return more;
  }
  return labels;
}

export function LineChart(props: Props) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const seriesKey = props.series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = host.current!;
    const fmt = props.format ?? ((v: number) => String(+v.toPrecision(4)));
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth || 400),
      height: props.height ?? 200,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: false }, y: props.log ? { distr: 3 } : {} },
      axes: [
        { label: props.xLabel ?? 'step', incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000], stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#e2e8f0' }, labelSize: 18, size: 36 },
        {
          stroke: '#64748b',
          grid: { stroke: '#eef2f7' },
          ticks: { stroke: '#e2e8f0' },
          // Wide enough for the longest label (uPlot draws them in 12 px type).
          size: (_u, values) => Math.max(44, 18 + 7 * Math.max(0, ...(values ?? []).map((v) => String(v ?? '').length))),
          values: (_u, vals) => {
            const labels = tickLabels(vals, fmt);
            // The labels are drawn on a canvas; the figure carries them for tests and tools.
            const text = JSON.stringify(labels);
            if (el.parentElement && el.parentElement.dataset.yTicks !== text) el.parentElement.dataset.yTicks = text;
            return labels;
          },
        },
      ],
      series: [
        { label: props.xLabel ?? 'step' },
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          spanGaps: true,
          dash: s.dash,
          // Dots for sparse series (evals) and for the first few steps, when a line is not yet a line.
          points: { show: s.points ? true : (u: uPlot) => u.data[0].length <= 24, size: 5, fill: s.color },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : fmt(v)),
        })),
      ],
    };
    const u = new uPlot(opts, [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (w > 0 && Math.abs(w - u.width) > 2) u.setSize({ width: w, height: props.height ?? 200 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of series changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [seriesKey, props.log, props.height]);

  useEffect(() => {
    plot.current?.setData([props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData);
  });

  const [tableOpen, setTableOpen] = useState(false);
  const count = props.x.length;
  const fmt = props.format ?? ((v: number) => String(+v.toPrecision(5)));
  return (
    <figure className="chart" aria-label={`${props.title} chart`} data-chart={props.name} data-points={count}>
      <figcaption>{props.title}</figcaption>
      <div ref={host} className="chart-plot" aria-hidden="true" />
      {count === 0 && <div className="chart-empty">{props.empty ?? 'Waiting for the first step…'}</div>}
      <details className="chart-data" onToggle={(e) => setTableOpen(e.currentTarget.open)}>
        <summary>Data table</summary>
        {/* Rendered only while open: a long run has thousands of rows. */}
        {tableOpen && (
        <div className="table-wrap short" tabIndex={0} role="region" aria-label={`${props.title} data table`}>
          <table aria-label={`${props.title} data`}>
            <thead>
              <tr>
                <th scope="col">{props.xLabel ?? 'step'}</th>
                {props.series.map((s) => (
                  <th key={s.label} scope="col">
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {props.x.map((xv, i) => (
                <tr key={i} data-step={xv}>
                  <td className="num">{xv}</td>
                  {props.series.map((s) => {
                    const v = s.values[i];
                    return (
                      <td key={s.label} className="num" data-value={v ?? ''}>
                        {v === null || v === undefined ? '—' : fmt(v)}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        )}
      </details>
    </figure>
  );
}
