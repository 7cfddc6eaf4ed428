// The runner's pure parts: arrivals, the plan, the profile choice, isolation, the socket count,
// the validity rule for queries, and restarts/OOM kills taken from the level's samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exponentialThinkS, firstRequestDelayS } from '../k6/lib/arrivals.js';
import { planRun, isolationFor } from '../src/plan.ts';
import {
  chooseProfile,
  levelSeconds,
  neededInFlight,
  readScenarioFile,
  resolveProfile,
  selectModels,
  type Level,
} from '../src/scenarios.ts';
import { countEstablished } from '../src/sockets.ts';
import { deathsDuring, isRecovering, k6Env } from '../src/runner.ts';
import { judgeValidity } from '../src/validity.ts';
import type { Row } from '../src/row.ts';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstFileOfTar } from '../src/docker.ts';

/** A seeded generator (mulberry32) so the distribution checks are repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('think time is exponential with the configured mean: mean, spread and tail as the distribution says', () => {
  const random = seeded(42);
  const n = 200_000;
  const draws = Array.from({ length: n }, () => exponentialThinkS(2, random));
  const mean = draws.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  assert.ok(Math.abs(mean - 2) < 0.02, `mean ${mean}`);
  // Exponential: standard deviation = mean, P(X > mean) = 1/e, never negative.
  assert.ok(Math.abs(sd - 2) < 0.03, `sd ${sd}`);
  const aboveMean = draws.filter((x) => x > 2).length / n;
  assert.ok(Math.abs(aboveMean - Math.exp(-1)) < 0.005, `P(X > mean) ${aboveMean}`);
  assert.ok(draws.every((x) => x >= 0 && Number.isFinite(x)));
  assert.equal(exponentialThinkS(0, random), 0);
  assert.ok(Number.isFinite(exponentialThinkS(1, () => 0.999999999999)));
});

test('first requests spread uniformly over one think period: no wave at the start', () => {
  const random = seeded(7);
  const n = 100_000;
  const delays = Array.from({ length: n }, () => firstRequestDelayS(1, random));
  assert.ok(delays.every((d) => d >= 0 && d < 1));
  // Ten equal bins each hold a tenth of the VUs (within 3%).
  const bins = new Array<number>(10).fill(0);
  for (const d of delays) bins[Math.floor(d * 10)]! += 1;
  for (const b of bins) assert.ok(Math.abs(b / n - 0.1) < 0.003, `bin share ${b / n}`);
  const mean = delays.reduce((a, b) => a + b, 0) / n;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
});

test('the plan restarts the model and records its baseline before every level, and checks the proxy routes before each level through nginx', () => {
  const profile = resolveProfile(readScenarioFile(), 'small');
  const steps = planRun(['eventloop', 'mn'], profile.levels);
  const levels = steps.filter((s) => s.kind === 'level');
  assert.equal(levels.length, 2 * profile.levels.length);
  assert.ok(
    profile.levels.some((l) => l.target === 'proxy'),
    'the small profile has a level through nginx',
  );
  // Whatever ran before, each level is preceded by restart, baseline and (through nginx) the route check.
  for (const level of levels) {
    const at = steps.indexOf(level);
    const proxy = level.level.target === 'proxy';
    const before = steps.slice(at - (proxy ? 3 : 2), at).map((s) => `${s.kind}:${s.model}`);
    const expected = [`restart:${level.model}`, `baseline:${level.model}`, ...(proxy ? [`check-proxy-routes:${level.model}`] : [])];
    assert.deepEqual(before, expected, `before ${level.model} ${level.level.name}`);
  }
  assert.ok(
    steps.findIndex((s) => s.model === 'mn') > steps.findLastIndex((s) => s.model === 'eventloop'),
    'one model at a time: mn after every step of eventloop',
  );
  // RESTART=0: no restart, one baseline per model before its first level, one route check.
  const kept = planRun(['eventloop'], profile.levels, { restart: false });
  assert.ok(!kept.some((s) => s.kind === 'restart'));
  assert.equal(kept[0]?.kind, 'baseline');
  assert.equal(kept.filter((s) => s.kind === 'baseline').length, 1);
  assert.equal(kept.filter((s) => s.kind === 'check-proxy-routes').length, 1);
  const smoke = resolveProfile(readScenarioFile(), 'smoke');
  assert.ok(!planRun(['eventloop'], smoke.levels).some((s) => s.kind === 'check-proxy-routes'), 'no proxy level, no route check');
});

test('PROFILE=auto: full only with 6 cores, small on 2, the smallest below; a named profile wins', () => {
  const file = readScenarioFile();
  assert.equal(chooseProfile(file, 'auto', 8).name, 'full');
  assert.equal(chooseProfile(file, undefined, 6).name, 'full');
  const two = chooseProfile(file, '', 2);
  assert.equal(two.name, 'small');
  assert.match(two.why, /2 cores.*full needs 6/);
  assert.equal(chooseProfile(file, 'auto', 1).name, 'small');
  assert.equal(chooseProfile(file, 'smoke', 2).name, 'smoke');
  assert.throws(() => chooseProfile(file, 'huge', 2), /unknown PROFILE "huge"/);
});

test('small: every model gets 5,000 connections direct and through nginx, the run fits 35 minutes on 2 cores', () => {
  const file = readScenarioFile();
  const small = resolveProfile(file, 'small');
  const models = selectModels(file, '');
  assert.equal(models.length, 7);
  const held = small.levels.filter((l) => l.connections === 5000);
  assert.deepEqual(held.map((l) => l.target).sort(), ['direct', 'proxy']);
  for (const l of held) {
    assert.equal(l.executor, 'constant-arrival-rate');
    assert.equal(l.holdConnections, 4000);
    // The probe's VUs hold connections too, and every one exists before the level (no drop while k6 makes one).
    assert.equal(l.vus, 1000);
    assert.equal(l.maxVus, l.vus);
    assert.equal(l.name, `5000conns-rate500${l.target === 'proxy' ? '-proxy' : ''}`);
  }
  assert.ok(small.levels.some((l) => l.executor === 'constant-vus' && l.connections >= 1000));
  // Load time, plus per model a restart (~15 s) and the settles between levels (~5 s each).
  const perModel = small.levels.reduce((s, l) => s + levelSeconds(l) + 5, 0) + 15;
  assert.ok(perModel * models.length <= 35 * 60, `small needs ~${Math.round((perModel * models.length) / 60)} min`);
  // 500 req/s probe + 4,000 holders at one request per ~30 s; 50 ms each.
  assert.ok(Math.abs(neededInFlight(held[0]!) - (500 + 4000 / 30.05) * 0.05) < 1e-9);
});

test('k6 gets the holders only for the measured run', () => {
  const level = resolveProfile(readScenarioFile(), 'small').levels.find((l) => (l.holdConnections ?? 0) > 0)!;
  assert.equal(k6Env('eventloop', level, 'http://x/db', 'measure', 40).HOLD_VUS, '4000');
  assert.equal(k6Env('eventloop', level, 'http://x/db', 'warmup', 5).HOLD_VUS, undefined);
});

test('isolation: auto pins on hosts below 4 cores, the model apart from the measurement', () => {
  assert.deepEqual(isolationFor('auto', 2).cpusets, { model: '1', measurement: '0', all: '0-1' });
  assert.equal(isolationFor('auto', 8).cpusets, null);
  assert.deepEqual(isolationFor('on', 8).cpusets, { model: '4-7', measurement: '0-3', all: '0-7' });
  assert.equal(isolationFor('off', 2).cpusets, null);
  assert.throws(() => isolationFor('maybe', 2), /ISOLATE must be/);
});

test('server-side connections: ESTABLISHED sockets on the local port only, IPv4 and IPv6', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1',
    '   1: 0A000005:0BB8 0A000009:A1B2 01 00000000:00000000 00:00000000 00000000  1000        0 2 1',
    '   2: 0A000005:0BB8 0A000009:A1B3 06 00000000:00000000 00:00000000 00000000  1000        0 3 1',
    '   3: 0A000005:D431 0A000002:1538 01 00000000:00000000 00:00000000 00000000  1000        0 4 1',
    '  sl  local_address                         remote_address                        st',
    '   0: 0000000000000000FFFF00000500000A:0BB8 0000000000000000FFFF00000900000A:C000 01 00000000:00000000',
  ].join('\n');
  assert.equal(countEstablished(table, 3000), 2); // one v4, one v6; LISTEN, TIME_WAIT and the DB client socket excluded
  assert.equal(countEstablished(table, 8080), 0);
});

const baseRow = (executed: number, succeeded: number, sent: number): Row => ({
  model: 'prefork',
  level: {
    executor: 'constant-vus',
    vus: 10,
    thinkTimeS: 1,
    warmupS: 0,
    durationS: 10,
    target: 'direct',
    requestTimeoutS: 10,
    name: '10vus',
    connections: 10,
  },
  offeredRate: 10,
  figures: {
    durationS: 10,
    requests: sent,
    succeeded,
    failed: sent - succeeded,
    requestsPerSecond: sent / 10,
    successesPerSecond: succeeded / 10,
    latencyMs: { p50: 50, p90: 60, p99: 70, max: 80, avg: 55 },
    errorPercent: 0,
    timeoutPercent: 0,
    timeouts: sent - succeeded,
    serverErrors: 0,
    unavailable503: 0,
    connectionErrors: 0,
    droppedIterations: 0,
    newConnections: 10,
    vusMax: 10,
    allRequests: sent,
    allSucceeded: succeeded,
    holdRequests: 0,
    holdFailed: 0,
  },
  resources: {
    peakMemoryBytes: 1,
    peakRssBytes: 1,
    cpuCoresAvg: 0.1,
    cpuCoresPeak: 0.1,
    k6CpuCoresAvg: 0.1,
    k6CpuCoresPeak: 0.1,
    k6PeakMemoryBytes: 1,
    hostBusyPercent: 30,
    unitsAlivePeak: 1,
    unitsStarted: 1,
    processesPeak: 1,
    inFlightPeak: 1,
    dbConnectionsPeak: 1,
    dbConnectionsMax: 100,
    restarts: 0,
    oomKills: 0,
    dbRefusals: 0,
    modelProbeFailures: 0,
  },
  executedQueries: executed,
  limits: { claimedCpus: 2, claimedMemoryBytes: 1, declaredCpus: 2, declaredMemoryBytes: 1, cgroupCpus: 2, cgroupMemoryBytes: 1 },
  files: { k6: '', samples: '' },
});

test('validity: queries for abandoned requests are wasted work, not an invalid row; outside [succeeded, sent] is', () => {
  assert.deepEqual(judgeValidity(baseRow(95, 90, 100), { hostCores: 2 }), { valid: true, reasons: [] });
  assert.equal(judgeValidity(baseRow(90, 90, 100), { hostCores: 2 }).valid, true);
  const fewer = judgeValidity(baseRow(80, 90, 100), { hostCores: 2 });
  assert.equal(fewer.valid, false);
  assert.match(fewer.reasons.join(), /fewer than succeeded/);
  const more = judgeValidity(baseRow(101, 90, 100), { hostCores: 2 });
  assert.match(more.reasons.join(), /more than sent/);
  const pinned = baseRow(90, 90, 100);
  pinned.cpusets = { claimedModel: '1', model: '0-1', claimedMeasurement: '0', k6: '0' };
  assert.match(judgeValidity(pinned, { hostCores: 2 }).reasons.join(), /cpuset 0-1, the run claims 1/);
});

test("restarts and OOM kills come from the level's samples; a level soon after a restart that was not the runner's is recovering", () => {
  const before = { restartCount: 0, oomKilled: false, startedAt: 'A' };
  const samples = [
    { restartCount: 0, oomKilled: false, startedAt: 'A' },
    { restartCount: 1, oomKilled: true, startedAt: 'B' },
    { restartCount: 1, oomKilled: false, startedAt: 'C' },
  ];
  // The OOM flag was seen in a sample only; the state after the level no longer shows it.
  assert.deepEqual(deathsDuring(before, samples, { restartCount: 1, oomKilled: false, startedAt: 'C' }), { restarts: 1, oomKills: 1 });
  assert.deepEqual(
    deathsDuring({ restartCount: 2, oomKilled: true, startedAt: 'X' }, [{ restartCount: 2, oomKilled: true, startedAt: 'X' }], {
      restartCount: 2,
      oomKilled: true,
      startedAt: 'X',
    }),
    { restarts: 0, oomKills: 0 },
  );
  const t = Date.parse('2026-12-02T05:00:00Z');
  assert.equal(isRecovering('2026-12-02T04:59:58Z', t, undefined), true);
  assert.equal(isRecovering('2026-12-02T04:59:58Z', t, '2026-12-02T04:59:58Z'), false, "the runner's own fresh start");
  assert.equal(isRecovering('2026-12-02T04:50:00Z', t, undefined), false);
});

// Keeps the type import used where a level literal is built.
export type { Level };

test("a pinned k6 is saturated at its own cores, not the host's", async () => {
  const { cpusetSize } = await import('../src/validity.ts');
  assert.equal(cpusetSize('0'), 1);
  assert.equal(cpusetSize('0-3,6'), 5);
  assert.equal(cpusetSize(''), null);
  const row = baseRow(90, 90, 100);
  row.cpusets = { claimedModel: '1', model: '1', claimedMeasurement: '0', k6: '0' };
  row.resources.k6CpuCoresAvg = 0.9;
  assert.match(judgeValidity(row, { hostCores: 2 }).reasons.join(), /k6 was CPU-saturated: 0.90 of 1 cores/);
});

test("k6's dashboard comes out of its container as a one-file tar: the file's bytes are found", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tar-'));
  try {
    const html = `<html>${'x'.repeat(1500)}</html>`;
    writeFileSync(join(dir, 'k6-dashboard.html'), html);
    const tar = execFileSync('tar', ['-cf', '-', '-C', dir, 'k6-dashboard.html']);
    assert.equal(firstFileOfTar(tar)?.toString('utf8'), html);
    assert.equal(firstFileOfTar(Buffer.alloc(1024)), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
