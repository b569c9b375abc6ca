/** A uPlot time-series chart: x = seconds since the epoch, one line per series (null = gap). */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

export function Chart(props: { title: string; t: number[]; series: Record<string, (number | null)[]>; unit: string; id?: string; dots?: boolean; empty?: string }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const names = Object.keys(props.series);
  const shape = names.join('|');
  useEffect(() => {
    if (!el.current) return;
    const opts: uPlot.Options = {
      title: props.title,
      width: Math.max(320, Math.min(900, el.current.clientWidth || 600)),
      height: 220,
      // One point (or none) would make uPlot span years: show a minute either side instead.
      scales: { x: { time: true, range: (_u, min, max) => (min === max || min == null ? [(min ?? Date.now() / 1000) - 60, (max ?? Date.now() / 1000) + 60] : [min, max]) } },
      axes: [{}, { label: props.unit, size: 60 }],
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false, ...(props.dots ? { paths: () => null, points: { show: true, size: 7, fill: COLORS[i % COLORS.length] } } : {}) }))],
    };
    plot.current = new uPlot(opts, [props.t, ...names.map((n) => props.series[n]!)] as uPlot.AlignedData, el.current);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, props.title]);
  useEffect(() => {
    plot.current?.setData([props.t, ...names.map((n) => props.series[n]!)] as uPlot.AlignedData);
  }, [props.t, props.series]);
  return (
    <div class="chart" id={props.id}>
      <div ref={el} />
      {props.t.length === 0 || names.length === 0 ? <p class="note">{props.empty ?? 'no samples yet'}</p> : null}
    </div>
  );
}
