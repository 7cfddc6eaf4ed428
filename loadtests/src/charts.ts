// The report's charts: vega-lite specs compiled to vega and rendered headless to SVG. Sized and
// labelled to be read at 100%: large fonts, log axes with round ticks, the database floor drawn.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Judged } from './row.ts';
import { MODELS } from './models.ts';
import { connectionsHeld, floorMs } from './seed.ts';

export interface Chart {
  file: string;
  title: string;
  svg: string;
}

interface Point {
  model: string;
  target: string;
  connections: number;
  series: string;
  value: number;
  valid: string;
}

/** Round ticks for a log axis: 1-2-5 steps from the decade of `min` up to the first one at or past `max`. */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  const first = 10 ** Math.floor(Math.log10(Math.max(min, 1e-3)));
  for (let decade = first; ticks.length === 0 || ticks.at(-1)! < max; decade *= 10) {
    for (const step of [1, 2, 5]) if (ticks.length === 0 || ticks.at(-1)! < max) ticks.push(Number((decade * step).toPrecision(3)));
  }
  return ticks.filter((t) => t * 2 >= min || t === first);
}

const FONT = { labelFontSize: 14, titleFontSize: 15 };
const CONFIG = {
  axis: { ...FONT, gridOpacity: 0.5 },
  legend: { ...FONT, symbolSize: 160, symbolStrokeWidth: 2.5, symbolType: 'stroke' },
  title: { fontSize: 18 },
  line: { strokeWidth: 2.5 },
  point: { size: 70, filled: true },
};
const PERCENTILES = { domain: ['p50', 'p90', 'p99'], range: ['#1f77b4', '#ff7f0e', '#d62728'] };
const TARGETS = { domain: ['direct', 'via nginx'], range: ['circle', 'square'] };
const VALIDITY = { domain: ['valid', 'invalid'], range: [1, 0.35] };

interface Axis {
  title: string;
  log: boolean;
  ticks?: number[];
}

const xEncoding = (xs: number[]) => ({
  field: 'connections',
  type: 'quantitative',
  title: 'connections held',
  scale: { type: xs.length > 1 ? 'log' : 'linear', ...(xs.length > 1 ? { domain: [xs[0]! / 1.3, xs.at(-1)! * 1.3] } : {}) },
  axis: { values: xs, format: ',d', labelAngle: 0 },
});

const yEncoding = (y: Axis) => ({
  field: 'value',
  type: 'quantitative',
  title: y.title,
  scale: y.log ? { type: 'log', ...(y.ticks ? { domain: [y.ticks[0]!, y.ticks.at(-1)!] } : {}) } : { type: 'linear' },
  axis: y.ticks ? { values: y.ticks, format: ',d' } : {},
});

const legend = { orient: 'top', direction: 'horizontal' };

/** What every chart's points show besides x, y and colour: direct or via nginx by shape, invalid rows faded, a tooltip. */
const pointMarks = (placement: Record<string, string>) => ({
  shape: { field: 'target', type: 'nominal', title: 'target', scale: TARGETS, legend: { ...placement, symbolType: 'circle' } },
  opacity: {
    field: 'valid',
    type: 'ordinal',
    title: 'row',
    scale: VALIDITY,
    sort: VALIDITY.domain,
    legend: { ...placement, symbolType: 'circle' },
  },
  tooltip: ['model', 'target', 'connections', 'series', 'value', 'valid'].map((field) => ({ field })),
});

/** One panel per model: each series a colour, direct and via nginx by shape, invalid rows faded. */
function panels(
  title: string,
  points: Point[],
  y: Axis,
  series: { title: string; scale: { domain: string[]; range: string[] } },
  rule?: { value: number; label: string },
): TopLevelSpec {
  const xs = [...new Set(points.map((p) => p.connections))].sort((a, b) => a - b);
  const color = { field: 'series', type: 'nominal', title: series.title, scale: series.scale, legend };
  // Lines join every level of a series; the points on them say valid or not (faded: invalid).
  const lines = {
    mark: { type: 'line', opacity: 0.7 },
    encoding: { x: xEncoding(xs), y: yEncoding(y), color, detail: [{ field: 'series' }, { field: 'target' }] },
  };
  const dots = {
    mark: { type: 'point', filled: true, size: 80 },
    encoding: {
      x: xEncoding(xs),
      y: yEncoding(y),
      color,
      ...pointMarks(legend),
    },
  };
  const ruleLayer =
    rule === undefined
      ? []
      : [
          {
            mark: { type: 'rule', color: '#333', strokeDash: [5, 4], strokeWidth: 2 },
            encoding: { y: { datum: rule.value, type: 'quantitative' } },
          },
          {
            mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -3, fontSize: 13, color: '#333' },
            encoding: { y: { datum: rule.value, type: 'quantitative' }, x: { value: 'width' }, text: { value: rule.label } },
          },
        ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    background: 'white',
    config: {
      ...CONFIG,
      legend: { ...CONFIG.legend, symbolType: 'stroke' },
      header: { labelFontSize: 16, labelFontWeight: 'bold', title: null },
    },
    data: { values: points },
    facet: { field: 'model', type: 'nominal', title: null, sort: MODEL_ORDER() },
    columns: 4,
    spec: { width: 270, height: 240, layer: [lines, dots, ...ruleLayer] },
    resolve: { axis: { x: 'independent', y: 'independent' } },
  } as TopLevelSpec;
}

/** Memory of every model on one chart: a colour per model, direct and via nginx by shape. */
function memoryChart(title: string, points: Point[], y: Axis): TopLevelSpec {
  const xs = [...new Set(points.map((p) => p.connections))].sort((a, b) => a - b);
  const color = {
    field: 'model',
    type: 'nominal',
    title: 'model',
    sort: MODEL_ORDER(),
    scale: { scheme: 'tableau10' },
    legend: { orient: 'right', symbolType: 'stroke' },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 720,
    height: 420,
    background: 'white',
    config: CONFIG,
    data: { values: points },
    layer: [
      {
        mark: { type: 'line', opacity: 0.8 },
        encoding: {
          x: xEncoding(xs),
          y: yEncoding(y),
          color,
          strokeDash: {
            field: 'series',
            type: 'nominal',
            title: 'memory',
            scale: {
              domain: ['peak', 'over idle'],
              range: [
                [1, 0],
                [6, 4],
              ],
            },
            legend: { orient: 'right', symbolType: 'stroke', symbolStrokeColor: 'black' },
          },
          detail: [{ field: 'series' }, { field: 'target' }],
        },
      },
      {
        mark: { type: 'point', filled: true, size: 80 },
        encoding: {
          x: xEncoding(xs),
          y: yEncoding(y),
          color,
          ...pointMarks({ orient: 'right' }),
        },
      },
    ],
  } as TopLevelSpec;
}

const MODEL_ORDER = () => MODELS.map((m) => m.name);

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function renderCharts(rows: Judged[]): Promise<Chart[]> {
  const base = (r: Judged) => ({
    model: r.model,
    target: r.level.target === 'proxy' ? 'via nginx' : 'direct',
    connections: connectionsHeld(r),
    valid: r.validity.valid ? 'valid' : 'invalid',
  });
  // A level with no answered request has no latency: leave it out rather than draw a zero.
  const latency: Point[] = rows.flatMap((r) =>
    (['p50', 'p90', 'p99'] as const).flatMap((p) =>
      r.figures.latencyMs[p] > 0 ? [{ ...base(r), series: p, value: Number(r.figures.latencyMs[p].toFixed(1)) }] : [],
    ),
  );
  const memory: Point[] = rows.flatMap((r) => {
    const peak = r.resources.peakMemoryBytes;
    const over = r.resources.memoryOverBaselineBytes;
    return [
      ...(peak === null ? [] : [{ ...base(r), series: 'peak', value: Math.max(1, Math.round(peak / 1e6)) }]),
      ...(over === null || over === undefined ? [] : [{ ...base(r), series: 'over idle', value: Math.max(1, Math.round(over / 1e6)) }]),
    ];
  });
  const errors: Point[] = rows.flatMap((r) => [
    { ...base(r), series: 'errors', value: Number(r.figures.errorPercent.toFixed(2)) },
    { ...base(r), series: 'timeouts', value: Number(r.figures.timeoutPercent.toFixed(2)) },
  ]);
  const floor = Math.min(...rows.map((r) => floorMs(r)));
  const latencyTicks = logTicks(Math.min(floor / 2, ...latency.map((p) => p.value)), Math.max(floor * 2, ...latency.map((p) => p.value)));
  const memoryTicks = logTicks(Math.min(10, ...memory.map((p) => p.value)), Math.max(100, ...memory.map((p) => p.value)));
  const specs: [string, string, TopLevelSpec][] = [
    [
      'latency.svg',
      'Latency percentiles vs connections',
      panels(
        'Latency p50 / p90 / p99 vs connections held, per model',
        latency,
        { title: 'latency (ms, log scale)', log: true, ticks: latencyTicks },
        { title: 'percentile', scale: PERCENTILES },
        { value: floor, label: `floor ${floor} ms` },
      ),
    ],
    [
      'memory.svg',
      'Peak memory vs connections',
      memoryChart('Container memory vs connections held', memory, { title: 'memory (MB, log scale)', log: true, ticks: memoryTicks }),
    ],
    [
      'errors.svg',
      'Errors vs connections',
      panels(
        'Failed and timed-out requests vs connections held, per model',
        errors,
        { title: '% of requests', log: false },
        { title: 'requests', scale: { domain: ['errors', 'timeouts'], range: ['#d62728', '#9467bd'] } },
      ),
    ],
  ];
  const charts: Chart[] = [];
  for (const [file, title, spec] of specs) charts.push({ file, title, svg: await render(spec) });
  return charts;
}
