// The load profiles (loadtests/scenarios.json) turned into the list of runs for PROFILE and MODELS.
import { readFileSync } from 'node:fs';
import { MODELS, type ModelName } from './models.ts';

export type { ModelName };
/** Every model, in models.json's order. */
export const MODEL_NAMES: readonly ModelName[] = MODELS.map((m) => m.name);

export type Executor = 'constant-vus' | 'constant-arrival-rate';
export type Target = 'direct' | 'proxy';

export interface LevelSettings {
  executor: Executor;
  /** Closed model: connections held. Arrival rate: VUs pre-allocated. */
  vus: number;
  /** Arrival rate only: requests per second, and the most VUs k6 may use. */
  rate?: number;
  maxVus?: number;
  thinkTimeS: number;
  warmupS: number;
  durationS: number;
  target: Target;
  requestTimeoutS: number;
  /** Extra VUs that mostly hold an idle keep-alive connection beside the measured scenario. */
  holdConnections?: number;
  /** Their mean think time (exponential) and the time over which they first connect. */
  holdThinkS?: number;
  holdRampS?: number;
}

export interface Level extends LevelSettings {
  /** Tag and file-name part: "100vus", "rate2000", "5000conns-rate500". */
  name: string;
  /** Client-side connections the level means to hold: holders + the measured scenario's VUs. */
  connections: number;
}

export interface Profile {
  name: string;
  description: string;
  /** Cores the host needs for this profile (model, k6, Postgres and nginx side by side). */
  minCores: number;
  levels: Level[];
}

export interface ScenarioFile {
  profiles: Record<
    string,
    { description: string; minCores?: number; auto?: boolean; defaults: Partial<LevelSettings>; levels: Partial<LevelSettings>[] }
  >;
}

export const SCENARIO_FILE = new URL('../scenarios.json', import.meta.url);

/** The database time of one request: the floor under every latency. */
export const QUERY_FLOOR_S = 0.05;

export function readScenarioFile(url: URL = SCENARIO_FILE): ScenarioFile {
  return JSON.parse(readFileSync(url, 'utf8')) as ScenarioFile;
}

function positive(value: unknown, what: string, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new Error(`scenarios: ${what} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${JSON.stringify(value)})`);
  }
  return value;
}

export function levelConnections(level: LevelSettings): number {
  return level.vus + (level.holdConnections ?? 0);
}

export function levelName(level: LevelSettings): string {
  const rate = level.executor === 'constant-arrival-rate' ? `rate${level.rate}` : `${level.vus}vus`;
  const load = (level.holdConnections ?? 0) > 0 ? `${levelConnections(level)}conns-${rate}` : rate;
  return level.target === 'proxy' ? `${load}-proxy` : load;
}

export function resolveProfile(file: ScenarioFile, name: string): Profile {
  const raw = file.profiles[name];
  if (raw === undefined) {
    throw new Error(`unknown PROFILE "${name}": choose one of ${Object.keys(file.profiles).join(', ')}`);
  }
  const levels = raw.levels.map((partial, i): Level => {
    const merged = { ...raw.defaults, ...partial };
    const where = `profile ${name}, level ${i + 1}`;
    const executor = merged.executor ?? 'constant-vus';
    if (executor !== 'constant-vus' && executor !== 'constant-arrival-rate')
      throw new Error(`scenarios: ${where}: unknown executor ${String(executor)}`);
    const target = merged.target ?? 'direct';
    if (target !== 'direct' && target !== 'proxy') throw new Error(`scenarios: ${where}: target must be direct or proxy`);
    const settings: LevelSettings = {
      executor,
      vus: positive(merged.vus, `${where}: vus`),
      thinkTimeS: positive(merged.thinkTimeS ?? 0, `${where}: thinkTimeS`, true),
      warmupS: positive(merged.warmupS ?? 0, `${where}: warmupS`, true),
      durationS: positive(merged.durationS, `${where}: durationS`),
      target,
      requestTimeoutS: positive(merged.requestTimeoutS ?? 10, `${where}: requestTimeoutS`),
    };
    if (executor === 'constant-arrival-rate') {
      settings.rate = positive(merged.rate, `${where}: rate`);
      settings.maxVus = positive(merged.maxVus ?? settings.vus, `${where}: maxVus`);
    }
    if (merged.holdConnections !== undefined && merged.holdConnections > 0) {
      settings.holdConnections = positive(merged.holdConnections, `${where}: holdConnections`);
      settings.holdThinkS = positive(merged.holdThinkS ?? 30, `${where}: holdThinkS`);
      settings.holdRampS = positive(merged.holdRampS ?? 15, `${where}: holdRampS`);
    }
    return { ...settings, name: levelName(settings), connections: levelConnections(settings) };
  });
  return { name, description: raw.description, minCores: positive(raw.minCores ?? 1, `profile ${name}: minCores`), levels };
}

export interface ProfileChoice {
  name: string;
  why: string;
}

/**
 * PROFILE=auto (or unset): the profile with the most cores needed that the host has, among
 * those marked for automatic choice (smoke is CI's, never chosen for a reader). Any other
 * name is taken as given.
 */
export function chooseProfile(file: ScenarioFile, requested: string | undefined, hostCores: number): ProfileChoice {
  const wanted = (requested ?? '').trim();
  if (wanted !== '' && wanted !== 'auto') {
    if (file.profiles[wanted] === undefined)
      throw new Error(`unknown PROFILE "${wanted}": choose auto or one of ${Object.keys(file.profiles).join(', ')}`);
    return { name: wanted, why: `PROFILE=${wanted} was asked for (the host has ${hostCores} cores)` };
  }
  const candidates = Object.entries(file.profiles)
    .filter(([, p]) => p.auto !== false)
    .map(([name, p]) => ({ name, minCores: p.minCores ?? 1 }))
    .sort((a, b) => b.minCores - a.minCores);
  const fits = candidates.find((c) => c.minCores <= hostCores);
  const needs = candidates.map((c) => `${c.name} needs ${c.minCores}`).join(', ');
  if (fits === undefined) {
    const smallest = candidates.at(-1);
    if (smallest === undefined) throw new Error('scenarios: no profile can be chosen automatically');
    return {
      name: smallest.name,
      why: `PROFILE=auto: the host has ${hostCores} cores, fewer than any profile needs (${needs}); running the smallest`,
    };
  }
  return { name: fits.name, why: `PROFILE=auto: the host has ${hostCores} cores; ${needs}: ${fits.name} is the largest that fits` };
}

/** MODELS="eventloop,prefork" (or empty: all of them, in models.json's order). */
export function selectModels(_file: ScenarioFile, models: string | undefined): ModelName[] {
  const known = [...MODEL_NAMES];
  if (models === undefined || models.trim() === '') return known;
  const wanted = models.split(/[\s,]+/).filter(Boolean);
  const unknown = wanted.filter((m) => !known.includes(m));
  if (unknown.length > 0) throw new Error(`unknown MODELS ${unknown.join(', ')}: choose from ${known.join(', ')}`);
  return known.filter((m) => wanted.includes(m));
}

/**
 * Requests per second the level asks for. Closed model: each VU sends one request per
 * (think time + response time), so with responses at the 50 ms floor the offer is
 * VUs / (think + 0.05); slower responses lower it (that is the closed model's feedback).
 */
export function offeredRate(level: LevelSettings): number {
  return measuredOfferedRate(level) + holdersRate(level);
}

/** Requests per second the measured scenario offers: what a row's ok/s and latency are of. */
export function measuredOfferedRate(level: LevelSettings): number {
  return level.executor === 'constant-arrival-rate' ? (level.rate ?? 0) : level.vus / (level.thinkTimeS + QUERY_FLOOR_S);
}

/** Requests per second the holders add beside it (the model serves them too; the row does not count them). */
export function holdersRate(level: LevelSettings): number {
  return (level.holdConnections ?? 0) / ((level.holdThinkS ?? 30) + QUERY_FLOOR_S);
}

/** Little's law: queries the database must run at once for the level's offered rate. */
export function neededInFlight(level: LevelSettings, dbDelayS: number = QUERY_FLOOR_S): number {
  return offeredRate(level) * dbDelayS;
}

/** Seconds one model needs for the level, warm-up included (plus k6's start and stop). */
export function levelSeconds(level: LevelSettings): number {
  return level.warmupS + (level.holdRampS ?? 0) + level.durationS + 2 * K6_OVERHEAD_S;
}

/** Start-up, graceful stop and summary of one k6 container, measured roughly here. */
export const K6_OVERHEAD_S = 3;
