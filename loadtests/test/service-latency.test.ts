// The model's own timing of a level, from two /metrics readings: fixtures are real /metrics
// of the Go and the event-loop service before and after 3 good and 1 bad /db request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dbHistogram, histogramIncrease, serviceLatency, type Histogram } from '../src/service-latency.ts';

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');

test('the /db histogram is read from the Go and the Node services alike, whatever the label order', () => {
  for (const model of ['goroutines', 'eventloop']) {
    const after = dbHistogram(fixture(`metrics-${model}-after.txt`));
    assert.ok(after !== null, model);
    assert.equal(after.length, 16, `${model}: 15 bounds and +Inf`);
    assert.equal(after.at(-1)!.le, Infinity);
    assert.deepEqual(
      after.map((b) => b.le),
      [...after.map((b) => b.le)].sort((a, b) => a - b),
    );
    // /healthz and /model have their own series; only /db is read.
    assert.ok(
      after.every((b, i) => i === 0 || b.count >= after[i - 1]!.count),
      `${model}: cumulative`,
    );
  }
  assert.equal(dbHistogram('# HELP nothing\nprocess_cpu_seconds_total 1\n'), null);
});

test('the increase over a level counts only its requests: 3 answered after 50 ms and 1 refused at once', () => {
  for (const model of ['goroutines', 'eventloop']) {
    const before = dbHistogram(fixture(`metrics-${model}-before.txt`));
    const increase = histogramIncrease(before, dbHistogram(fixture(`metrics-${model}-after.txt`)));
    const figures = serviceLatency(increase);
    assert.ok(figures !== null, model);
    assert.equal(figures.requests, 4, model);
    assert.equal(figures.over100msPercent, 0, model);
    // Three of four took the 50 ms query: the median is in a bucket above 50 ms, the 400 below 5 ms.
    assert.ok(
      figures.p50AtMostMs !== null && figures.p50AtMostMs > 50 && figures.p50AtMostMs <= 100,
      `${model} p50 ${figures.p50AtMostMs}`,
    );
    assert.equal(increase!.find((b) => b.le === 0.005)!.count, 1, `${model}: the bad request answered within 5 ms`);
  }
});

test('quantile bounds and the share over 100 ms from a histogram; a restart (a count that fell) gives nothing', () => {
  const bounds = [0.05, 0.1, 0.25, Infinity];
  const h = (counts: number[]): Histogram => bounds.map((le, i) => ({ le, count: counts[i]! }));
  const figures = serviceLatency(histogramIncrease(h([0, 0, 0, 0]), h([10, 980, 995, 1000])));
  assert.deepEqual(figures, { requests: 1000, p50AtMostMs: 100, p99AtMostMs: 250, over100msPercent: 2 });
  // Above the last finite bound the quantile is unknown, not invented.
  assert.equal(serviceLatency(h([0, 0, 0, 10]))?.p99AtMostMs, null);
  assert.equal(histogramIncrease(h([5, 5, 5, 5]), h([1, 1, 1, 1])), null);
  assert.equal(histogramIncrease(h([0, 0, 0, 0]), h([1, 1, 1, 1]).slice(1)), null, 'different buckets');
  assert.equal(serviceLatency(h([0, 0, 0, 0])), null, 'nothing timed');
  assert.equal(serviceLatency(null), null);
});
