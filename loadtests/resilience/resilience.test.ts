// The pure parts of the resilience runs: the sweep, the seeds' expectations and the verdicts,
// the per-request log parsing and windows, and the report tables. No Docker needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODELS } from '../src/models.ts';
import { floorSeconds } from './context.ts';
import { pickModels } from './main.ts';
import { vusPerTarget, type OutageResult, type OverloadRow, type ShutdownResult, type SlowlorisRow } from './experiments.ts';
import { outageTable, outcomes, overloadTable, renderResilience, shutdownTable, slowlorisTable, type RunInfo } from './tables.ts';
import { K6_TIMEOUT, figures, parseTimeline, percentile, recovery, windowOf, type RequestRecord } from './timeline.ts';
import {
  againstExpectation,
  isolationVerdict,
  kneeEstimate,
  kneeFromRows,
  leakVerdict,
  outageVerdict,
  overloadRate,
  overloadVerdict,
  requestSlots,
  shutdownVerdict,
  slowlorisExpectation,
  slowlorisSweep,
  type LoadRowLike,
} from './verdicts.ts';

const rec = (target: string, start: number, ms: number, status: number, errorCode = 0): RequestRecord => ({
  target,
  start,
  ms,
  status,
  errorCode,
});

test('the Slowloris sweep: 1, the pool, twice the pool, 1,000, without duplicates', () => {
  assert.deepEqual(slowlorisSweep(40), [1, 40, 80, 1000]);
  assert.deepEqual(slowlorisSweep(1), [1, 2, 1000]);
  assert.deepEqual(slowlorisSweep(null), [1, 1000]);
  assert.deepEqual(slowlorisSweep(0), [1, 1000]);
  assert.deepEqual(slowlorisSweep(500), [1, 500, 1000]);
});

test('the seeds expect a pool of blocking workers to fall direct at its size and survive behind nginx', () => {
  assert.equal(slowlorisExpectation('blocking', 'direct', 1, 1), 'down');
  assert.equal(slowlorisExpectation('prefork', 'direct', 39, 40), 'survived');
  assert.equal(slowlorisExpectation('prefork', 'direct', 40, 40), 'down');
  assert.equal(slowlorisExpectation('prefork', 'proxy', 1000, 40), 'survived');
  assert.equal(slowlorisExpectation('eventloop', 'direct', 1000, 1), 'survived');
  assert.equal(slowlorisExpectation('threaded', 'direct', 1000, null), null);
  assert.equal(againstExpectation('down', 'down'), 'confirmed');
  assert.equal(againstExpectation('survived', 'degraded'), 'confirmed');
  assert.equal(againstExpectation('survived', 'down'), 'refuted');
  assert.equal(againstExpectation('down', 'survived'), 'refuted');
  assert.equal(againstExpectation(null, 'down'), 'observed');
});

const row = (model: string, vus: number, offered: number, ok: number, errors = 0, target = 'direct'): LoadRowLike => ({
  model,
  level: { target, vus, name: `${vus}vus` },
  offeredRate: offered,
  figures: { successesPerSecond: ok, errorPercent: errors },
});

test('the knee: where a model first fell behind what was offered, or a lower bound when it never did', () => {
  const rows = [
    row('blocking', 100, 95, 19.5),
    row('blocking', 300, 285, 19.8, 40),
    row('eventloop', 100, 95, 94),
    row('eventloop', 600, 570, 560),
    row('eventloop', 600, 570, 100, 0, 'proxy'),
  ];
  const blocking = kneeFromRows(rows, 'blocking', 'run');
  assert.equal(blocking?.reached, true);
  assert.equal(blocking?.rate, 19.8);
  const eventloop = kneeFromRows(rows, 'eventloop', 'run');
  assert.deepEqual([eventloop?.rate, eventloop?.reached], [560, false]);
  assert.equal(kneeFromRows(rows, 'mn', 'run'), null);
  const invalid = { ...row('mn', 100, 95, 90), validity: { valid: false } };
  assert.equal(kneeFromRows([invalid], 'mn', 'run'), null, 'an invalid row says nothing about the knee');
  assert.deepEqual([kneeEstimate(1, 600).rate, kneeEstimate(1, 600).reached], [20, true]);
  assert.deepEqual([kneeEstimate(100, 600).rate, kneeEstimate(100, 600).reached], [600, false]);
  assert.deepEqual([kneeEstimate(null, 600).rate, kneeEstimate(null, 600).reached], [600, false]);
  const evidence = (limit: number | null, maxConnections: number) => ({
    units: { limit },
    db: { maxConnections, poolMaxPerUnit: 1, pools: 1 },
  });
  assert.equal(requestSlots('blocking', evidence(1, 1)), 1);
  assert.equal(requestSlots('mn', evidence(2, 100)), 100, 'an M:N thread serves many requests at once');
  assert.equal(requestSlots('forking', evidence(null, 1)), null, 'forking without MAX_PROCS is unbounded');
  assert.deepEqual(overloadRate({ rate: 19.8, reached: true, source: '' }, 1200), { rate: 40, capped: false });
  assert.deepEqual(overloadRate({ rate: 800, reached: true, source: '' }, 1200), { rate: 1200, capped: true });
});

test('k6 console lines become request records; windows, percentiles and recovery', () => {
  const stderr = [
    'time="2026-11-23T19:00:00Z" level=info msg="R eventloop 1000 52 200 0" source=console',
    'time="2026-11-23T19:00:00Z" level=warning msg="Request Failed" error="dial: connection refused"',
    'time="2026-11-23T19:00:01Z" level=info msg="R eventloop-proxy 2000 5001 0 1050" source=console',
    'time="2026-11-23T19:00:02Z" level=info msg="R mn 3000 2 0 1212 refused" source=console',
    'time="2026-11-23T19:00:02Z" level=info msg="R mn 3100 50 200 0 -" source=console',
  ].join('\n');
  assert.deepEqual(parseTimeline(stderr), [
    rec('eventloop', 1000, 52, 200),
    rec('eventloop-proxy', 2000, 5001, 0, K6_TIMEOUT),
    { ...rec('mn', 3000, 2, 0, 1212), error: 'refused' },
    rec('mn', 3100, 50, 200),
  ]);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([], 50), null);
  const records = [
    rec('a', 0, 50, 200),
    rec('a', 100, 700, 503),
    rec('a', 200, 5000, 0, K6_TIMEOUT),
    rec('a', 300, 3, 0, 1211),
    rec('b', 150, 50, 200),
    rec('a', 900, 50, 200),
  ];
  const during = figures(windowOf(records, 'a', 100, 400));
  assert.equal(during.requests, 3);
  assert.deepEqual(during.outcomes, { 503: 1, timeout: 1, 'no answer': 1 });
  assert.equal(during.timeouts, 1);
  assert.equal(during.failureMs.max, 5000);
  // Recovery counted from 400: the first 200 ends at 950, and the timeout ended at 5200, after it.
  assert.deepEqual(recovery(records, 'a', 400), { firstOkMs: 550, allOkMs: null });
  assert.deepEqual(recovery([rec('a', 500, 800, 503), rec('a', 1400, 50, 200)], 'a', 400), { firstOkMs: 1050, allOkMs: 1050 });
});

test('verdicts: fast 503s or hangs, leaks, shutdown, overload, isolation', () => {
  assert.equal(outageVerdict(figures([rec('a', 0, 700, 503), rec('a', 1, 760, 503)])), 'fast 503s');
  assert.equal(outageVerdict(figures([rec('a', 0, 700, 503), rec('a', 1, 5000, 0, K6_TIMEOUT)])), 'hangs: 1 timed out');
  assert.equal(outageVerdict(figures([rec('a', 0, 2500, 503)])), 'slow 503s (p99 2500 ms)');
  assert.equal(outageVerdict(figures([rec('a', 0, 20, 502)])), 'fast errors (502 besides 503)');
  assert.equal(outageVerdict(figures([])), 'no requests during the outage');
  assert.equal(leakVerdict(3, 100), 'no leak');
  assert.equal(leakVerdict(101, 100), 'LEAK: 101 > 100');
  assert.equal(
    shutdownVerdict(figures([rec('a', 0, 50, 200)]), figures([rec('a', 10, 2, 0, 1211)])),
    '1/1 in flight completed; new requests refused at once (max 2 ms)',
  );
  assert.equal(
    shutdownVerdict(figures([]), figures([rec('a', 10, 4089, 0, 1211), rec('a', 11, 1, 0, 1211)])),
    'none in flight; new requests refused, none hung (p50 1 ms, max 4089 ms)',
  );
  assert.equal(
    shutdownVerdict(figures([]), figures([rec('a', 10, 4200, 200)])),
    'none in flight; no new request failed: they waited up to 4200 ms for the container to come back',
  );
  assert.match(
    shutdownVerdict(figures([rec('a', 0, 50, 0, 1211)]), figures([rec('a', 10, 5000, 0, K6_TIMEOUT)])),
    /1\/1 in flight FAILED; 1 hung/,
  );
  assert.equal(overloadVerdict(figures([rec('a', 0, 50, 200), rec('a', 0, 50, 200)]), 0, 0, 40, 1), 'kept up: 2/s of 40/s offered');
  assert.equal(
    overloadVerdict(figures([rec('a', 0, 900, 200), rec('a', 0, 3, 503)]), 1, 1, 40, 1),
    'OOM-killed 1×, restarted 1×, shed 1 with 503, queued (p50 900 ms); served 1/s of 40/s offered',
  );
  assert.match(isolationVerdict([{ service: 'db', probes: 15, failures: 0, restarts: 0, health: 'healthy' }]), /^unharmed/);
  assert.match(isolationVerdict([{ service: 'mn', probes: 15, failures: 2, restarts: 0, health: 'healthy' }]), /^HARMED: mn \(2\/15/);
});

test('VUs per target stay under half of what a pool of blocking workers serves', () => {
  assert.equal(vusPerTarget(10, null, 0.5, 2), 10);
  assert.equal(vusPerTarget(10, 1, 0.5, 2), 2);
  assert.equal(vusPerTarget(10, 40, 0.5, 2), 10);
});

const w = (records: RequestRecord[]) => figures(records);
const info: RunInfo = {
  startedAt: '2026-11-23T19:00:00.000Z',
  finishedAt: '2026-11-23T19:10:00.000Z',
  experiments: ['slowloris', 'outage'],
  models: ['blocking'],
  host: { cores: 2, memoryBytes: 24e9, os: 'Debian', kernel: '6.1', dockerVersion: '20.10', cgroupVersion: '1' },
  gitCommit: 'abc',
  k6Image: 'grafana/k6:1.8.1',
  project: 'p',
  notes: [],
};

test('the tables: one line per model and target, every figure from the data', () => {
  const slow: SlowlorisRow = {
    model: 'blocking',
    target: 'direct',
    connections: 1,
    poolSize: 1,
    result: {
      target: 'http://blocking:3000',
      connections: 1,
      opened: 1,
      closedByServer: 1,
      medianCloseMs: 10012,
      answeredStatuses: { 408: 1 },
      probe: { status: null, ms: 5003, error: 'no answer within 5000 ms' },
      verdict: 'down',
    },
    expected: 'down',
    against: 'confirmed',
    peaks: { memoryBytes: 80e6, pids: 12, unitsStarted: 0 },
    restarts: 0,
    oomKills: 0,
    recoveredMs: 3,
    neighbours: [],
    isolation: 'unharmed (7 others, 105 probes answered)',
  };
  const table = slowlorisTable([slow]);
  assert.equal(table.length, 3);
  assert.match(table[2]!, /^\| blocking \| direct \| 1 \(1\) \| 1 \| no answer in 5003 ms/);
  assert.match(table[2]!, /1 after 10012 ms \(408×1\)/);
  assert.match(table[2]!, /\*\*down\*\* \| down \| confirmed \| unharmed/);

  const outage: OutageResult = {
    stopBeganAt: 0,
    stoppedAt: 300,
    startedAt: 10_000,
    dbReadyMs: 1200,
    records: [],
    rows: [
      {
        model: 'blocking',
        target: 'proxy',
        vus: 2,
        before: w([rec('x', 0, 50, 200)]),
        during: w([rec('x', 1, 740, 503)]),
        after: w([rec('x', 2, 50, 200)]),
        firstOkMs: 1300,
        allOkMs: 1300,
        verdict: 'fast 503s',
      },
    ],
    models: [
      {
        model: 'blocking',
        restarted: false,
        before: {} as never,
        after: {} as never,
        connectionsAfter: 1,
        maxConnections: 1,
        leak: 'no leak',
      },
    ],
    proxy: { before: { restartCount: 0, health: 'healthy' } as never, after: { restartCount: 0, health: 'healthy' } as never },
    k6: { exitCode: 0, stderrTail: '' },
  };
  const o = outageTable(outage);
  assert.match(
    o[2]!,
    /^\| blocking \| via nginx \| 2 \| 1 \/ 1 \| 503×1 \| 1 failed, 740 \/ 740 \/ 740 ms \| \*\*fast 503s\*\* \| 1300 ms \| 1300 ms \| 1 \/ 1 \| no \| 1 \/ 1 \| no leak \|$/,
  );

  const over: OverloadRow = {
    model: 'blocking',
    knee: { rate: 19.8, reached: true, source: 'make load x' },
    rate: 40,
    capped: false,
    figures: w([rec('b', 0, 3, 503), rec('b', 0, 900, 200)]),
    droppedNote: '',
    peakMemoryBytes: 90e6,
    memoryLimitBytes: 4e9,
    unitsStarted: 1,
    pidsPeak: 14,
    restarts: 0,
    oomKills: 0,
    recoveredMs: 2,
    neighbours: [],
    isolation: 'unharmed',
    verdict: 'shed 1 with 503',
  };
  assert.match(
    overloadTable([over])[2]!,
    /^\| blocking \| 20\/s \(make load x\) \| 40\/s for 15 s \| 200×1, 503×1 \| 900 ms \/ 900 ms \| 90 MB \/ 4000 MB \| 1 \/ 14 \| 0 \/ 0 \| 2 ms \|/,
  );

  const shut: ShutdownResult = {
    model: 'blocking',
    stopMs: 412,
    exitCode: 0,
    oomKilled: false,
    healthyAfterStartMs: 3100,
    neighbours: [],
    isolation: 'unharmed',
    records: [],
    rows: [
      {
        model: 'blocking',
        target: 'direct',
        vus: 2,
        inFlight: w([rec('b', 0, 60, 200)]),
        duringStop: w([]),
        whileDown: w([rec('b', 5, 1, 0, 1211)]),
        firstOkAfterStartMs: 3300,
        verdict: '1/1 in flight completed',
      },
    ],
  };
  assert.match(
    shutdownTable([shut])[2]!,
    /^\| blocking \| direct \| 2 \| 200×1 \| none \| no answer×1 \(max 1 ms\) \| 412 ms \/ 0 \| 3100 ms \| 3300 ms \|/,
  );
  assert.equal(outcomes(w([])), 'none');

  const report = renderResilience(
    info,
    { slowloris: [slow], outage },
    { slowlorisHoldS: 15, slowlorisProbeAfterS: 3, slowlorisProbeTimeoutS: 5 },
  );
  assert.match(report, /^# Resilience report/);
  assert.match(report, /## Slowloris\n/);
  assert.match(report, /## Database outage under load\n/);
  assert.doesNotMatch(report, /## Overload/);
  assert.match(report, /Postgres answered again 1200 ms after `docker start`/);
});

test('models, expectations and slots come from models.json: goroutines included; the floor from the reported DB delay', () => {
  assert.deepEqual(
    pickModels(''),
    MODELS.map((m) => m.name),
  );
  assert.ok(pickModels('').includes('goroutines'));
  assert.deepEqual(
    pickModels('goroutines, eventloop'),
    ['eventloop', 'goroutines'].sort((a, b) => pickModels('').indexOf(a) - pickModels('').indexOf(b)),
  );
  assert.throws(() => pickModels('eventloop,nodejs'), /unknown MODELS nodejs/);
  assert.equal(slowlorisExpectation('goroutines', 'direct', 1000, null), 'survived', 'goroutines multiplex connections like an event loop');
  assert.equal(slowlorisExpectation('forking', 'proxy', 1000, null), null, 'no claim for process-per-connection, even behind nginx');
  const evidence = { units: { limit: null }, db: { maxConnections: 400, poolMaxPerUnit: 400, pools: 1 } };
  assert.equal(requestSlots('goroutines', evidence), 400, 'a goroutine is not one request slot: the DB pool is');
  assert.deepEqual([kneeEstimate(1, 600, 100).rate, kneeEstimate(1, 600, 100).source], [10, 'estimate: 1 slots / 100 ms']);
  assert.equal(
    vusPerTarget(10, 1, 0.5, 2, 0.1),
    1,
    'one worker at 100 ms per request serves 10/s: half of it over two targets is one VU (two at 50 ms)',
  );
  assert.equal(floorSeconds(undefined), 0.05, '50 ms only as the fallback');
  assert.equal(floorSeconds({ db: { delayMs: 20 } } as never), 0.02);
});
