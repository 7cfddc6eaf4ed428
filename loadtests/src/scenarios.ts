// The load profiles (loadtests/scenarios.json) turned into the list of runs for PROFILE and MODELS.
import { readFileSync } from 'node:fs';

export const MODEL_NAMES = ['eventloop', 'mn', 'prefork', 'blocking', 'threaded', 'forking'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

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
}

export interface Level extends LevelSettings {
  /** Tag and file-name part: "100vus", "rate2000". */
  name: string;
}

export interface Profile {
  name: string;
  description: string;
  levels: Level[];
}

export interface ScenarioFile {
  models: string[];
  profiles: Record<string, { description: string; defaults: Partial<LevelSettings>; levels: Partial<LevelSettings>[] }>;
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

export function levelName(level: LevelSettings): string {
  const load = level.executor === 'constant-arrival-rate' ? `rate${level.rate}` : `${level.vus}vus`;
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
    if (executor !== 'constant-vus' && executor !== 'constant-arrival-rate') throw new Error(`scenarios: ${where}: unknown executor ${String(executor)}`);
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
    return { ...settings, name: levelName(settings) };
  });
  return { name, description: raw.description, levels };
}

/** MODELS="eventloop,prefork" (or empty: all of them, in the file's order). */
export function selectModels(file: ScenarioFile, models: string | undefined): ModelName[] {
  const known = file.models.filter((m): m is ModelName => (MODEL_NAMES as readonly string[]).includes(m));
  if (models === undefined || models.trim() === '') return known;
  const wanted = models.split(/[\s,]+/).filter(Boolean);
  const unknown = wanted.filter((m) => !known.includes(m as ModelName));
  if (unknown.length > 0) throw new Error(`unknown MODELS ${unknown.join(', ')}: choose from ${known.join(', ')}`);
  return known.filter((m) => wanted.includes(m));
}

/**
 * Requests per second the level asks for. Closed model: each VU sends one request per
 * (think time + response time), so with responses at the 50 ms floor the offer is
 * VUs / (think + 0.05); slower responses lower it (that is the closed model's feedback).
 */
export function offeredRate(level: LevelSettings): number {
  if (level.executor === 'constant-arrival-rate') return level.rate ?? 0;
  return level.vus / (level.thinkTimeS + QUERY_FLOOR_S);
}

/** Seconds one model needs for the level, warm-up included (plus k6's start and stop). */
export function levelSeconds(level: LevelSettings): number {
  return level.warmupS + level.durationS + 2 * K6_OVERHEAD_S;
}

/** Start-up, graceful stop and summary of one k6 container, measured roughly here. */
export const K6_OVERHEAD_S = 3;
