// models.json is the one list of models; docker-compose.yml, nginx's template, .env.example
// and make up's model list are written by hand beside it. This test fails when any of them
// no longer agrees with models.json: a model missing or extra, a port, a knob's default,
// a proxy path, an upstream keep-alive pool, the 404 text. No Docker needed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { MODELS, type ModelSpec } from '../../loadtests/src/models.ts';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');
const COMPOSE = read('docker-compose.yml');
const NGINX = read('services/proxy/nginx.conf.template');
const ENV_EXAMPLE = read('.env.example');
/** Services of docker-compose.yml that are not models. */
const INFRASTRUCTURE = ['db', 'proxy'];

/** Each top-level service of docker-compose.yml and its lines (two-space indented keys under `services:`). */
function composeServices(text: string): Map<string, string> {
  const body = text.slice(text.indexOf('\nservices:\n'), text.search(/\nvolumes:\n/));
  const services = new Map<string, string>();
  for (const block of body.split(/\n(?= {2}[a-z][a-z0-9_-]*:\n)/).slice(1)) {
    const name = /^ {2}([a-z][a-z0-9_-]*):/.exec(block)?.[1];
    if (name !== undefined) services.set(name, block);
  }
  return services;
}
const SERVICES = composeServices(COMPOSE);

/** The value compose gives `key` in a service block: a literal, or ${VAR:-default}. */
function composeValue(block: string, key: string): { variable?: string; value: string } | undefined {
  const raw = new RegExp(`^ +${key}: "([^"]*)"$`, 'm').exec(block)?.[1];
  if (raw === undefined) return undefined;
  const interpolated = /^\$\{([A-Z0-9_]+):-(.*)\}$/.exec(raw);
  return interpolated ? { variable: interpolated[1]!, value: interpolated[2]! } : { value: raw };
}

const envPrefix = (model: ModelSpec) => model.name.toUpperCase().replaceAll('-', '_');
const envExampleValue = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(ENV_EXAMPLE)?.[1];

/** An nginx block `<kind> <name> { ... }` (no nested braces in the blocks looked up here). */
function nginxBlock(kind: string, name: string): string | undefined {
  return new RegExp(`^ *${kind} ${name} \\{([^}]*)\\}`, 'm').exec(NGINX)?.[1];
}

describe('models.json and the deployment agree', () => {
  test('docker-compose.yml has one service per model and no other but db and proxy', () => {
    assert.deepEqual([...SERVICES.keys()].filter((s) => !INFRASTRUCTURE.includes(s)).sort(), MODELS.map((m) => m.name).sort());
  });

  for (const model of MODELS) {
    test(`compose: ${model.name} is built from services/${model.service}, on port ${model.port}, with models.json's knobs`, () => {
      const block = SERVICES.get(model.name);
      assert.ok(block, `no compose service ${model.name}`);
      assert.match(block, /^ {4}<<: \*model$/m, `${model.name} takes the shared limits (x-model)`);
      assert.match(block, /^ {6}<<: \*model-env$/m, `${model.name} takes the shared environment (x-model-env)`);
      if (model.language === 'go') {
        assert.match(
          block,
          new RegExp(`build: \\{ context: services/${model.service}, dockerfile: Dockerfile \\}`),
          `${model.name}'s build`,
        );
      } else {
        assert.match(
          block,
          new RegExp(`build: \\{ context: \\., dockerfile: services/Dockerfile, args: \\{ MODEL: ${model.service} \\} \\}`),
          `${model.name}'s build`,
        );
      }
      assert.ok(
        block.includes(`\${${envPrefix(model)}_PORT:-${model.port}}:3000"]`),
        `${model.name} is published on \${${envPrefix(model)}_PORT:-${model.port}}`,
      );
      assert.equal(envExampleValue(`${envPrefix(model)}_PORT`), String(model.port), `.env.example ${envPrefix(model)}_PORT`);
      for (const [knob, fallback] of Object.entries(model.env)) {
        const got = composeValue(block, knob);
        assert.ok(got, `${model.name}: compose does not set ${knob}`);
        assert.equal(got.value, fallback, `${model.name}: compose's default for ${knob}`);
        if (got.variable === undefined) continue;
        assert.ok(
          got.variable.startsWith(`${envPrefix(model)}_`),
          `${model.name}: ${knob} comes from ${got.variable}, not a ${envPrefix(model)}_ variable`,
        );
        const example = envExampleValue(got.variable);
        if (example !== undefined) assert.equal(example, fallback, `.env.example ${got.variable}`);
      }
      const environment = block.slice(block.indexOf('    environment:'), block.indexOf('    ports:'));
      const set = [...environment.matchAll(/^ {6}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]);
      assert.deepEqual(set.sort(), Object.keys(model.env).sort(), `${model.name}: compose sets knobs models.json does not list`);
    });
  }

  test('compose: the proxy starts after every model', () => {
    const proxy = SERVICES.get('proxy') ?? '';
    const dependsOn = proxy.slice(proxy.indexOf('depends_on:'), proxy.indexOf('environment:'));
    const listed = [...dependsOn.matchAll(/^ {6}([a-z][a-z0-9_-]*): \{ condition: service_healthy \}$/gm)].map((m) => m[1]);
    assert.deepEqual(listed.sort(), MODELS.map((m) => m.name).sort());
  });

  test('Postgres max_connections exceeds the largest database budget of one model', () => {
    const maxConnections = Number(/max_connections=\$\{PG_MAX_CONNECTIONS:-(\d+)\}/.exec(COMPOSE)?.[1]);
    assert.equal(envExampleValue('PG_MAX_CONNECTIONS'), String(maxConnections));
    const pidsLimit = Number(/^ {2}pids_limit: (\d+)$/m.exec(COMPOSE)?.[1]);
    const defaultCpus = Number(/cpus: "\$\{MODEL_CPUS:-(\d+)\}"/.exec(COMPOSE)?.[1]);
    // Pools per model: one per prefork worker (POOL_SIZE), one per M:N thread (THREADS, empty:
    // the CPU quota), one per forked child (MAX_PROCS 0: unbounded, so the pids limit);
    // threaded's one pool lives in its main thread (MAX_THREADS does not multiply it).
    const budget = (model: ModelSpec) => {
      const pool = Number(model.env.DB_POOL_MAX ?? 1);
      if (model.env.POOL_SIZE !== undefined) return pool * Number(model.env.POOL_SIZE);
      if (model.env.THREADS !== undefined) return pool * (model.env.THREADS === '' ? defaultCpus : Number(model.env.THREADS));
      if (model.env.MAX_PROCS !== undefined) return pool * (model.env.MAX_PROCS === '0' ? pidsLimit : Number(model.env.MAX_PROCS));
      return pool;
    };
    const superuserReserved = Number(/^superuser_reserved_connections = (\d+)$/m.exec(read('db/postgresql.conf'))?.[1]);
    for (const model of MODELS) {
      assert.ok(
        budget(model) < maxConnections - superuserReserved,
        `${model.name} may open ${budget(model)} connections; Postgres allows ${maxConnections - superuserReserved}`,
      );
    }
  });

  for (const model of MODELS) {
    test(`nginx: /${model.name}/ goes to upstream ${model.name} with ${model.proxy.upstreamKeepalive} idle connections per worker`, () => {
      assert.match(NGINX, new RegExp(`^ +location /${model.name}/ \\{ proxy_pass http://${model.name}/; \\}$`, 'm'));
      const upstream = nginxBlock('upstream', model.name);
      assert.ok(upstream, `no upstream ${model.name}`);
      assert.match(upstream, new RegExp(`^ +server ${model.name}:3000[ ;]`, 'm'));
      const keepalive = /^ +keepalive (\d+);$/m.exec(upstream)?.[1];
      assert.equal(Number(keepalive ?? 0), model.proxy.upstreamKeepalive, `${model.name}'s keepalive`);
    });
  }

  test('nginx: "Connection: close" goes exactly to the models without upstream keep-alive', () => {
    const map = nginxBlock('map \\$uri', '\\$connection_to_model');
    const closed = /~\^\/\(([^)]*)\)\/ close;/.exec(map ?? '')?.[1]?.split('|') ?? [];
    assert.deepEqual(
      closed.sort(),
      MODELS.filter((m) => m.proxy.upstreamKeepalive === 0)
        .map((m) => m.name)
        .sort(),
    );
  });

  test('nginx: no location sets a proxy_set_header of its own (it would drop the inherited Host and X-Forwarded-For)', () => {
    const server = NGINX.slice(NGINX.indexOf('listen 8080'));
    assert.doesNotMatch(server, /proxy_set_header/);
  });

  test("nginx: the unknown-path 404 names every model, in models.json's order", () => {
    const names = MODELS.map((m) => `/${m.name}/`);
    const listing = `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
    assert.ok(NGINX.includes(`"unknown model: use ${listing}"`), `the 404 text should say: use ${listing}`);
  });

  test("make up's model list (deploy/model-names.sh, bash and sed) is models.json's", () => {
    const out = execFileSync('bash', [new URL('deploy/model-names.sh', ROOT).pathname], { encoding: 'utf8' });
    assert.deepEqual(
      out.trim().split('\n'),
      MODELS.map((m) => `${m.name} ${m.language}`),
    );
  });
});
