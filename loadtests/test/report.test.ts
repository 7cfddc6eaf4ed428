// The runner's pure parts on REAL k6 output (fixtures captured by running loadtests/k6/db-load.js
// with k6 v1.8.1 against the event-loop service): summary parsing, validity, verdicts, report, charts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractSummary, loadFigures } from '../src/k6-summary.ts';
import { everyVuPreallocated, judgeValidity } from '../src/validity.ts';
import { SEED, floorMs, observedBottleneck, verdictFor } from '../src/seed.ts';
import { renderSeedTable } from '../src/seed-table.ts';
import { MODELS } from '../src/models.ts';
import { cpusetsSentence, judgeRows, renderReport } from '../src/report.ts';
import { logTicks, renderCharts } from '../src/charts.ts';
import { envValue } from '../src/docker.ts';
import { pointLatest, writeReport } from '../src/runner.ts';
import type { Environment } from '../src/report.ts';
import type { Row } from '../src/row.ts';
import {
  MODEL_NAMES,
  levelName,
  offeredRate,
  readScenarioFile,
  resolveProfile,
  selectModels,
  type Level,
  type ModelName,
} from '../src/scenarios.ts';
import { parseBytes } from '../src/main.ts';
import { checkRun } from '../src/check-report.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

// How each fixture was produced (the k6 environment given to db-load.js).
const FIXTURES = {
  closed50: {
    file: 'k6-eventloop-50vus.stdout',
    level: { executor: 'constant-vus', vus: 50, thinkTimeS: 0.2, warmupS: 0, durationS: 6, target: 'direct', requestTimeoutS: 10 },
  },
  dropped: {
    file: 'k6-eventloop-rate400-dropped.stdout',
    level: {
      executor: 'constant-arrival-rate',
      vus: 5,
      maxVus: 10,
      rate: 400,
      thinkTimeS: 0,
      warmupS: 0,
      durationS: 5,
      target: 'direct',
      requestTimeoutS: 10,
    },
  },
  errors503: {
    file: 'k6-eventloop-pool2-503s.stdout',
    level: { executor: 'constant-vus', vus: 60, thinkTimeS: 0.1, warmupS: 0, durationS: 5, target: 'direct', requestTimeoutS: 10 },
  },
} as const;

const HOST = { hostCores: 2 };
const GIB4 = 4 * 2 ** 30;

function rowFrom(key: keyof typeof FIXTURES, model: ModelName = 'eventloop', change: (row: Row) => void = () => undefined): Row {
  const { file, level: settings } = FIXTURES[key];
  const level: Level = { ...settings, name: levelName(settings), connections: settings.vus };
  const figures = loadFigures(extractSummary(fixture(file)));
  const row: Row = {
    model,
    level,
    offeredRate: offeredRate(level),
    figures,
    executedQueries: figures.succeeded,
    resources: {
      peakMemoryBytes: 61e6,
      peakRssBytes: 58e6,
      cpuCoresAvg: 0.3,
      cpuCoresPeak: 0.5,
      k6CpuCoresAvg: 0.2,
      k6CpuCoresPeak: 0.3,
      k6PeakMemoryBytes: 40e6,
      hostBusyPercent: 40,
      unitsAlivePeak: 1,
      unitsStarted: 1,
      processesPeak: 1,
      inFlightPeak: 12,
      dbConnectionsPeak: 12,
      dbConnectionsMax: 100,
      restarts: 0,
      oomKills: 0,
      dbRefusals: 0,
      modelProbeFailures: 0,
    },
    limits: {
      claimedCpus: 2,
      claimedMemoryBytes: GIB4,
      declaredCpus: 2,
      declaredMemoryBytes: GIB4,
      cgroupCpus: 2,
      cgroupMemoryBytes: GIB4,
    },
    files: { k6: 'raw/x.json', samples: 'samples/x.json' },
  };
  change(row);
  return row;
}

const ENV: Environment = {
  startedAt: '2026-11-23T19:00:00.000Z',
  finishedAt: '2026-11-23T19:03:00.000Z',
  profile: 'test',
  models: ['eventloop', 'prefork'],
  host: { cores: 2, memoryBytes: 24e9, os: 'Debian', kernel: '6.1', dockerVersion: '20.10', cgroupVersion: '2' },
  modelCpus: 2,
  modelMemoryBytes: GIB4,
  modelCpusRequested: 4,
  containers: {},
  versions: {},
  gitCommit: 'abc123',
  k6Image: 'grafana/k6:1.8.1',
  postgres: { version: 'PostgreSQL 15.x on x86_64', maxConnections: 2000 },
};

test('the summary k6 printed is parsed into the row figures', () => {
  const f = loadFigures(extractSummary(fixture(FIXTURES.closed50.file)));
  assert.equal(f.requests, 1058);
  assert.equal(f.succeeded, 1058);
  assert.equal(f.errorPercent, 0);
  assert.equal(f.droppedIterations, 0);
  assert.equal(f.newConnections, 50, 'one keep-alive connection per VU');
  assert.equal(f.vusMax, 50);
  assert.ok(f.latencyMs.p50 >= 50, `p50 ${f.latencyMs.p50} is at least the 50 ms floor`);
  assert.ok(f.latencyMs.p50 <= f.latencyMs.p90 && f.latencyMs.p90 <= f.latencyMs.p99);
  assert.ok(Math.abs(f.requestsPerSecond - 168.4) < 0.1);
});

test('failed requests are counted from the checks, 503s and dropped iterations from their metrics', () => {
  const errors = loadFigures(extractSummary(fixture(FIXTURES.errors503.file)));
  assert.equal(errors.requests, 1390);
  assert.equal(errors.succeeded, 175);
  assert.equal(errors.unavailable503, 1215);
  assert.ok(Math.abs(errors.errorPercent - (100 * 1215) / 1390) < 1e-9);
  const dropped = loadFigures(extractSummary(fixture(FIXTURES.dropped.file)));
  assert.equal(dropped.droppedIterations, 1331);
});

test('output without a summary is an error, not an empty row', () => {
  assert.throws(() => extractSummary('k6 crashed before the end\n'), /no summary/);
});

test('a clean row is valid', () => {
  assert.deepEqual(judgeValidity(rowFrom('closed50'), HOST), { valid: true, reasons: [] });
});

test('dropped iterations make a row invalid while k6 had VUs left to allocate', () => {
  const v = judgeValidity(rowFrom('dropped'), HOST);
  assert.equal(v.valid, false);
  assert.match(v.reasons.join(), /k6 dropped 1331 iterations/);
});

test('dropped iterations with every VU allocated before the level are the model holding them all: a result, not a reason', () => {
  const row = rowFrom('dropped', 'eventloop', (r) => {
    r.level = { ...r.level, vus: 10, maxVus: 10 };
  });
  assert.equal(row.figures.droppedIterations, 1331);
  assert.deepEqual(judgeValidity(row, HOST), { valid: true, reasons: [] });
  // A closed-model level has no such guarantee.
  assert.equal(everyVuPreallocated({ ...row.level, executor: 'constant-vus' }), false);
});

test('more queries than requests sent makes a row invalid (between succeeded and sent is wasted work: runner-plan.test.ts)', () => {
  const r0 = rowFrom('closed50', 'eventloop', (r) => {
    r.executedQueries = r.figures.succeeded + 3;
  });
  const v = judgeValidity(r0, HOST);
  assert.equal(v.valid, false);
  assert.equal(r0.figures.requests, r0.figures.succeeded); // every request of the fixture succeeded: +3 is more than sent
  assert.match(v.reasons.join(), /executed 1061 world queries for 1058 requests sent \(more than sent\)/);
});

test('limits other than the claimed ones make a row invalid', () => {
  const cpu = judgeValidity(
    rowFrom('closed50', 'eventloop', (r) => {
      r.limits.cgroupCpus = 1;
    }),
    HOST,
  );
  assert.equal(cpu.valid, false);
  assert.match(cpu.reasons.join(), /CPU limit is 1 cores in the container's cgroup, the report claims 2/);
  const memory = judgeValidity(
    rowFrom('closed50', 'eventloop', (r) => {
      r.limits.cgroupMemoryBytes = null;
    }),
    HOST,
  );
  assert.match(memory.reasons.join(), /memory limit is unlimited/);
  const unread = judgeValidity(
    rowFrom('closed50', 'eventloop', (r) => {
      r.limits.cgroupCpus = null;
      r.limits.cgroupMemoryBytes = null;
    }),
    HOST,
  );
  assert.match(unread.reasons.join(), /could not be read/);
});

test('a saturated generator, or a refusing database, makes a row invalid', () => {
  const k6 = judgeValidity(
    rowFrom('closed50', 'eventloop', (r) => {
      r.resources.k6CpuCoresAvg = 1.9;
    }),
    HOST,
  );
  assert.match(k6.reasons.join(), /k6 was CPU-saturated: 1.90 of 2 cores/);
  const db = judgeValidity(
    rowFrom('closed50', 'eventloop', (r) => {
      r.resources.dbRefusals = 4;
    }),
    HOST,
  );
  assert.match(db.reasons.join(), /refused 4 connections/);
});

test('verdicts hold the row against the seed claim with the figure', () => {
  const failing = verdictFor(rowFrom('errors503'));
  assert.equal(failing.verdict, 'refuted', 'event loop with 87% errors does not "handle all"');
  assert.match(failing.figure, /errors 87\.4%/);
  const forking = verdictFor(rowFrom('errors503', 'forking'));
  assert.equal(forking.verdict, 'confirmed', 'process-per-request failing is what the seed says');
  const prefork = verdictFor(rowFrom('closed50', 'prefork'));
  assert.equal(prefork.verdict, 'differs', 'offered rate below the cap cannot confirm "capped at 100"');
  assert.match(prefork.figure, /below the cap's 2000\/s/);
});

test('the observed bottleneck is read from the evidence', () => {
  assert.match(observedBottleneck(rowFrom('errors503'), 2, 2), /^503s \(1215\)/);
  const atCap = rowFrom('closed50', 'prefork', (r) => {
    r.resources.inFlightPeak = 100;
    r.resources.dbConnectionsMax = 100;
  });
  assert.match(observedBottleneck(atCap, 2, 2), /in flight at its cap \(100\)/);
  const single = rowFrom('closed50', 'blocking', (r) => {
    r.resources.inFlightPeak = 1;
    r.resources.dbConnectionsMax = 1;
  });
  assert.equal(observedBottleneck(single, 2, 2), 'one request at a time (single worker)');
  assert.equal(
    observedBottleneck(
      rowFrom('closed50', 'forking', (r) => {
        r.resources.oomKills = 1;
      }),
      2,
      2,
    ),
    'memory (OOM kill)',
  );
});

test('scenarios: profiles resolve, smoke stays under 3 minutes for all models, unknown names are refused', () => {
  const file = readScenarioFile();
  const models = selectModels(file, '');
  assert.equal(models.length, 7); // models.json's list since goroutines
  assert.deepEqual(models, [...MODEL_NAMES]);
  const smoke = resolveProfile(file, 'smoke');
  const perModel = smoke.levels.reduce((s, l) => s + l.warmupS + l.durationS + 2 * 3, 0);
  assert.ok(perModel * models.length < 150, `smoke load time ${perModel * models.length}s leaves room for start-up in 3 minutes`);
  const full = resolveProfile(file, 'full');
  assert.deepEqual(
    full.levels.map((l) => l.name),
    ['100vus', '500vus', '1000vus', '2000vus', '5000vus', '5000vus-proxy'],
  );
  assert.ok(full.levels.every((l) => l.thinkTimeS > 0 && l.executor === 'constant-vus'));
  assert.throws(() => resolveProfile(file, 'huge'), /unknown PROFILE "huge"/);
  assert.throws(() => selectModels(file, 'eventloop,nodejs'), /unknown MODELS nodejs/);
  assert.deepEqual(selectModels(file, 'prefork, eventloop'), ['eventloop', 'prefork']);
  assert.ok(Math.abs(offeredRate(full.levels[4]!) - 5000 / 1.05) < 1e-9);
  assert.equal(parseBytes('4g'), 4 * 2 ** 30);
  assert.equal(parseBytes('512m'), 512 * 2 ** 20);
});

test('the report has the per-model table with claims, verdicts and validity for every row', () => {
  const rows = judgeRows([rowFrom('closed50'), rowFrom('dropped', 'prefork')], ENV);
  const md = renderReport(resolveProfile(readScenarioFile(), 'smoke'), ENV, rows, [{ file: 'latency.svg', title: 'Latency', svg: '' }]);
  assert.match(md, /Limits clamped:.*4 CPUs.*2 cores.*\*\*2 CPUs\*\*/);
  const [beforeTail = '', fromTail = ''] = md.split('## Where the time went');
  const withoutTail = beforeTail + fromTail.slice(fromTail.indexOf('## Every level'));
  const tableRows = withoutTail.split('\n').filter((l) => l.startsWith('| eventloop') || l.startsWith('| prefork'));
  assert.equal(tableRows.length, 6, "two models in the seed's table, the summary and the every-level tables");
  for (const line of tableRows) assert.match(line, /\| (valid|\*\*invalid\*\*: .+) \|$/);
  assert.match(md, /\| eventloop \| 50 \| 168 \(200\) \| 68\.3 \/ 121 \/ 531 \| 0 \/ 0 \| 61 MB \|/);
  assert.match(md, /event loop: ~50 MB, handles all 5K; bottleneck: \(blocking syscalls\)/);
  assert.match(md, /prefork at 5 @400\/s: k6 dropped 1331 iterations/);
  assert.match(md, /\(charts\/latency\.svg\)/);
});

test("where the time went: k6's latency beside the model's own bounds and Postgres's execution; rows without them say n/a", () => {
  const timed = rowFrom('closed50', 'eventloop', (r) => {
    r.tail = {
      service: { requests: 4000, p50AtMostMs: 55, p99AtMostMs: 250, over100msPercent: 1.32 },
      dbExecution: { meanMs: 50.08, maxMs: 51.9 },
    };
  });
  const md = renderReport(resolveProfile(readScenarioFile(), 'smoke'), ENV, judgeRows([timed, rowFrom('closed50', 'prefork')], ENV), []);
  const section = md.split('## Where the time went')[1]?.split('## Every level')[0] ?? '';
  assert.match(section, /\| eventloop \| 50 \| 68\.3 \/ 531 \| <= 55\.0 \/ <= 250 \| 1\.32% of 4,000 \| 50\.1 \/ 51\.9 \|/);
  assert.match(section, /\| prefork \| 50 \| 68\.3 \/ 531 \| n\/a \| n\/a \| n\/a \|/);
});

test('rows through the proxy get their own summary table', () => {
  const proxied = rowFrom('closed50', 'eventloop', (r) => {
    r.level = { ...r.level, target: 'proxy', name: '50vus-proxy' };
  });
  const md = renderReport(resolveProfile(readScenarioFile(), 'small'), ENV, judgeRows([rowFrom('closed50'), proxied], ENV), []);
  const section = md.split('## Per model, through the nginx proxy')[1]?.split('## Every level')[0] ?? '';
  assert.match(section, /\| eventloop \| 50 via proxy \|/);
  assert.doesNotMatch(md.split('## Per model, through the nginx proxy')[0] ?? '', /50 via proxy/);
});

test('charts render to SVG files and the report links them; results/latest points at the run', async () => {
  const root = mkdtempSync(join(tmpdir(), 'loadtests-report-'));
  try {
    const runDir = join(root, '20261123T190000Z-test');
    const rows = [
      rowFrom('closed50'),
      rowFrom('errors503', 'forking', (r) => {
        r.level = { ...r.level, vus: 100, name: '100vus' };
      }),
    ];
    const charts = await renderCharts(judgeRows(rows, ENV));
    assert.deepEqual(
      charts.map((c) => c.file),
      ['latency.svg', 'memory.svg', 'errors.svg'],
    );
    for (const c of charts) assert.match(c.svg, /^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const written = await writeReport(runDir, resolveProfile(readScenarioFile(), 'smoke'), ENV, rows);
    assert.deepEqual(readdirSync(join(runDir, 'charts')).sort(), ['errors.svg', 'latency.svg', 'memory.svg']);
    assert.ok(existsSync(join(runDir, 'rows.json')) && existsSync(join(runDir, 'environment.json')));
    assert.match(readFileSync(written.report, 'utf8'), /!\[Peak memory vs connections\]\(charts\/memory\.svg\)/);
    assert.equal(written.invalid, 0);
    assert.deepEqual(checkRun(runDir), [], 'the CI check accepts a complete run');
    rmSync(join(runDir, 'report.md'));
    assert.match(checkRun(runDir).join(), /report\.md is missing/);
    pointLatest(root, '20261123T190000Z-test');
    assert.ok(existsSync(join(root, 'latest', 'rows.json')), 'results/latest leads to the newest run');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the seed claims come from models.json, goroutines and mn included; the floor from the DB delay the model reported', () => {
  assert.equal(SEED.goroutines?.at5k, 'handles all 5K');
  assert.equal(SEED.mn?.memory, SEED.goroutines?.memory, 'M:N in Node is held to the goroutine claim');
  assert.deepEqual(
    Object.keys(SEED),
    MODELS.map((m) => m.name),
  );
  assert.equal(floorMs(undefined), 50, '50 ms only as the fallback');
  const slowDb = rowFrom('closed50', 'eventloop', (r) => {
    r.dbDelayMs = 20;
  });
  assert.equal(floorMs(slowDb), 20);
  assert.equal(floorMs(rowFrom('closed50'), { containers: { eventloop: { db: { delayMs: 30 } } } }), 30);
  // At a 20 ms floor, a 68 ms median is far above the floor: the event loop does not "handle" it.
  assert.notEqual(verdictFor(slowDb).verdict, 'confirmed');
  const capped = verdictFor(
    rowFrom('closed50', 'prefork', (r) => {
      r.dbDelayMs = 100;
    }),
  );
  assert.match(capped.figure, /below the cap's 1000\/s/, 'the cap rate is pool / DB delay');
});

test("the seed's table: the top level per model with server-side connections, memory over idle, DB budget and wasted queries; old rows render n/a", () => {
  const newer = rowFrom('closed50', 'goroutines', (r) => {
    Object.assign(r.level, { connections: 5000, holdConnections: 4950 });
    Object.assign(r.resources, {
      serverConnectionsPeak: 4987,
      baselineMemoryBytes: 20e6,
      memoryOverBaselineBytes: 41e6,
      memoryPerConnectionBytes: 8200,
    });
    r.wastedQueries = 3;
    r.neededInFlight = 9.9;
  });
  const proxied = rowFrom('closed50', 'goroutines', (r) => {
    r.level = { ...r.level, target: 'proxy', name: '50vus-proxy' };
    Object.assign(r.resources, { proxyConnectionsPeak: 4990 });
  });
  const lines = renderSeedTable(judgeRows([rowFrom('closed50'), newer, proxied], ENV));
  assert.match(lines[0]!, /not 5,000/, 'an old row at 50 connections is not the seed level');
  const goroutines = lines.filter((l) => l.startsWith('| goroutines: goroutines (Go net/http'));
  assert.equal(goroutines.length, 2, 'direct and through nginx');
  assert.match(
    goroutines[0]!,
    /\| direct \| 5,000 held by k6, 4,987 server-side \| 61 MB \(over idle 41 MB, per connection 8\.2 KB\) \| differs \(0\.6x the claim\) \|/,
    '61 MB is well under the claimed ~100 MB',
  );
  assert.match(goroutines[0]!, /\/ 3 \| pool 100, in flight peak 12, needed 10 \(200\/s x 50 ms\)/);
  assert.match(goroutines[1]!, /\| via nginx \| 50 held by k6, server-side n\/a, 4,990 at nginx \|/);
  const old = lines.find((l) => l.startsWith('| eventloop: event loop (one thread) |'))!;
  assert.match(old, /61 MB \(over idle and per connection: not recorded\)/);
  assert.match(old, /needed 10 \(200\/s x 50 ms\)/, "without the runner's figure: Little's law on the offered rate");
  assert.match(old, /confirmed \(1\.2x the claim\)/);
  const env = {
    ...ENV,
    profileChoice: { name: 'small', why: 'the host has 2 cores' },
    cpusets: { setting: 'auto', why: 'the host has 2 cores', claimed: { model: '1', measurement: '0' }, read: { eventloop: '1', k6: '0' } },
    workTreeClean: true,
    nodeOptions: { eventloop: '--max-semi-space-size=16', goroutines: null },
  };
  const md = renderReport(resolveProfile(readScenarioFile(), 'smoke'), env, judgeRows([rowFrom('closed50')], env), []);
  assert.match(md, /- Profile: `small`, chosen because the host has 2 cores/);
  assert.match(
    md,
    /cpusets: ISOLATE=auto \(the host has 2 cores\): model on 1, measurement \(k6, Postgres, nginx\) on 0; read back: eventloop 1, k6 0/,
  );
  assert.match(md, /Working tree: clean/);
  assert.match(md, /- NODE_OPTIONS \(read from the containers\): eventloop `--max-semi-space-size=16`, goroutines \(unset\)/);
  assert.doesNotMatch(
    renderReport(resolveProfile(readScenarioFile(), 'smoke'), ENV, judgeRows([rowFrom('closed50')], ENV), []),
    /NODE_OPTIONS/,
  );
});

test("envValue reads one variable of a container's Config.Env, null when unset", () => {
  const env = ['PATH=/usr/local/bin', 'NODE_OPTIONS=--max-semi-space-size=16 --trace-gc', 'NODE_OPTIONS_EXTRA=x', 'EMPTY='];
  assert.equal(envValue(env, 'NODE_OPTIONS'), '--max-semi-space-size=16 --trace-gc');
  assert.equal(envValue(env, 'EMPTY'), '');
  assert.equal(envValue(env, 'NODE'), null);
  assert.equal(envValue(undefined, 'NODE_OPTIONS'), null);
});

test('charts: log latency ticks at 50/100/200/500/1000 ms, the floor drawn and labelled, a legend per percentile', async () => {
  assert.deepEqual(logTicks(25, 1000), [10, 20, 50, 100, 200, 500, 1000]);
  const charts = await renderCharts(
    judgeRows(
      [
        rowFrom('closed50'),
        rowFrom('closed50', 'eventloop', (r) => {
          r.level = { ...r.level, vus: 300, name: '300vus' };
        }),
      ],
      ENV,
    ),
  );
  const latency = charts.find((c) => c.file === 'latency.svg')!.svg;
  for (const tick of ['50', '100', '200', '500']) assert.match(latency, new RegExp(`>${tick}</text>`), `tick ${tick} ms`);
  assert.match(latency, /floor 50 ms/);
  for (const p of ['p50', 'p90', 'p99']) assert.match(latency, new RegExp(`>${p}</text>`), `legend entry ${p}`);
  assert.match(charts.find((c) => c.file === 'memory.svg')!.svg, /memory \(MB, log scale\)/);
});

test("the cpusets sentence says where db's and proxy's pins were read: while pinned, or (older runs) after the lift", () => {
  const cpusets = {
    setting: 'auto',
    why: 'ISOLATE=auto: 2 cores',
    claimed: { model: '1', measurement: '0' },
    read: { db: '0', proxy: '0', eventloop: '1' },
  };
  const pinned = cpusetsSentence({ cpusets: { ...cpusets, measurementReadWhilePinned: true } });
  assert.match(pinned, /read back: db 0, proxy 0, eventloop 1$/);
  const older = cpusetsSentence({ cpusets: { ...cpusets, read: { db: '0-1', proxy: '0-1', eventloop: '1' } } });
  assert.match(
    older,
    /db 0-1 \(read after the run had lifted its pin\), proxy 0-1 \(read after the run had lifted its pin\), eventloop 1$/,
  );
  assert.equal(cpusetsSentence({ cpusets: null }), 'not pinned: the model, k6, Postgres and nginx shared every core');
});
