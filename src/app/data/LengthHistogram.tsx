// Token lengths of the examples before truncation, with the max length marked.
import { useEffect, useRef, useState } from 'react';
import type { Histogram } from '../../worker/api';

export function LengthHistogram({ h, maxLength }: { h: Histogram; maxLength: number }) {
  // Drawn at the width it is shown at, so its 11 px labels stay 11 px on a phone too.
  const ref = useRef<HTMLElement>(null);
  const [W, setW] = useState(520);
  useEffect(() => {
    const el = ref.current!;
    const ro = new ResizeObserver(() => {
      if (el.clientWidth > 0) setW(Math.round(Math.min(640, Math.max(260, el.clientWidth))));
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const H = 180;
  const pad = { l: 36, r: 8, t: 8, b: 28 };
  // The x axis reaches down to the max length when it is shorter than every example.
  const lo = Math.min(h.edges[0]!, maxLength);
  const hi = Math.max(h.edges[h.edges.length - 1]!, maxLength + 1);
  const peak = Math.max(...h.counts, 1);
  const x = (v: number) => pad.l + ((v - lo) / Math.max(1, hi - lo)) * (W - pad.l - pad.r);
  const y = (c: number) => H - pad.b - (c / peak) * (H - pad.t - pad.b);
  // The max-length line, kept inside the plot (a max length under the shortest example sits at
  // its left edge); its label goes on the side of the line that has room for it.
  const cut = maxLength < hi ? Math.max(pad.l, x(maxLength)) : null;
  const cutLabel = `max length ${maxLength}`;
  const labelWidth = cutLabel.length * 6.5; // 11 px type
  const labelLeft = cut !== null && cut - 4 - labelWidth >= pad.l;
  return (
    <figure className="histogram" ref={ref}>
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
            <text x={labelLeft ? cut - 4 : cut + 4} y={pad.t + 10} textAnchor={labelLeft ? 'end' : 'start'}>
              {cutLabel}
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
