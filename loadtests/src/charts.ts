// The report's charts: vega-lite specs compiled to vega and rendered headless to SVG.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Judged } from './row.ts';

export interface Chart {
  file: string;
  title: string;
  svg: string;
}

interface Point {
  model: string;
  connections: number;
  series: string;
  value: number;
  valid: string;
}

function lineChart(title: string, points: Point[], yTitle: string, yScale: 'linear' | 'symlog'): TopLevelSpec {
  const xs = [...new Set(points.map((p) => p.connections))].sort((a, b) => a - b);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 560,
    height: 320,
    background: 'white',
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'connections', type: 'quantitative', title: 'concurrent connections (k6 VUs)', scale: { type: xs.length > 1 ? 'log' : 'linear' }, axis: { values: xs, format: 'd' } },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: { type: yScale } },
      color: { field: 'model', type: 'nominal', title: 'model' },
      strokeDash: { field: 'series', type: 'nominal', title: 'series' },
      shape: { field: 'valid', type: 'nominal', title: 'row', scale: { domain: ['valid', 'invalid'], range: ['circle', 'cross'] } },
      detail: { field: 'series' },
      tooltip: [{ field: 'model' }, { field: 'connections' }, { field: 'series' }, { field: 'value' }, { field: 'valid' }],
    },
  };
}

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function renderCharts(rows: Judged[]): Promise<Chart[]> {
  const base = (r: Judged) => ({ model: r.level.target === 'proxy' ? `${r.model} (proxy)` : r.model, connections: r.level.vus, valid: r.validity.valid ? 'valid' : 'invalid' });
  const latency: Point[] = rows.flatMap((r) => (['p50', 'p90', 'p99'] as const).map((p) => ({ ...base(r), series: p, value: Number(r.figures.latencyMs[p].toFixed(1)) })));
  const memory: Point[] = rows.flatMap((r) => (r.resources.peakMemoryBytes === null ? [] : [{ ...base(r), series: 'peak memory', value: Math.round(r.resources.peakMemoryBytes / 1e6) }]));
  const errors: Point[] = rows.flatMap((r) => [
    { ...base(r), series: 'errors', value: Number(r.figures.errorPercent.toFixed(2)) },
    { ...base(r), series: 'timeouts', value: Number(r.figures.timeoutPercent.toFixed(2)) },
  ]);
  const specs: [string, string, TopLevelSpec][] = [
    ['latency.svg', 'Latency percentiles vs connections', lineChart('Latency percentiles vs connections (floor: 50 ms in Postgres)', latency, 'latency (ms, symlog)', 'symlog')],
    ['memory.svg', 'Peak memory vs connections', lineChart('Peak container memory vs connections', memory, 'peak memory (MB)', 'linear')],
    ['errors.svg', 'Errors vs connections', lineChart('Failed and timed-out requests vs connections', errors, '% of requests', 'linear')],
  ];
  const charts: Chart[] = [];
  for (const [file, title, spec] of specs) charts.push({ file, title, svg: await render(spec) });
  return charts;
}
