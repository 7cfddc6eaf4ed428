// Sampling arithmetic on real input: a stats frame the Engine API returned for the M:N
// container (GET /containers/<id>/stats?stream=false) and a line of this host's /proc/stat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { frameToSample } from '../src/docker.ts';
import { readCpuTimes } from '../src/sampler.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

test('a Docker stats frame gives cores used since the previous frame and memory without page cache', () => {
  const sample = frameToSample(JSON.parse(fixture('docker-stats-mn.json')) as Parameters<typeof frameToSample>[0]);
  assert.ok(sample !== undefined);
  // (8067838639 - 8021299449) / (4627450000000 - 4625320000000) x 2 online CPUs
  assert.ok(Math.abs(sample.cpuCores - 0.0437) < 0.0001, `cores ${sample.cpuCores}`);
  assert.equal(sample.memoryBytes, 127115264);
  assert.equal(sample.t, Date.parse('2026-11-23T19:18:38.961657926Z'));
});

test('the first frame of a stream (no previous reading) gives no sample', () => {
  const frame = JSON.parse(fixture('docker-stats-mn.json')) as Parameters<typeof frameToSample>[0];
  assert.equal(frameToSample({ ...frame, precpu_stats: { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0 } }), undefined);
});

test('/proc/stat: busy is everything but idle and iowait', () => {
  const times = readCpuTimes(fixture('proc-stat.txt'));
  assert.equal(times.total, 215353 + 96431 + 147539 + 1759 + 1670 + 1769);
  assert.equal(times.busy, times.total - 147539 - 1759);
});
