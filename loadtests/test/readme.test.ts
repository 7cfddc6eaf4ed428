// The README's results are the committed run's: README.md must be exactly what
// loadtests/src/readme.ts writes for the run its marker names (make readme RUN=...).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODELS } from '../src/models.ts';
import { markedRun, readRun, renderResults, renderTime, writeRegions, type Run } from '../src/readme.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

test('README.md names a committed reference run and its results are what readme.ts writes from it', () => {
  const path = markedRun(readme);
  assert.match(path, /^results\/reference\/[^/]+$/, 'the README quotes a run committed under results/reference/');
  for (const file of ['rows.json', 'environment.json', 'report.md'])
    assert.ok(existsSync(join(root, path, file)), `${path}/${file} is committed`);
  const expected = writeRegions(readme, readRun(root, path));
  assert.equal(readme, expected, `README.md differs from the files of ${path}: run \`make readme RUN=${path}\``);
});

test("every verdict in the README table is the runner's own in rows.json (prefork and blocking included)", () => {
  const run = readRun(root, markedRun(readme));
  const lines = renderResults(run).split('\n');
  let checked = 0;
  for (const spec of MODELS) {
    const line = lines.find((l) => l.startsWith(`| ${spec.title} |`));
    assert.ok(line !== undefined, `${spec.name} has a line`);
    const said = [...line.matchAll(/\*\*(confirmed|refuted|differs)\*\*/g)].map((m) => m[1]);
    const runner = new Set(run.rows.filter((r) => r.model === spec.name).map((r) => r.verdict.verdict as string));
    for (const v of said) assert.ok(runner.has(v!), `${spec.name}: the README says ${v}, the runner never did`);
    checked += said.length;
  }
  assert.ok(checked > 0, 'the table carries verdicts');
});

const fakeRun = (change: (run: Run) => void = () => undefined): Run => {
  const run = readRun(root, markedRun(readme));
  const copy = structuredClone(run);
  change(copy);
  return copy;
};

test('the peak memory cell is the highest over the levels shown, proxied levels included', () => {
  const run = fakeRun();
  const line = renderResults(run)
    .split('\n')
    .find((l) => l.startsWith('| event loop'))!;
  const shown = run.rows.filter((r) => r.model === 'eventloop');
  const low = Math.min(...shown.filter((r) => r.level.target === 'direct').map((r) => r.level.vus));
  const peak = Math.max(
    ...shown
      .filter((r) => r.level.target === 'proxy' || r.level.vus === low || r.level.vus === Math.max(...shown.map((s) => s.level.vus)))
      .map((r) => r.resources.peakMemoryBytes ?? 0),
  );
  assert.ok(line.includes(`${Math.round(peak / 1e6)} MB`), `${line} shows ${Math.round(peak / 1e6)} MB`);
});

test("invalid rows get a footnote with the runner's reason; a model without rows is said to be not in the run; the time line says what was measured", () => {
  const run = fakeRun((r) => {
    r.rows = r.rows.filter((row) => row.model !== 'goroutines');
  });
  const section = renderResults(run);
  if (run.rows.some((r) => !r.validity.valid)) assert.match(section, /¹ Marked \*\*invalid\*\* by the runner: /);
  // A model the run did not measure still has its line, saying so.
  const absent = fakeRun((r) => {
    r.rows = r.rows.filter((row) => row.model !== 'goroutines');
  });
  assert.match(renderResults(absent), /\| goroutines \(Go net\/http[^|]*\| not in this run \|/);
  assert.match(renderTime(run), /ran \d+ (min|s) from the runner's start to its end/);
  const untimed = fakeRun((r) => {
    r.timings = {};
  });
  assert.match(
    renderTime(untimed),
    /`make test`: not measured \(`makeUpS` and `makeTestS` in `results\/reference\/[^`]+\/timings\.json`, in seconds, fill these in: `make readme`\)/,
  );
  const timed = fakeRun((r) => {
    r.timings = { makeTestS: 187, makeUpS: 43 };
  });
  assert.match(renderTime(timed), /`make up`: 43 s; `make test`: 3 min\. On an 8-core host: not measured/);
  assert.doesNotMatch(renderTime(timed), /timings\.json/);
  const firstBuild = fakeRun((r) => {
    r.timings = { makeTestS: 600, makeUpS: 43, testRunnerImageBuildS: 1128 };
  });
  assert.match(
    renderTime(firstBuild),
    /`make test`: 10 min with the test runner image built \(the first time, building it took 19 min more\)\./,
  );
});

test("a footnote keeps the runner's figures when one row has that reason, and says … where rows' figures differ", () => {
  const busy = (percent: number) => `the host's CPUs were ${percent}% busy: k6 competed with the model and Postgres for CPU`;
  const invalidate = (run: Run, model: string, percent: number) => {
    for (const row of run.rows.filter((r) => r.model === model)) row.validity = { valid: false, reasons: [busy(percent)] };
  };
  const one = renderResults(
    fakeRun((run) => {
      for (const row of run.rows) row.validity = { valid: true, reasons: [] };
      invalidate(run, 'forking', 97);
    }),
  );
  assert.ok(one.includes(`¹ Marked **invalid** by the runner: ${busy(97)} (forking `), one);
  const two = renderResults(
    fakeRun((run) => {
      for (const row of run.rows) row.validity = { valid: true, reasons: [] };
      invalidate(run, 'forking', 97);
      invalidate(run, 'threaded', 91);
    }),
  );
  assert.ok(two.includes("¹ Marked **invalid** by the runner: the host's CPUs were …% busy"), two);
  assert.doesNotMatch(two, /² Marked/);
});

test('writeRegions refuses a README without the markers rather than appending', () => {
  assert.throws(() => writeRegions('# no markers\n', fakeRun()), /markers/);
});
