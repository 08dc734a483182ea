// Token lengths of the examples before truncation, with the max length marked.
import type { Histogram } from '../../worker/api';

export function LengthHistogram({ h, maxLength }: { h: Histogram; maxLength: number }) {
  const W = 520;
  const H = 180;
  const pad = { l: 36, r: 8, t: 8, b: 28 };
  const lo = h.edges[0]!;
  const hi = Math.max(h.edges[h.edges.length - 1]!, maxLength + 1);
  const peak = Math.max(...h.counts, 1);
  const x = (v: number) => pad.l + ((v - lo) / Math.max(1, hi - lo)) * (W - pad.l - pad.r);
  const y = (c: number) => H - pad.b - (c / peak) * (H - pad.t - pad.b);
  const cut = maxLength < hi ? x(maxLength) : null;
  return (
    <figure className="histogram">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Token length histogram: ${h.counts.reduce((a, b) => a + b, 0)} examples, lengths ${h.min} to ${h.max}`}>
        <line x1={pad.l} x2={W - pad.r} y1={H - pad.b} y2={H - pad.b} className="axis" />
        {h.counts.map((c, i) => {
          const x0 = x(h.edges[i]!);
          const x1 = x(h.edges[i + 1]!);
          const over = h.edges[i]! >= maxLength;
          return (
            <rect key={i} x={x0 + 0.5} width={Math.max(1, x1 - x0 - 1)} y={y(c)} height={H - pad.b - y(c)} className={over ? 'bar over' : 'bar'}>
              <title>{`${h.edges[i]}–${h.edges[i + 1]! - 1} tokens: ${c}`}</title>
            </rect>
          );
        })}
        {cut !== null && (
          <g className="cut">
            <line x1={cut} x2={cut} y1={pad.t} y2={H - pad.b} />
            <text x={cut - 4} y={pad.t + 10} textAnchor="end">
              max length {maxLength}
            </text>
          </g>
        )}
        <text x={pad.l} y={H - 8} className="tick">
          {lo}
        </text>
        <text x={W - pad.r} y={H - 8} className="tick" textAnchor="end">
          {hi}
        </text>
        <text x={pad.l - 6} y={pad.t + 8} className="tick" textAnchor="end">
          {peak}
        </text>
        <text x={pad.l - 6} y={H - pad.b} className="tick" textAnchor="end">
          0
        </text>
      </svg>
      <figcaption className="muted small">Tokens per example (before truncation). Bars past the line are cut to the max length.</figcaption>
    </figure>
  );
}
