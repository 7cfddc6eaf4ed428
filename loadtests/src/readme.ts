// The README's results, written from a committed run (rows.json + environment.json) between
// markers, so no verdict or figure in the README is typed by hand:
//   node loadtests/src/readme.ts results/reference/<run> [README.md]      (make readme RUN=...)
// Two regions: `<!-- results:begin run=<path> -->` ... `<!-- results:end -->` (the table and its
// footnotes) and `<!-- results-summary:begin -->` ... `<!-- results-summary:end -->` (how long the run
// took, for the first screen). loadtests/test/readme.test.ts fails when README.md differs from
// what this script writes for the run its marker names.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODELS, type ModelSpec } from './models.ts';
import { cpusetsSentence, type Environment } from './report.ts';
import type { Judged } from './row.ts';
import { connectionsHeld } from './seed.ts';
import { cell } from './format.ts';
import { topRowsByModel } from './seed-table.ts';
import { isEntry } from './entry.ts';
import { holdersRate, measuredOfferedRate } from './scenarios.ts';
import { everyVuPreallocated } from './validity.ts';

export interface Run {
  /** The run's folder as the README links it, relative to the repository root. */
  path: string;
  rows: Judged[];
  env: Environment;
  /** Optional `timings.json` beside the run: what was timed by hand on the same host. */
  timings: Timings;
}

/** Seconds, measured on the run's host; absent: not measured. */
export interface Timings {
  makeUpS?: number;
  makeTestS?: number;
  /** The test runner image's first build (with the type check and lint), for the README's Prerequisites. */
  testRunnerImageBuildS?: number;
}

export function readRun(root: string, path: string): Run {
  const dir = join(root, path);
  const read = <T>(file: string): T => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
  const timings = existsSync(join(dir, 'timings.json')) ? read<Timings>('timings.json') : {};
  return { path, rows: read<Judged[]>('rows.json'), env: read<Environment>('environment.json'), timings };
}

const MB = 1e6;
const num = (v: number) => v.toLocaleString('en-US');
const mem = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / MB)} MB`);
const ms = (v: number) => (v < 100 ? v.toFixed(1) : num(Math.round(v)));
const pct = (p: number) => (p === 0 ? '0' : p < 0.1 ? p.toFixed(2) : p < 10 ? p.toFixed(1) : p.toFixed(0));
const minutes = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);
const SUPERSCRIPTS = ['¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
/** A figure inside a reason (not the 6 of k6): footnotes group reasons that differ only in their figures. */
const NUMBER = /(?<![A-Za-z])\d[\d.,]*\d|(?<![A-Za-z])\d/g;
const mark = (i: number) => SUPERSCRIPTS[i] ?? `[${i + 1}]`;

/** Footnotes for invalid rows: one per kind of reason (numbers aside), in order of first use. */
class Footnotes {
  readonly #keys: string[] = [];
  /** The first reason of each kind, as written; its figures become "…" once another row's differ. */
  readonly #texts: string[] = [];
  readonly #rows: string[][] = [];

  markFor(r: Judged): string {
    if (r.validity.valid) return '';
    const marks = r.validity.reasons.map((reason) => {
      const key = reason.replace(NUMBER, '#');
      let i = this.#keys.indexOf(key);
      if (i === -1) {
        i = this.#keys.push(key) - 1;
        this.#texts.push(reason);
        this.#rows.push([]);
      } else if (this.#texts[i] !== reason) {
        this.#texts[i] = reason.replace(NUMBER, '…');
      }
      const where = `${r.model} ${r.level.name}`;
      if (!this.#rows[i]!.includes(where)) this.#rows[i]!.push(where);
      return i;
    });
    return ` ${[...new Set(marks)]
      .sort((a, b) => a - b)
      .map(mark)
      .join('')}`;
  }

  lines(): string[] {
    return this.#texts.map((text, i) => `${mark(i)} Marked **invalid** by the runner: ${text} (${this.#rows[i]!.join(', ')}).`);
  }
}

function levelCell(r: Judged | undefined, notes: Footnotes): string {
  if (r === undefined) return 'not run';
  const f = r.figures;
  const server = r.resources.serverConnectionsPeak;
  const proxy = r.resources.proxyConnectionsPeak;
  const held = [
    typeof server === 'number' ? `${num(server)} held server-side` : null,
    r.level.target === 'proxy' && typeof proxy === 'number' ? `${num(proxy)} at nginx` : null,
  ].filter((x) => x !== null);
  const latency = f.succeeded > 0 ? `, p50 ${ms(f.latencyMs.p50)} / p99 ${ms(f.latencyMs.p99)} ms` : '';
  const timeouts = f.timeoutPercent > 0 ? ` (${pct(f.timeoutPercent)}% timeouts)` : '';
  const holdersPerS = holdersRate(r.level);
  const holders = holdersPerS > 0 ? ` (+${num(Math.round(holdersPerS))}/s from the holders)` : '';
  const waiting = everyVuPreallocated(r.level) ? ` (all ${num(r.level.vus)} k6 VUs waiting)` : '';
  const unsent = f.droppedIterations > 0 ? `, ${num(f.droppedIterations)} not sent${waiting}` : '';
  return `${num(Math.round(f.successesPerSecond))} ok/s of ${num(Math.round(measuredOfferedRate(r.level)))} offered${holders}${latency}, ${pct(f.errorPercent)}% errors${timeouts}${unsent}${held.length === 0 ? '' : `, ${held.join(', ')}`}${notes.markFor(r)}`;
}

/** The highest peak memory over the rows shown, and where it was. */
function peakOf(rows: (Judged | undefined)[]): string {
  let best: Judged | undefined;
  for (const r of rows)
    if (r?.resources.peakMemoryBytes != null && (best === undefined || r.resources.peakMemoryBytes > best.resources.peakMemoryBytes!))
      best = r;
  if (best === undefined) return 'n/a';
  return `${mem(best.resources.peakMemoryBytes!)} (at ${num(connectionsHeld(best))}${best.level.target === 'proxy' ? ' via nginx' : ''})`;
}

function modelLine(spec: ModelSpec, run: Run, notes: Footnotes): string {
  const mine = run.rows.filter((r) => r.model === spec.name);
  const claim = `${spec.seed.memory}, ${spec.seed.at5k}`;
  if (mine.length === 0) return `| ${cell(spec.title)} | not in this run | | | | ${cell(claim)} | not measured |`;
  const direct = mine.filter((r) => r.level.target === 'direct').sort((a, b) => connectionsHeld(a) - connectionsHeld(b));
  const low = direct[0];
  const top = topRowsByModel(mine, 'direct')[0];
  const proxy = topRowsByModel(mine, 'proxy')[0];
  const shown = [low, top, proxy].filter((r, i, all) => r !== undefined && all.indexOf(r) === i);
  const verdicts = [top, proxy]
    .filter((r) => r !== undefined)
    .map((r) => `**${r.verdict.verdict}**${r.level.target === 'proxy' ? ' via nginx' : ''}`);
  return `| ${[
    spec.title,
    low === top ? '(the top level)' : levelCell(low, notes),
    levelCell(top, notes),
    levelCell(proxy, notes),
    peakOf(shown),
    claim,
    verdicts.join(', '),
  ]
    .map(cell)
    .join(' | ')} |`;
}

function levelsSentence(rows: Judged[]): string {
  const direct = [...new Set(rows.filter((r) => r.level.target === 'direct').map(connectionsHeld))].sort((a, b) => a - b);
  const proxy = [...new Set(rows.filter((r) => r.level.target === 'proxy').map(connectionsHeld))].sort((a, b) => a - b);
  return `${direct.map(num).join(' / ')} connections held per model${proxy.length === 0 ? '' : `, ${proxy.map(num).join(' / ')} also through nginx`}`;
}

function limitsSentence(env: Environment): string {
  const cpus = env.modelCpus ?? 'unlimited';
  const memory = env.modelMemoryBytes === null ? 'unlimited memory' : `${Math.round(env.modelMemoryBytes / 2 ** 30)} GiB`;
  const clamp =
    env.modelCpusRequested !== null && env.modelCpus !== null && env.modelCpus < env.modelCpusRequested
      ? ` (**clamped**: the design asks ${env.modelCpusRequested} CPUs, Docker refuses more than the host's ${env.host.cores})`
      : '';
  const cpusets = `; cpusets: ${cpusetsSentence(env)}`;
  return `every model ran with **${cpus} CPUs / ${memory}**${clamp}, read back from each container's cgroup${cpusets}`;
}

/** The results region: what the run was, the table, its footnotes. */
export function renderResults(run: Run): string {
  const { env, rows } = run;
  const notes = new Footnotes();
  const table = MODELS.map((spec) => modelLine(spec, run, notes));
  const valid = rows.filter((r) => r.validity.valid).length;
  const profile = env.profileChoice ? `\`${env.profileChoice.name}\` (chosen because ${env.profileChoice.why})` : `\`${env.profile}\``;
  const quiet = env.hostBefore
    ? ` Before the run the host's load average was ${env.hostBefore.loadAvg1 ?? 'n/a'} and its CPUs ${env.hostBefore.busyPercent === null ? 'n/a' : `${env.hostBefore.busyPercent.toFixed(0)}%`} busy.`
    : '';
  const tree = env.workTreeClean === true ? ', clean working tree' : env.workTreeClean === false ? ', **with uncommitted changes**' : '';
  const arrivals = typeof env.arrivals === 'string' ? ` Arrivals: ${env.arrivals}.` : '';
  const charts = ['latency', 'memory', 'errors'].map((c) => `[${c}](${run.path}/charts/${c}.svg)`).join(', ');
  return [
    `The committed reference run \`${run.path}\`: profile ${profile}, ${env.startedAt.slice(0, 10)}, ${minutes((Date.parse(env.finishedAt) - Date.parse(env.startedAt)) / 1000)} from the runner's start to its end, commit \`${env.gitCommit.slice(0, 7)}\`${tree}${env.composeVersion ? `, compose ${env.composeVersion}` : ''}. Host: ${env.host.cores} cores, ${Math.round(env.host.memoryBytes / 1e9)} GB, ${env.host.os}, Docker ${env.host.dockerVersion}.${quiet} ${levelsSentence(rows)}; ${limitsSentence(env)}.${arrivals} **${valid} of ${rows.length} rows are valid.** Full report: [${run.path}/report.md](${run.path}/report.md); charts: ${charts}.`,
    '',
    `| model | at the lowest level | at the top level, direct | top level through nginx | peak memory (highest of the levels shown) | seed's claim | runner's verdict at the top level |`,
    '|---|---|---|---|---|---|---|',
    ...table,
    '',
    ...notes.lines().flatMap((l) => [l, '']),
    "Verdicts are the runner's (`rows.json`), by the rules in `loadtests/src/seed.ts`; this table is written by `make readme RUN=" +
      run.path +
      '` and `loadtests/test/readme.test.ts` fails when it differs from the files.',
  ]
    .join('\n')
    .replace(/\n\n$/, '\n');
}

/** The first screen: how long things take (from the run and its optional timings.json) and one of its charts. */
export function renderTime(run: Run): string {
  const load = minutes((Date.parse(run.env.finishedAt) - Date.parse(run.env.startedAt)) / 1000);
  const host = `${run.env.host.cores}-core`;
  const t = run.timings;
  const missing = [t.makeUpS === undefined ? '`makeUpS`' : null, t.makeTestS === undefined ? '`makeTestS`' : null].filter(
    (x) => x !== null,
  );
  const placeholder =
    missing.length === 0 ? '' : ` (${missing.join(' and ')} in \`${run.path}/timings.json\`, in seconds, fill these in: \`make readme\`)`;
  const measured = (s: number | undefined, what: string) => `${what}: ${s === undefined ? 'not measured' : minutes(s)}`;
  // make test's time is with the test runner image built; a host's first make test builds it too.
  const firstTest =
    t.makeTestS === undefined || t.testRunnerImageBuildS === undefined
      ? ''
      : ` with the test runner image built (the first time, building it took ${minutes(t.testRunnerImageBuildS)} more)`;
  return [
    `How long, on the ${host} host of the reference run: \`make load\` (profile \`${run.env.profile}\`) ran ${load} from the runner's start to its end (\`environment.json\`); ${measured(t.makeUpS, '`make up`')}; ${measured(t.makeTestS, '`make test`')}${firstTest}${placeholder}. On an 8-core host: not measured.`,
    '',
    `One chart of that run ([report](${run.path}/report.md)):`,
    '',
    `![Latency p50 / p90 / p99 per model vs connections held](${run.path}/charts/latency.svg)`,
  ].join('\n');
}

const REGION = (name: string, attrs = '') => new RegExp(`(<!-- ${name}:begin${attrs} -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`);

/** The run path the README's results marker names. */
export function markedRun(readme: string): string {
  const found = /<!-- results:begin run=(\S+) -->/.exec(readme);
  if (found === null) throw new Error('README.md has no `<!-- results:begin run=<path> -->` marker');
  return found[1]!;
}

/** README.md with both regions rewritten from `run` (the results marker then names `run`). */
export function writeRegions(readme: string, run: Run): string {
  const withRun = readme.replace(/<!-- results:begin run=\S+ -->/, `<!-- results:begin run=${run.path} -->`);
  if (!REGION('results', ' run=\\S+').test(withRun)) throw new Error('README.md lacks the results markers');
  if (!REGION('results-summary').test(withRun)) throw new Error('README.md lacks the results-summary markers');
  return withRun
    .replace(REGION('results', ' run=\\S+'), (_m, open: string, close: string) => `${open}${renderResults(run)}\n${close}`)
    .replace(REGION('results-summary'), (_m, open: string, close: string) => `${open}${renderTime(run)}\n${close}`);
}

if (isEntry(import.meta.url)) {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const readmePath = resolve(process.argv[3] ?? join(root, 'README.md'));
  const readme = readFileSync(readmePath, 'utf8');
  const given = process.argv[2];
  const path = given === undefined || given === '' ? markedRun(readme) : relative(root, resolve(given));
  writeFileSync(readmePath, writeRegions(readme, readRun(root, path)));
  console.log(`README: results written from ${path}`);
}
