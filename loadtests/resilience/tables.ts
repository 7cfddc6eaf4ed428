// resilience.md: one table per failure mode, per model, direct and through nginx, every figure
// from the run. The same conventions as the load report (loadtests/src/report.ts): a header
// with the run, host and commit, escaped cells, sizes in MB, and a list of the raw files.
import type { OutageResult, OverloadRow, ShutdownResult, SlowlorisRow } from './experiments.ts';
import type { WindowFigures } from './timeline.ts';
import type { HostDescription } from '../src/docker.ts';

export interface RunInfo {
  startedAt: string;
  finishedAt: string;
  experiments: string[];
  models: string[];
  host: HostDescription;
  gitCommit: string;
  k6Image: string;
  project: string;
  notes: string[];
}

export const mb = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? 'n/a' : `${Math.round(bytes / 1e6)} MB`);
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const line = (cells: (string | number | null)[]) => `| ${cells.map((c) => cell(c === null ? 'n/a' : String(c))).join(' | ')} |`;
const rule = (n: number) => `|${'---|'.repeat(n)}`;
const msOr = (v: number | null | undefined, none = 'n/a') => (v === null || v === undefined ? none : `${Math.round(v)} ms`);
const via = (target: string) => (target === 'proxy' ? 'via nginx' : 'direct');

/** "200×120, 503×30, timeout×2", most frequent first. */
export function outcomes(f: WindowFigures): string {
  const entries = Object.entries(f.outcomes).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([o, n]) => `${o}×${n}`).join(', ');
}

function failures(f: WindowFigures): string {
  if (f.failed === 0) return 'none';
  return `${f.failed} failed, ${f.failureMs.p50} / ${f.failureMs.p99} / ${f.failureMs.max} ms`;
}

/** A table as data: each column's header beside how a row fills its cell. */
type Column<R> = readonly [header: string, cell: (row: R) => string | number | null];

function table<R>(columns: readonly Column<R>[], rows: readonly R[]): string[] {
  return [line(columns.map(([header]) => header)), rule(columns.length), ...rows.map((r) => line(columns.map(([, cell]) => cell(r))))];
}

/** "503×3 (max 12 ms)": what requests of a window got, with the slowest failure. */
const outcomesWithMax = (f: WindowFigures) => `${outcomes(f)}${f.failed > 0 ? ` (max ${f.failureMs.max} ms)` : ''}`;

export function slowlorisTable(rows: SlowlorisRow[]): string[] {
  return table<SlowlorisRow>(
    [
      ['model', (r) => r.model],
      ['target', (r) => via(r.target)],
      ['slow conns (opened)', (r) => `${r.connections} (${r.result.opened})`],
      ['pool', (r) => r.poolSize ?? 'unbounded'],
      [
        'probe after 3 s',
        ({ result: { probe: p } }) => (p.status === null ? `no answer in ${p.ms} ms (${p.error ?? ''})` : `${p.status} in ${p.ms} ms`),
      ],
      [
        'closed by server (median, answers)',
        ({ result }) => {
          const answers = Object.entries(result.answeredStatuses)
            .map(([s, n]) => `${s}×${n}`)
            .join(', ');
          return result.closedByServer === 0
            ? 'none'
            : `${result.closedByServer} after ${result.medianCloseMs} ms (${answers || 'no bytes'})`;
        },
      ],
      ['peak memory / pids', (r) => `${mb(r.peaks.memoryBytes)} / ${r.peaks.pids ?? 'n/a'}`],
      ['units started', (r) => r.peaks.unitsStarted],
      ['model restarts / OOM kills', (r) => `${r.restarts} / ${r.oomKills}`],
      ['verdict', (r) => `**${r.result.verdict}**`],
      ['seed expects', (r) => r.expected ?? 'no claim'],
      ['vs seed', (r) => r.against],
      ['other containers', (r) => r.isolation],
    ],
    rows,
  );
}

export function outageTable(result: OutageResult): string[] {
  // One row per target; the model's restart and its database connections are the model's.
  type Row = OutageResult['rows'][number] & { m: OutageResult['models'][number] | undefined };
  const perModel = new Map(result.models.map((m) => [m.model, m]));
  return table<Row>(
    [
      ['model', (r) => r.model],
      ['target', (r) => via(r.target)],
      ['VUs', (r) => r.vus],
      ['before: ok / requests', (r) => `${r.before.ok} / ${r.before.requests}`],
      ['during outage: answers', (r) => outcomes(r.during)],
      ['failures: n, p50 / p99 / max', (r) => failures(r.during)],
      ['verdict', (r) => `**${r.verdict}**`],
      ['first 200 after db start', (r) => msOr(r.firstOkMs, 'never')],
      ['all 200 from', (r) => msOr(r.allOkMs, 'never')],
      ['after: ok / requests', (r) => `${r.after.ok} / ${r.after.requests}`],
      ['model restarted', ({ m }) => (m === undefined ? 'n/a' : m.restarted ? '**yes**' : 'no')],
      ['DB conns after / max', ({ m }) => (m === undefined ? 'n/a' : `${m.connectionsAfter ?? 'n/a'} / ${m.maxConnections ?? 'n/a'}`)],
      ['leak', ({ m }) => m?.leak ?? 'n/a'],
    ],
    result.rows.map((r) => ({ ...r, m: perModel.get(r.model) })),
  );
}

export function overloadTable(rows: OverloadRow[]): string[] {
  return table<OverloadRow>(
    [
      ['model', (r) => r.model],
      ['knee (source)', ({ knee }) => `${knee.rate.toFixed(0)}/s${knee.reached ? '' : ' (at least)'} (${knee.source})`],
      ['offered', (r) => `${r.rate}/s${r.capped ? ' (capped)' : ''} for 15 s`],
      ['answers', (r) => outcomes(r.figures)],
      ['ok p50 / p99', ({ figures: { okMs } }) => `${msOr(okMs.p50)} / ${msOr(okMs.p99)}`],
      ['peak memory / limit', (r) => `${mb(r.peakMemoryBytes)} / ${mb(r.memoryLimitBytes)}`],
      ['units started / peak pids', (r) => `${r.unitsStarted ?? 'n/a'} / ${r.pidsPeak ?? 'n/a'}`],
      ['restarts / OOM kills', (r) => `${r.restarts} / ${r.oomKills}`],
      ['healthy again after', (r) => msOr(r.recoveredMs, 'not within 60 s')],
      ['verdict', (r) => `**${r.verdict}**${r.droppedNote ? ` (${r.droppedNote})` : ''}`],
      ['other containers during it', (r) => r.isolation],
    ],
    rows,
  );
}

export function shutdownTable(results: ShutdownResult[]): string[] {
  // One row per target; the stop itself (its time, exit code, restart) is the model's.
  type Row = ShutdownResult['rows'][number] & { stop: ShutdownResult };
  return table<Row>(
    [
      ['model', (r) => r.model],
      ['target', (r) => via(r.target)],
      ['VUs', (r) => r.vus],
      ['in flight at stop', (r) => outcomes(r.inFlight)],
      ['sent while draining', (r) => outcomesWithMax(r.duringStop)],
      ['sent while stopped', (r) => outcomesWithMax(r.whileDown)],
      ['stop took / exit code', ({ stop: s }) => `${s.stopMs} ms / ${s.exitCode}${s.oomKilled ? ' (OOM)' : ''}`],
      ['healthy after start', (r) => msOr(r.stop.healthyAfterStartMs, 'not within 60 s')],
      ['first 200 after start', (r) => msOr(r.firstOkAfterStartMs, 'never')],
      ['verdict', (r) => `**${r.verdict}**`],
      ['other containers', (r) => r.stop.isolation],
    ],
    results.flatMap((stop) => stop.rows.map((r) => ({ ...r, stop }))),
  );
}

export interface ReportParts {
  slowloris?: SlowlorisRow[];
  outage?: OutageResult;
  overload?: OverloadRow[];
  shutdown?: ShutdownResult[];
}

export function renderResilience(info: RunInfo, parts: ReportParts, settings: Record<string, number>): string {
  const lines = [
    '# Resilience report',
    '',
    'The failure modes, measured: each experiment hurts one thing on purpose (slow clients, the database, too much load, a stopped container) and records what the models did and whether everything else kept answering.',
    '',
    `- Run: ${info.startedAt} to ${info.finishedAt} (UTC), experiments: ${info.experiments.join(', ')}, models: ${info.models.join(', ')}, compose project ${info.project}`,
    `- Host: ${info.host.cores} cores, ${mb(info.host.memoryBytes)} memory, ${info.host.os}, kernel ${info.host.kernel}, Docker ${info.host.dockerVersion}`,
    `- Load: ${info.k6Image} with the per-request log (loadtests/k6/timeline.js); Slowloris: loadtests/resilience/slowloris.ts from the runner container`,
    "- Direct clients of prefork and blocking send `Connection: close` (a worker owns its connection until it closes: one keep-alive client would keep the blocking baseline's only worker to itself; nginx does the same towards them). Every other client keeps its connection alive.",
    `- Commit: ${info.gitCommit}`,
    ...info.notes.map((n) => `- ${n}`),
    '',
    '"Other containers" lists every other container of the project (db, the other models, nginx): each was probed once a second during the experiment (a model\'s /healthz, nginx\'s /nginx-health, one Postgres query, 2 s limit) and its restart count and health compared before and after.',
    '',
  ];
  if (parts.slowloris !== undefined) {
    lines.push(
      '## Slowloris',
      '',
      `Per model, N connections send a request line and then one header line a second, never the end of the headers, for ${settings.slowlorisHoldS} s; ${settings.slowlorisProbeAfterS} s in, one normal \`GET /db\` must answer within ${settings.slowlorisProbeTimeoutS} s. **survived**: 200 in under 1 s; **degraded**: 200, slower; **down**: no 200. N = 1, the model's pool (units.limit from /model), twice that, 1,000.`,
      '',
      ...slowlorisTable(parts.slowloris),
      '',
    );
  }
  if (parts.outage !== undefined) {
    const o = parts.outage;
    lines.push(
      '## Database outage under load',
      '',
      `Every model, direct and through nginx, under load at once; \`docker stop db\` took ${o.stoppedAt - o.stopBeganAt} ms, it stayed down until ${((o.startedAt - o.stopBeganAt) / 1000).toFixed(1)} s after the stop began, and Postgres answered again ${msOr(o.dbReadyMs, 'never')} after \`docker start\`. "During outage" = requests sent from the stop until the start; a failure is **fast** when its p99 is within 1 s (the services promise a 503 within 1 s), a **hang** when the client (5 s limit) gave up. "DB conns after" = pg_stat_activity 3 s after the load ended, against the model's own maximum then (/model db.maxConnections, read before and after the count: pool max × pools; for forking one per child still alive). nginx: restarts ${o.proxy.after.restartCount - o.proxy.before.restartCount}, health ${o.proxy.after.health}.`,
      '',
      ...outageTable(o),
      '',
    );
  }
  if (parts.overload !== undefined) {
    lines.push(
      '## Overload',
      '',
      `Each model alone, direct, at twice its knee as an open arrival rate (requests keep coming whatever the latency), ${settings.overloadDurationS} s, 5 s client limit. The knee comes from the newest \`make load\` results when they have the model, else from the pool arithmetic; the rate is capped at ${settings.overloadMaxRate}/s (what this host can offer beside the model and Postgres: OVERLOAD_MAX_RATE).`,
      '',
      ...overloadTable(parts.overload),
      '',
    );
  }
  if (parts.shutdown !== undefined) {
    lines.push(
      '## Shutdown under load',
      '',
      `Each model under load direct and through nginx; ${settings.shutdownBeforeS} s in, \`docker stop\` (SIGTERM, then SIGKILL after ${settings.shutdownStopTimeoutS} s), then \`docker start\` ${settings.shutdownDownS} s later. "In flight at stop" = requests sent before the stop and not yet answered when it began: they should all be 200. Requests sent during the drain and while stopped should get a clean refusal (no answer: refused/reset at once, or a JSON 502/503/504 from nginx) and never hang until the 5 s client limit. k6 runs in the host's network and reaches the model on its published loopback port and nginx on its own, as a client of \`make up\` does: a stopped container's port is closed, and nginx gives up connecting to a stopped model after its connect timeout (above).`,
      '',
      ...shutdownTable(parts.shutdown),
      '',
    );
  }
  lines.push(
    '## Files',
    '',
    '- `slowloris.json`, `outage.json`, `overload.json`, `shutdown.json`: every figure of this report (per-request logs in `raw/`)',
    '- `raw/<experiment>-<model>.requests.json`: one entry per request k6 sent (target, start, ms, status, k6 error code)',
    '- `environment.json`: host, versions, commit, settings of each experiment',
    '',
  );
  return lines.join('\n');
}
