// The real deployment, end to end: builds the images from the repository's Dockerfiles,
// starts docker-compose.yml as its own compose project (own name, own ports, so it never
// touches a user's `make up`), and checks from outside what the containers do. Always
// removes its containers, network, volume and images at the end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { get, waitFor } from '@models/common/testing';
import { MODELS as MODEL_SPECS, type ModelSpec } from '../../loadtests/src/models.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECT = `cm-test-${process.pid}`;
// Every model of models.json; a model whose code is not there yet (a Node model without its
// entry file, a Go model without its Dockerfile) is left out of the run.
type Model = string;
const specOf = (model: Model): ModelSpec => MODEL_SPECS.find((m) => m.name === model)!;
const hasCode = (spec: ModelSpec) => existsSync(`${ROOT}services/${spec.service}/${spec.language === 'go' ? 'Dockerfile' : 'src/main.ts'}`);
const MODELS: Model[] = MODEL_SPECS.filter(hasCode).map((m) => m.name);
const MISSING = MODEL_SPECS.filter((m) => !hasCode(m)).map((m) => m.name);
// nginx resolves every upstream at start, and compose starts it only after all the models.
const WITH_PROXY = MISSING.length === 0;
const envName = (model: Model) => model.toUpperCase().replaceAll('-', '_');
// Each /db waits this long in Postgres here (not 50 ms): long enough that requests are still
// in flight when a test stops a model (6 s: a model that starts a thread or a process per
// connection took over 3 s to have 20 of them running on a busy 2-core host; at 4 s forking
// once missed the 3 s it was given).
const DB_DELAY_MS = 6_000;

// Limits deliberately different from the defaults, so a reading that equals them proves
// the value went from compose to the container's cgroup.
const MEMORY = '768m';
const MEMORY_BYTES = 768 * 2 ** 20;
let cpus = 1.5;

const ports = new Map<string, number>();
let env: NodeJS.ProcessEnv = {};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function compose(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', ['compose', '-p', PROJECT, ...args], { cwd: ROOT, env, maxBuffer: 64 * 2 ** 20 });
  return stdout;
}

// docker itself, not compose, for the many small look-ups: docker-compose 1.29 takes
// seconds per call.
const containers = new Map<string, string>();
async function containerOf(service: string): Promise<string> {
  if (containers.size === 0) {
    const { stdout } = await run('docker', [
      'ps',
      '-a',
      '--filter',
      `label=com.docker.compose.project=${PROJECT}`,
      '--format',
      '{{.Label "com.docker.compose.service"}} {{.ID}}',
    ]);
    for (const line of stdout.trim().split('\n')) {
      const [name, id] = line.split(' ');
      if (name && id) containers.set(name, id);
    }
  }
  const id = containers.get(service);
  assert.ok(id, `no container for ${service} in ${PROJECT}`);
  return id;
}

async function inspect(id: string, format: string): Promise<string> {
  return (await run('docker', ['inspect', '--format', format, id])).stdout.trim();
}

/** Every service of the project that is not healthy, with the last output of its healthcheck. */
async function unhealthyServices(): Promise<string> {
  containers.clear();
  const lines: string[] = [];
  for (const service of ['db', ...MODELS, ...(WITH_PROXY ? ['proxy'] : [])]) {
    const id = await containerOf(service).catch(() => undefined);
    if (id === undefined) continue;
    const state = JSON.parse(await inspect(id, '{{json .State}}')) as {
      Status: string;
      Health?: { Status: string; Log?: { ExitCode: number; Output: string }[] };
    };
    if (state.Health?.Status === 'healthy') continue;
    const last = state.Health?.Log?.at(-1);
    const check =
      last === undefined ? '' : `, last check exit ${last.ExitCode}${last.Output.trim() ? `: ${last.Output.trim().slice(0, 200)}` : ''}`;
    // A container that exits (a bad setting) is "unhealthy" with no check run: its last log line says why.
    const said =
      state.Status === 'running'
        ? ''
        : await run('docker', ['logs', '--tail', '1', id]).then(
            ({ stdout, stderr }) => `${stdout}${stderr}`.trim().slice(0, 200),
            () => '',
          );
    lines.push(`${service} is ${state.Health?.Status ?? state.Status} (${state.Status})${check}${said ? `, it said: ${said}` : ''}`);
  }
  return lines.length === 0 ? 'every container is healthy' : lines.join('; ');
}

const direct = (model: Model, path: string) => `http://127.0.0.1:${ports.get(model)}${path}`;
const proxied = (model: Model, path: string) => `http://127.0.0.1:${ports.get('proxy')}/${model}${path}`;

/** Sends raw bytes on a fresh connection (then, with halfClose, shuts down the sending side) and returns all the server sent until it closed. */
function exchange(url: string, payload: string, { halfClose = false, timeoutMs = 15_000 } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write(payload, () => {
        if (halfClose) socket.end();
      }),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // One response is enough: a kept-alive connection would otherwise stay open.
      const text = Buffer.concat(chunks).toString('utf8');
      const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text)?.[1];
      const bodyStart = text.indexOf('\r\n\r\n');
      if (length !== undefined && bodyStart >= 0 && Buffer.byteLength(text.slice(bodyStart + 4)) >= Number(length)) socket.destroy();
    });
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no complete answer from ${url} within ${timeoutMs} ms`)));
  });
}

function parseResponse(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  assert.ok(split > 0, `not an HTTP response: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine = '', ...lines] = raw.slice(0, split).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status, headers, body: raw.slice(split + 4) };
}

async function rowInDatabase(id: number): Promise<number> {
  const { stdout: out } = await run('docker', [
    'exec',
    await containerOf('db'),
    'psql',
    '-U',
    'benchmarkdbuser',
    '-d',
    'hello_world',
    '-tAc',
    `SELECT randomnumber FROM world WHERE id = ${id}`,
  ]);
  return Number(out.trim());
}

async function assertRealRow(url: string, id: number): Promise<void> {
  const res = await get(`${url}?id=${id}`);
  assert.equal(res.status, 200, `${url}: ${res.body}`);
  assert.deepEqual(res.json(), { id, randomNumber: await rowInDatabase(id) }, url);
  assert.ok(res.ms >= 50, `${url} answered in ${res.ms.toFixed(1)} ms: the query waits 50 ms inside Postgres`);
}

describe(`docker-compose.yml as compose project ${PROJECT}`, { timeout: 1_500_000 }, () => {
  before(
    async () => {
      if (MISSING.length > 0) {
        console.log(`# NOTE: no code yet for ${MISSING.join(', ')}: those services and the proxy are left out of this run`);
      }
      const hostCpus = Number((await run('docker', ['info', '--format', '{{.NCPU}}'])).stdout.trim());
      cpus = Math.min(cpus, hostCpus);
      const hostNofile = (await run('sh', ['-c', 'ulimit -Hn'])).stdout.trim();
      for (const name of [...MODELS, 'proxy']) ports.set(name, await freePort());
      env = {
        ...process.env,
        DB_PASSWORD: `test-${process.pid}`,
        DB_ADMIN_PASSWORD: `test-admin-${process.pid}`,
        DB_DELAY_MS: String(DB_DELAY_MS),
        // The services refuse a delay that is not below the statement timeout (5 s by default).
        DB_STATEMENT_TIMEOUT_MS: String(2 * DB_DELAY_MS),
        MODEL_CPUS: String(cpus),
        MODEL_MEMORY: MEMORY,
        NOFILE_LIMIT: hostNofile === 'unlimited' ? '65536' : String(Math.min(65536, Number(hostNofile))),
        // Light enough for a test machine (100 workers need about 4 GB); the model is the same.
        PREFORK_POOL_SIZE: '4',
        PROXY_PORT: String(ports.get('proxy')),
        ...Object.fromEntries(MODELS.map((m) => [`${envName(m)}_PORT`, String(ports.get(m))])),
      };
      await compose('up', '-d', '--build', 'db', ...MODELS, ...(WITH_PROXY ? ['proxy'] : [])).catch(async (err: unknown) => {
        // compose names a dependency that never turned healthy only by its container id: name the service and what its check said.
        throw new Error(
          `compose up failed: ${await unhealthyServices()}\n${
            err instanceof Error
              ? err.message
                  .split('\n')
                  .filter((l) => /ERROR|error/.test(l))
                  .join('\n')
              : String(err)
          }`,
        );
      });
    },
    { timeout: 1_200_000 },
  ); // building every image from a cold cache on 2 cores takes minutes

  after(
    async () => {
      await compose('down', '-v', '--rmi', 'local', '--remove-orphans').catch((err: unknown) => {
        console.error(`compose down failed for ${PROJECT}:`, err);
      });
    },
    { timeout: 120_000 },
  );

  test('every container becomes healthy', async () => {
    const services = ['db', ...MODELS, ...(WITH_PROXY ? ['proxy'] : [])];
    for (const service of services) {
      const id = await containerOf(service);
      await waitFor(
        `${service} healthy`,
        async () => {
          const health = await inspect(id, '{{.State.Health.Status}}');
          assert.notEqual(health, 'unhealthy', `${service} is unhealthy`);
          return health === 'healthy' ? true : undefined;
        },
        240_000,
        1_000,
      );
    }
  });

  test('every model and the proxy run as a non-root user', async () => {
    // `id` is in the Node and nginx images; the Go image may have no shell tools (the next
    // test reads every process's uid from the engine instead).
    for (const service of [...MODELS.filter((m) => specOf(m).language === 'node'), ...(WITH_PROXY ? ['proxy'] : [])]) {
      const id = await containerOf(service);
      const uid = (await run('docker', ['exec', id, 'id', '-u'])).stdout.trim();
      assert.match(uid, /^\d+$/);
      assert.notEqual(uid, '0', `${service} runs as root`);
      assert.notEqual(await inspect(id, '{{.Config.User}}'), '', `${service}: the image sets no USER`);
    }
  });

  test("every Node model's V8 keeps its young generation at 16 MiB per semi-space (services/Dockerfile's NODE_OPTIONS)", async () => {
    // Allocates short-lived objects until V8 has grown its new space as far as it will: 2 x 16
    // MiB with the cap (V8 reported 32-34.25 MiB: a page or two beyond the semi-spaces), 2 x 64
    // MiB without it (node 24 in a 4 GB container; its growth steps are 2 x 32 and 2 x 64). The
    // bound sits between 32 and the first uncapped step, 64. Run with the container's own
    // environment, the one its service started with.
    const probe = [
      "const v8 = require('node:v8'); let keep = []; let most = 0;",
      'for (let i = 0; i < 3e6; i++) { keep.push({ i, s: `x${i}` }); if (keep.length > 2e5) keep = [];',
      "  if (i % 1e4 === 0) most = Math.max(most, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size); }",
      'console.log(most / 2 ** 20);',
    ].join('\n');
    for (const service of MODELS.filter((m) => specOf(m).language === 'node')) {
      const id = await containerOf(service);
      const serviceEnv = (await run('docker', ['exec', id, 'cat', '/proc/1/environ'])).stdout.split('\0');
      assert.ok(serviceEnv.includes('NODE_OPTIONS=--max-semi-space-size=16'), `${service}: its process runs without the cap`);
      const newSpaceMiB = Number((await run('docker', ['exec', id, 'node', '-e', probe])).stdout.trim());
      assert.ok(newSpaceMiB > 16, `${service}: the probe did not make V8 grow its new space (${newSpaceMiB} MiB)`);
      assert.ok(newSpaceMiB < 48, `${service}: V8 grew its new space to ${newSpaceMiB} MiB`);
    }
  });

  test('every process of the database, every model and the proxy runs as a non-root user', async () => {
    // The postgres image starts as root and its entrypoint drops to the postgres user before
    // it runs the server: what counts is the processes' uid, as the engine sees it (docker top).
    // In db only the server's processes: Docker runs the healthcheck (pg_isready) as the
    // image's default user, root, beside them.
    for (const service of ['db', ...MODELS, ...(WITH_PROXY ? ['proxy'] : [])]) {
      const { stdout } = await run('docker', ['top', await containerOf(service), '-o', 'pid,uid,comm']);
      const processes = stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/))
        .filter(([, , command]) => service !== 'db' || command === 'postgres');
      assert.ok(processes.length > 0, `${service}: no processes`);
      for (const [pid, uid, command] of processes) {
        assert.match(uid ?? '', /^\d+$/, `${service}: ${pid} ${command} uid`);
        assert.notEqual(uid, '0', `${service}: process ${pid} (${command}) runs as root`);
      }
    }
  });

  test('every model answers /db directly with a real row after at least 50 ms', async () => {
    for (const [i, model] of MODELS.entries()) await assertRealRow(direct(model, '/db'), 1_000 + i);
  });

  test(
    'every model answers /db through the proxy, the prefix stripped',
    { skip: !WITH_PROXY && 'the proxy needs every model' },
    async () => {
      const health = await get(`http://127.0.0.1:${ports.get('proxy')}/nginx-health`);
      assert.equal(health.status, 200);
      for (const [i, model] of MODELS.entries()) {
        await assertRealRow(proxied(model, '/db'), 2_000 + i);
        const res = await get(proxied(model, '/db?id=abc'));
        assert.equal(res.status, 400, `${model} through the proxy: ${res.body}`);
        assert.equal(res.headers['x-model'], model);
      }
      const unknown = await get(`http://127.0.0.1:${ports.get('proxy')}/nope/db`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json().statusCode, 404);
    },
  );

  test(
    "nginx's own answers are JSON: 414, 400 for a too large header or cookie, 400 unparsable, 404 unknown model, 403 for /model and /metrics",
    { skip: !WITH_PROXY && 'the proxy needs every model' },
    async () => {
      const proxy = `http://127.0.0.1:${ports.get('proxy')}`;
      const cases: { what: string; payload: string; status: number; error: string }[] = [
        {
          what: 'a 9,000-byte request target',
          payload: `GET /${'a'.repeat(9_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
          status: 414,
          error: 'uri_too_long',
        },
        {
          what: 'a 9,000-byte header',
          payload: `GET /${MODELS[0]}/db HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9_000)}\r\nConnection: close\r\n\r\n`,
          status: 400,
          error: 'header_too_large',
        },
        {
          what: 'a 9,000-byte cookie',
          payload: `GET /${MODELS[0]}/db HTTP/1.1\r\nHost: x\r\nCookie: c=${'c'.repeat(9_000)}\r\nConnection: close\r\n\r\n`,
          status: 400,
          error: 'header_too_large',
        },
        { what: 'an unparsable request line', payload: 'NOT HTTP AT ALL\r\n\r\n', status: 400, error: 'bad_request' },
        {
          what: 'an unknown model',
          payload: 'GET /nope/db HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
          status: 404,
          error: 'not_found',
        },
        {
          what: "nginx's internal error page",
          payload: 'GET /.proxy-errors/uri-too-long HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
          status: 404,
          error: 'not_found',
        },
        ...MODELS.flatMap((model) =>
          ['/model', '/metrics', '//model', '/%6Detrics'].map((path) => ({
            what: `/${model}${path}`,
            payload: `GET /${model}${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
            status: 403,
            error: 'forbidden',
          })),
        ),
      ];
      for (const { what, payload, status, error } of cases) {
        const { status: got, headers, body } = parseResponse(await exchange(proxy, payload));
        assert.equal(got, status, `${what} through nginx: ${body}`);
        assert.match(headers['content-type'] ?? '', /^application\/json/, `${what}: content-type`);
        assert.deepEqual(JSON.parse(body), { statusCode: status, error, message: (JSON.parse(body) as { message: string }).message }, what);
      }
    },
  );

  test(
    'through nginx, every model answers an HTTP/1.0 request without Host, and a request followed by a half-close, with its row',
    { skip: !WITH_PROXY && 'the proxy needs every model' },
    async () => {
      const proxy = `http://127.0.0.1:${ports.get('proxy')}`;
      for (const [i, model] of MODELS.entries()) {
        const id = 3_000 + i;
        for (const [what, payload, halfClose] of [
          ['HTTP/1.0 without Host', `GET /${model}/db?id=${id} HTTP/1.0\r\n\r\n`, false],
          ['then shutdown(SHUT_WR)', `GET /${model}/db?id=${id} HTTP/1.1\r\nHost: x\r\n\r\n`, true],
        ] as const) {
          const res = parseResponse(await exchange(proxy, payload, { halfClose }));
          assert.equal(res.status, 200, `${model} ${what}: ${res.body}`);
          assert.equal(res.headers['x-model'], model, `${model} ${what}`);
          assert.deepEqual(JSON.parse(res.body), { id, randomNumber: await rowInDatabase(id) }, `${model} ${what}`);
        }
      }
    },
  );

  test('the CPU and memory limits each container reads from its cgroup are what compose declared', async () => {
    for (const model of MODELS) {
      const id = await containerOf(model);
      const { cgroup } = (await get(direct(model, '/model'))).json<{ cgroup: { cpuQuotaCores: number; memoryLimitBytes: number } }>();
      assert.equal(cgroup.cpuQuotaCores, cpus, `${model} CPU quota`);
      assert.equal(cgroup.memoryLimitBytes, MEMORY_BYTES, `${model} memory limit`);
      assert.equal(Number(await inspect(id, '{{.HostConfig.PidsLimit}}')), 1800, `${model} pids limit`);
      assert.equal(await inspect(id, '{{.HostConfig.ReadonlyRootfs}}'), 'true', `${model} root filesystem`);
      assert.equal(await inspect(id, '{{json .HostConfig.CapDrop}}'), '["ALL"]', `${model} capabilities`);
    }
  });

  test('db stopped: fast 503s; db started again: 200s, and no model container restarted', async () => {
    const before = new Map<Model, string>();
    for (const model of MODELS) {
      before.set(model, await inspect(await containerOf(model), '{{.RestartCount}} {{.State.StartedAt}}'));
    }
    await compose('stop', 'db');
    try {
      for (const model of MODELS) {
        const res = await get(direct(model, '/db'));
        assert.equal(res.status, 503, `${model} with the database stopped: ${res.body}`);
        assert.ok(res.ms < 2_000, `${model} took ${res.ms.toFixed(0)} ms to answer 503`);
        if (WITH_PROXY) assert.equal((await get(proxied(model, '/db'))).status, 503, `${model} through the proxy`);
      }
    } finally {
      await compose('start', 'db');
    }
    for (const model of MODELS) {
      await waitFor(
        `${model} to serve /db again`,
        async () => ((await get(direct(model, '/db'))).status === 200 ? true : undefined),
        90_000,
        500,
      );
      if (WITH_PROXY) assert.equal((await get(proxied(model, '/db'))).status, 200, `${model} through the proxy`);
      assert.equal(
        await inspect(await containerOf(model), '{{.RestartCount}} {{.State.StartedAt}}'),
        before.get(model),
        `${model} was restarted`,
      );
    }
  });

  test('docker stop during load: every request in flight is answered 200, then the model exits 0', async () => {
    for (const model of MODELS) {
      const id = await containerOf(model);
      // As many as the model serves at once (prefork here: PREFORK_POOL_SIZE 4; blocking: 1),
      // at most 20: each waits DB_DELAY_MS inside Postgres, so all are in flight at the stop.
      const bound = specOf(model).bounded;
      const count = Math.min(20, bound === null ? 20 : model === 'prefork' ? Number(env.PREFORK_POOL_SIZE) : bound);
      const batch = () =>
        Promise.all(
          Array.from({ length: count }, (_, i) =>
            get(direct(model, `/db?id=${4_000 + i}`), { timeoutMs: 30_000 }).then(
              (res) => (res.status === 200 ? '200' : `${res.status} ${res.body}`),
              (err: Error) => err.message,
            ),
          ),
        );
      // The pool opens its connections first (on a busy host a new Postgres connection can
      // take longer than the model's 750 ms connect timeout: that is not what this test is about).
      await waitFor(
        `${model} to answer ${count} concurrent requests`,
        async () => ((await batch()).every((r) => r === '200') ? true : undefined),
        60_000,
        0,
      );
      const requests = batch();
      if (bound === null) {
        await waitFor(
          `${count} requests in flight in ${model}`,
          async () => {
            // A thread-per-connection model spends a new thread on /model too: give it time.
            const { inFlight } = (await get(direct(model, '/model'), { timeoutMs: 10_000 })).json<{ inFlight: { now: number } }>();
            // /model itself is in flight while it answers.
            return inFlight.now - 1 >= count ? true : undefined;
            // Within three quarters of the delay: every request is still running when docker stop
            // follows (a thread per connection takes ~30 ms to start each of them on 2 cores).
          },
          (DB_DELAY_MS * 3) / 4,
          20,
        );
      } else {
        // Every worker busy: /model would wait for one of them. A fifth of DB_DELAY_MS is
        // ample for `count` connections on loopback to reach a worker each.
        await new Promise((r) => setTimeout(r, DB_DELAY_MS / 5));
      }
      const started = performance.now();
      await run('docker', ['stop', '--time', '15', id]);
      const seconds = (performance.now() - started) / 1000;
      assert.deepEqual(await requests, Array(count).fill('200'), `${model}: the requests in flight at docker stop`);
      assert.equal(await inspect(id, '{{.State.ExitCode}} {{.State.OOMKilled}}'), '0 false', `${model} did not exit cleanly`);
      assert.ok(seconds < 14, `${model}: stopping took ${seconds.toFixed(1)} s: it waited for SIGKILL`);
      // Started again for the tests below (they stop every model themselves).
      await run('docker', ['start', id]);
      await waitFor(
        `${model} healthy again`,
        async () => ((await inspect(id, '{{.State.Health.Status}}')) === 'healthy' ? true : undefined),
        240_000,
        500,
      );
    }
  });

  test('docker stop: node as PID 1 gets SIGTERM, drains and exits 0 before Docker would kill it', async () => {
    const ids = await Promise.all(MODELS.map((model) => containerOf(model)));
    const started = performance.now();
    await run('docker', ['stop', '--time', '15', ...ids]);
    const seconds = (performance.now() - started) / 1000;
    for (const [i, model] of MODELS.entries()) {
      assert.equal(await inspect(ids[i]!, '{{.State.ExitCode}} {{.State.OOMKilled}}'), '0 false', `${model} did not exit cleanly`);
    }
    assert.ok(seconds < 14, `stopping took ${seconds.toFixed(1)} s: some model waited for SIGKILL`);
  });

  test('a stopped model: its own port refuses at once, nginx answers a JSON 502/504 within its 1 s connect timeout', async () => {
    // Runs after the docker stop above: every model is stopped, nginx still runs.
    for (const model of MODELS) {
      const refused = await get(direct(model, '/db')).then(
        (res) => `answered ${res.status}`,
        (err: NodeJS.ErrnoException) => err.code ?? err.message,
      );
      assert.match(refused, /^(ECONNREFUSED|ECONNRESET)$/, `${model}'s published port after docker stop`);
      if (!WITH_PROXY) continue;
      const res = await get(proxied(model, '/db'), { timeoutMs: 10_000 });
      // 504 when the connect timed out; 502 when the kernel already knows the address is gone.
      assert.ok(res.status === 504 || res.status === 502, `${model} through the proxy while stopped: ${res.status} ${res.body}`);
      assert.equal(res.json().statusCode, res.status);
      assert.ok(res.ms < 2_000, `nginx took ${res.ms.toFixed(0)} ms to give up on the stopped ${model}`);
    }
  });

  test('docker stop while the service boots: the signal is not lost (Docker init as PID 1), no model waits for SIGKILL', async () => {
    // Runs after the tests above stopped every model. docker start returns once the process
    // exists, before node (or the Go runtime) has a handler: without an init, PID 1 ignores
    // SIGTERM then and docker stop waits its whole --time for SIGKILL (exit 137). With
    // compose's init: true the signal reaches the service: its handler drains (exit 0) or,
    // before the handler exists, the default action ends it (exit 143).
    const ids = await Promise.all(MODELS.map((model) => containerOf(model)));
    await run('docker', ['start', ...ids]);
    const started = performance.now();
    await run('docker', ['stop', '--time', '12', ...ids]);
    const seconds = (performance.now() - started) / 1000;
    for (const [i, model] of MODELS.entries()) {
      assert.match(await inspect(ids[i]!, '{{.State.ExitCode}}'), /^(0|143)$/, `${model} stopped during start-up`);
    }
    assert.ok(seconds < 10, `stopping during start-up took ${seconds.toFixed(1)} s: a model waited for SIGKILL`);
  });
});
