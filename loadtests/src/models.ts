// Every model of the project, from models.json at the repository root: the one list that the
// runner, the report, the resilience runs and the memory benchmark read.
import { readFileSync } from 'node:fs';

export type Behaviour =
  { kind: 'handles-all' } | { kind: 'capped'; inFlight: number } | { kind: 'decent-until'; connections: number } | { kind: 'falls-over' };

export interface SeedClaim {
  row: string;
  memory: string;
  memoryBytes: number;
  at5k: string;
  bottleneck: string;
  behaviour: Behaviour;
}

export interface ModelSpec {
  /** The compose service, the proxy path /<name>/ and the x-model header. */
  name: string;
  title: string;
  /** The folder under services/ that implements it. */
  service: string;
  language: 'node' | 'go';
  /** The loopback port compose publishes it on by default. */
  port: number;
  unit: 'loop' | 'thread' | 'process' | 'goroutine';
  perConnection: boolean;
  /** Requests served at once at most, by construction; null: no such cap. */
  bounded: number | null;
  proxy: { upstreamKeepalive: number };
  /** Knobs as compose passes them: name -> default. */
  env: Record<string, string>;
  seed: SeedClaim;
}

export type ModelName = string;

export const MODELS_FILE = new URL('../../models.json', import.meta.url);

export function readModels(url: URL = MODELS_FILE): ModelSpec[] {
  const parsed = JSON.parse(readFileSync(url, 'utf8')) as { models?: ModelSpec[] };
  if (!Array.isArray(parsed.models) || parsed.models.length === 0) throw new Error(`${url.pathname}: no "models" list`);
  return parsed.models;
}

export const MODELS: readonly ModelSpec[] = readModels();

export function modelSpec(name: ModelName): ModelSpec {
  const spec = MODELS.find((m) => m.name === name);
  if (spec === undefined) throw new Error(`unknown model "${name}": models.json lists ${MODELS.map((m) => m.name).join(', ')}`);
  return spec;
}
