// report.md: the seed's claim beside what this hardware did, per model and per level, with validity.
import type { Chart } from './charts.ts';
import type { Judged, Row } from './row.ts';
import type { HostDescription } from './docker.ts';
import type { Profile } from './scenarios.ts';
import { cell, ms, num, pct } from './format.ts';
import { okOfOffered, renderSeedTable } from './seed-table.ts';
import { connectionsHeld, observedBottleneck, seedClaim, verdictFor } from './seed.ts';
import { judgeValidity } from './validity.ts';

export interface Environment {
  startedAt: string;
  finishedAt: string;
  profile: string;
  models: string[];
  host: HostDescription;
  /** MODEL_CPUS / MODEL_MEMORY the containers were started with, and what the host clamped. */
  modelCpus: number | null;
  modelMemoryBytes: number | null;
  modelCpusRequested: number | null;
  containers: Record<string, unknown>;
  versions: Record<string, string>;
  gitCommit: string;
  k6Image: string;
  postgres: { version: string; maxConnections: number };
  /** Written by the runner since the fresh-start/held-connections change (absent in older runs). */
  profileChoice?: { name: string; why: string };
  /** The arrival process of the closed and open levels, in words. */
  arrivals?: string;
  /** Which memory figure the rows carry (the one closest to what the container's limit charges). */
  memoryDefinition?: string;
  /** ISOLATE: cpusets claimed and read back per container; null: every container shares every core. */
  cpusets?: {
    setting: string;
    why: string;
    claimed: { model: string; measurement: string } | null;
    read: Record<string, string>;
    /** db's and proxy's were read while pinned; absent in earlier runs, which read them after the run had lifted the pins. */
    measurementReadWhilePinned?: boolean;
  } | null;
  composeVersion?: string | null;
  /** `git status --porcelain` was empty when make load started; null: unknown. */
  workTreeClean?: boolean | null;
  hostBefore?: { loadAvg1: number | null; busyPercent: number | null };
  /** Per model: the knobs compose passed (models.json env) and what /model reported. */
  modelKnobs?: Record<string, { env: Record<string, string>; db: unknown; units: unknown }>;
  /** Per model: NODE_OPTIONS as its container ran with it (docker inspect), null where unset (the Go service). */
  nodeOptions?: Record<string, string | null>;
  /** DB_DELAY_MS of the run, where recorded once for all models. */
  dbDelayMs?: number | null;
}

/** How the run placed the containers on cores (ISOLATE), as claimed and as read back. */
export function cpusetsSentence(env: Pick<Environment, 'cpusets'>): string {
  if (env.cpusets === undefined) return 'not recorded';
  if (env.cpusets === null) return 'not pinned: the model, k6, Postgres and nginx shared every core';
  const { setting, why, claimed, read, measurementReadWhilePinned } = env.cpusets;
  const claim =
    claimed === null ? 'nothing pinned' : `model on ${claimed.model}, measurement (k6, Postgres, nginx) on ${claimed.measurement}`;
  const afterLift = claimed !== null && measurementReadWhilePinned !== true;
  return `ISOLATE=${setting} (${why}): ${claim}; read back: ${
    Object.entries(read)
      .map(([c, set]) => `${c} ${set}${afterLift && (c === 'db' || c === 'proxy') ? ' (read after the run had lifted its pin)' : ''}`)
      .join(', ') || 'n/a'
  }`;
}

/** A setting recorded either as one sentence or as named parts. */
export type Described = string | Record<string, unknown> | null | undefined;

export function describe(value: Described): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join('; ');
}

export function judgeRows(
  rows: Row[],
  env: Pick<Environment, 'host' | 'modelCpus'> & Partial<Pick<Environment, 'containers' | 'dbDelayMs'>>,
): Judged[] {
  return rows.map((row) => ({
    ...row,
    validity: judgeValidity(row, { hostCores: env.host.cores }),
    bottleneck: observedBottleneck(row, env.host.cores, env.modelCpus, env),
    verdict: verdictFor(row, env),
  }));
}

const mb = (bytes: number | null) => (bytes === null ? 'n/a' : `${Math.round(bytes / 1e6)} MB`);

function connections(r: Judged): string {
  const reconnects = r.figures.newConnections > r.figures.vusMax ? ` (${r.figures.newConnections} opened)` : '';
  const kind = r.level.executor === 'constant-arrival-rate' ? ` @${r.level.rate}/s` : '';
  const held = connectionsHeld(r);
  const count = held === r.level.vus ? `${held}` : `${held} (${r.level.vus} probe VUs${kind})`;
  return `${count}${held === r.level.vus ? kind : ''}${r.level.target === 'proxy' ? ' via proxy' : ''}${reconnects}`;
}

/** The lines on how this run was made that newer runs record (absent fields are left out). */
export function runSettings(env: Environment): string[] {
  const lines: string[] = [];
  if (env.profileChoice) lines.push(`- Profile: \`${env.profileChoice.name}\`, chosen because ${env.profileChoice.why}`);
  const arrivals = describe(env.arrivals);
  if (arrivals !== null) lines.push(`- Arrivals: ${arrivals}`);
  const memory = describe(env.memoryDefinition);
  if (memory !== null) lines.push(`- Memory: ${memory}`);
  lines.push(`- cpusets: ${cpusetsSentence(env)}`);
  if (env.composeVersion) lines.push(`- Compose: ${env.composeVersion}`);
  if (env.workTreeClean !== undefined && env.workTreeClean !== null)
    lines.push(`- Working tree: ${env.workTreeClean ? 'clean (no uncommitted changes)' : '**uncommitted changes**'}`);
  if (env.hostBefore)
    lines.push(
      `- Host before the run: load average ${env.hostBefore.loadAvg1 ?? 'n/a'} (1 min), ${env.hostBefore.busyPercent === null ? 'n/a' : `${env.hostBefore.busyPercent.toFixed(0)}%`} CPU busy`,
    );
  if (env.nodeOptions)
    lines.push(
      `- NODE_OPTIONS (read from the containers): ${Object.entries(env.nodeOptions)
        .map(([m, options]) => `${m} ${options === null ? '(unset)' : `\`${options}\``}`)
        .join(', ')}`,
    );
  if (env.modelKnobs)
    lines.push(
      `- Model knobs: ${Object.entries(env.modelKnobs)
        .map(
          ([m, knobs]) =>
            `${m} ${
              Object.entries(knobs.env)
                .map(([k, v]) => `${k}=${v === '' ? '(default)' : v}`)
                .join(' ') || '(none)'
            }`,
        )
        .join('; ')}`,
    );
  return lines;
}

function cpu(r: Judged): string {
  const avg = r.resources.cpuCoresAvg;
  const peak = r.resources.cpuCoresPeak;
  return avg === null ? 'n/a' : `${avg.toFixed(2)} (peak ${peak?.toFixed(2) ?? 'n/a'})`;
}

function db(r: Judged): string {
  const peak = r.resources.dbConnectionsPeak;
  return `${peak ?? 'n/a'}${r.resources.dbConnectionsMax === null ? '' : ` / ${r.resources.dbConnectionsMax}`}`;
}

function validity(r: Judged): string {
  return r.validity.valid ? 'valid' : `**invalid**: ${r.validity.reasons.join('; ')}`;
}

const HEADER =
  '| model | connections held | req/s ok (offered) | p50 / p90 / p99 ms | errors % / timeouts % | peak memory | CPU cores | DB conns (peak / max) | observed bottleneck | seed claim | verdict | validity |';
const RULE = '|---|---|---|---|---|---|---|---|---|---|---|---|';

export function rowLine(r: Judged): string {
  const f = r.figures;
  const claim = seedClaim(r.model);
  return `| ${[
    r.model,
    connections(r),
    okOfOffered(r),
    `${ms(f.latencyMs.p50)} / ${ms(f.latencyMs.p90)} / ${ms(f.latencyMs.p99)}`,
    `${pct(f.errorPercent)} / ${pct(f.timeoutPercent)}`,
    mb(r.resources.peakMemoryBytes),
    cpu(r),
    db(r),
    r.bottleneck,
    `${claim.row}: ${claim.memory}, ${claim.at5k}; bottleneck: ${claim.bottleneck}`,
    `${r.verdict.verdict}: ${r.verdict.figure}`,
    validity(r),
  ]
    .map(cell)
    .join(' | ')} |`;
}

/** One row of "Where the time went": k6's latency beside the model's own and Postgres's. */
export function tailLine(r: Judged): string {
  const f = r.figures;
  const service = r.tail?.service ?? null;
  const exec = r.tail?.dbExecution ?? null;
  const atMost = (v: number | null) => (v === null ? 'over 30 s' : `<= ${ms(v)}`);
  return `| ${[
    r.model,
    connections(r),
    `${ms(f.latencyMs.p50)} / ${ms(f.latencyMs.p99)}`,
    service === null ? 'n/a' : `${atMost(service.p50AtMostMs)} / ${atMost(service.p99AtMostMs)}`,
    service === null ? 'n/a' : `${pct(service.over100msPercent)}% of ${num(service.requests)}`,
    exec === null ? 'n/a' : `${ms(exec.meanMs)} / ${ms(exec.maxMs)}`,
  ]
    .map(cell)
    .join(' | ')} |`;
}

/** The top level each model reached in this run with `target`: its row in the summary table. */
export function topRows(rows: Judged[], target: 'direct' | 'proxy' = 'direct'): Judged[] {
  const byModel = new Map<string, Judged>();
  for (const r of rows) {
    if (r.level.target !== target) continue;
    const current = byModel.get(r.model);
    if (current === undefined || connectionsHeld(r) >= connectionsHeld(current)) byModel.set(r.model, r);
  }
  return [...byModel.values()];
}

export function renderReport(profile: Profile, env: Environment, rows: Judged[], charts: Chart[]): string {
  const clamp =
    env.modelCpusRequested !== null && env.modelCpus !== null && env.modelCpus < env.modelCpusRequested
      ? `**Limits clamped:** the design gives every model ${env.modelCpusRequested} CPUs; this host has ${env.host.cores} cores, so Docker refuses more and each container ran with **${env.modelCpus} CPUs** — and k6 and Postgres share the same cores. Read absolute figures with that in mind.`
      : `Each model container ran with ${env.modelCpus ?? 'unlimited'} CPUs and ${mb(env.modelMemoryBytes)} of memory.`;
  const invalid = rows.filter((r) => !r.validity.valid);
  const lines = [
    `# Load report: profile \`${profile.name}\``,
    '',
    `${profile.description}`,
    '',
    `- Run: ${env.startedAt} to ${env.finishedAt} (UTC), models: ${env.models.join(', ')}`,
    `- Host: ${env.host.cores} cores, ${mb(env.host.memoryBytes)} memory, ${env.host.os}, kernel ${env.host.kernel}, Docker ${env.host.dockerVersion}, cgroup v${env.host.cgroupVersion}`,
    `- Model containers: ${env.modelCpus ?? 'n/a'} CPUs, ${mb(env.modelMemoryBytes)} memory each (read back from each container's cgroup: see environment.json)`,
    `- Load: ${env.k6Image}, one model at a time, a warm-up before each level, pg_stat_statements reset before each measured level; Postgres ${env.postgres.version.split(' ').slice(0, 2).join(' ')}, max_connections ${env.postgres.maxConnections}`,
    `- Commit: ${env.gitCommit}`,
    ...runSettings(env),
    '',
    clamp,
    '',
    "## The seed's table",
    '',
    ...renderSeedTable(rows),
    '',
    env.arrivals === undefined || env.arrivals === null
      ? 'Closed model: each k6 VU holds one keep-alive connection, sends `GET /db?id=N` (one statement that waits the DB delay in Postgres), checks status and body, then thinks; the offered rate is VUs / (think time + the DB delay).'
      : `How requests arrive: ${describe(env.arrivals) ?? ''}.`,
    '',
    "A row is **invalid** when the apparatus failed (the generator, the database, or limits other than the ones claimed); each invalid row gives the runner's reasons in its validity column and under Validity below.",
    '',
    '## Per model, at the top level of this run',
    '',
    HEADER,
    RULE,
    ...topRows(rows).map(rowLine),
    '',
    ...(topRows(rows, 'proxy').length === 0
      ? []
      : [
          '## Per model, through the nginx proxy',
          '',
          "nginx holds the clients' connections and keeps a few upstream keep-alive connections to the model: the model no longer sees one connection per client.",
          '',
          HEADER,
          RULE,
          ...topRows(rows, 'proxy').map(rowLine),
          '',
        ]),
    '## Where the time went',
    '',
    "k6 times a request from the client; the model times it from its handler to the end of the response (its `http_request_duration_seconds` histogram, read from /metrics before and after the level: a quantile is known only up to its bucket's bound), and Postgres times the statement's execution (pg_stat_statements). k6's time beyond the model's was spent outside the model: in k6 itself, nginx and the kernel's queues, on the cores they share. The model's time beyond Postgres's was spent waiting for a pooled connection, a unit or the CPU, or on the way to and from Postgres.",
    '',
    '| model | connections held | k6 p50 / p99 ms | in the model p50 / p99 ms | over 100 ms in the model, of its requests | Postgres execution mean / max ms |',
    '|---|---|---|---|---|---|',
    ...rows.map(tailLine),
    '',
    '## Every level',
    '',
    HEADER,
    RULE,
    ...rows.map(rowLine),
    '',
    `## Validity`,
    '',
    invalid.length === 0
      ? `All ${rows.length} rows are valid.`
      : `${rows.length - invalid.length} of ${rows.length} rows are valid. Invalid rows:`,
    ...invalid.map((r) => `- ${r.model} at ${connections(r)}: ${r.validity.reasons.join('; ')}`),
    '',
    '## Charts',
    '',
    ...charts.map((c) => `- [${c.title}](charts/${c.file})\n\n  ![${c.title}](charts/${c.file})`),
    '',
    '## Files',
    '',
    "- `raw/<model>-<level>.json`: k6's own summary (handleSummary) of each measured level; `raw/<model>-<level>.stderr.txt`: what k6 logged",
    "- `samples/<model>-<level>.json`: the samples taken while the level ran (Docker stats of the model and of k6, the model's /model, Postgres connections, host CPU)",
    '- `rows.json`: every figure of this report, with validity reasons and verdicts',
    "- `environment.json`: host, versions, commit, and each container's limits as declared and as read from its cgroup",
    '',
  ];
  return lines.join('\n');
}
