// The single-worker blocking baseline (POOL_SIZE=1): one request at a time, strictly in
// order; a bounded queue; a Slowloris connection holds the only worker until the headers
// timeout frees it; a worker killed mid-request is replaced and its request released.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Evidence } from '@models/common';
import { get, startService, startTestDatabase, waitFor, type RunningService, type TestDatabase } from '@models/common/testing';

const ENTRY = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const DELAY_MS = 300;
let db: TestDatabase;

before(async () => {
  db = await startTestDatabase();
});
after(async () => {
  await db?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const evidence = async (url: string) => (await get(`${url}/model`)).json<Evidence>();

/** The master's child processes: its workers. */
function workerPids(svc: RunningService): number[] {
  const pid = svc.child.pid!;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Connects and sends `payload`; resolves with what came back once the server closes the connection. */
function sendAndWait(url: string, payload: string): { connected: Promise<void>; closed: Promise<{ reply: string; ms: number }> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  let started = 0;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  socket.setTimeout(15_000, () => socket.destroy());
  return {
    connected: new Promise((resolve) =>
      socket.once('connect', () => {
        started = performance.now();
        socket.write(payload);
        resolve();
      }),
    ),
    closed: new Promise((resolve) =>
      socket.on('close', () => resolve({ reply: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started })),
    ),
  };
}

describe('blocking (POOL_SIZE=1)', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService(ENTRY, {
      ...db.env,
      POOL_SIZE: '1',
      QUEUE_MAX: '2',
      DB_DELAY_MS: String(DELAY_MS),
      HEADERS_TIMEOUT_MS: '1000',
    });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('concurrent requests are served strictly one after another, by one process', async () => {
    await get(`${svc.url}/db?id=1`); // the worker opens its database connection
    // The worker reports idle once that connection has closed (over IPC): until the master has
    // heard it, the three below would all queue and the third would find QUEUE_MAX=2 full.
    await sleep(200);
    const sent = performance.now();
    const responses = await Promise.all(Array.from({ length: 3 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 200],
    );
    assert.ok(responses.every((r) => r.headers['x-model'] === 'blocking'));
    assert.equal(new Set(responses.map((r) => r.headers['x-pid'])).size, 1, 'one worker process');
    // Each response ends at least one delay after the previous one: no two queries overlapped.
    const ends = responses.map((r) => r.ms).sort((a, b) => a - b);
    for (let i = 1; i < ends.length; i++) {
      assert.ok(
        ends[i]! - ends[i - 1]! >= DELAY_MS * 0.9,
        `responses ended at ${ends.map((e) => e.toFixed(0)).join(', ')} ms: overlapping`,
      );
    }
    assert.ok(performance.now() - sent >= 3 * DELAY_MS);
    const model = await evidence(svc.url);
    assert.equal(model.model, 'blocking');
    assert.equal(model.inFlight.max, 1, 'never more than one request in flight');
  });

  test('with the worker busy and the queue full, another connection gets a fast 503 JSON', async () => {
    // (No /model here: with one worker it would itself wait in the queue.)
    const slow = [get(`${svc.url}/db?id=1`)];
    await sleep(100); // the worker has it
    slow.push(get(`${svc.url}/db?id=2`), get(`${svc.url}/db?id=3`)); // fill the queue (QUEUE_MAX=2)
    await sleep(100);
    const rejected = await get(`${svc.url}/db?id=4`);
    assert.equal(rejected.status, 503, rejected.body);
    assert.ok(rejected.ms < 200, `the 503 took ${rejected.ms.toFixed(0)} ms`);
    assert.match(String(rejected.headers['content-type']), /^application\/json/);
    assert.deepEqual(rejected.json<{ statusCode: number; error: string }>().statusCode, 503);
    assert.equal(rejected.json<{ error: string }>().error, 'overloaded');
    assert.equal(rejected.headers['x-model'], 'blocking');
    assert.equal(Number(rejected.headers['x-pid']), svc.child.pid, 'the master answered');
    assert.deepEqual(
      (await Promise.all(slow)).map((r) => r.status),
      [200, 200, 200],
      'the queued ones are served',
    );
    assert.equal((await evidence(svc.url)).extra.rejected503, 1);
  });

  test('Slowloris: half a request line holds the only worker until the headers timeout answers 408', async () => {
    const loris = sendAndWait(svc.url, 'GET /db?id=1 HT');
    await loris.connected;
    const queued = get(`${svc.url}/db?id=5`); // waits behind the Slowloris connection
    const { reply, ms } = await loris.closed;
    assert.match(reply, /^HTTP\/1\.1 408 /);
    assert.match(reply, /"statusCode":408/);
    assert.match(reply, /x-model: blocking/);
    assert.ok(ms < 2_500, `the half request was cut after ${ms.toFixed(0)} ms (HEADERS_TIMEOUT_MS=1000)`);
    const res = await queued;
    assert.equal(res.status, 200, 'the worker was freed and served the queued request');
    assert.ok(res.ms >= 900, `the queued request waited ${res.ms.toFixed(0)} ms: it really was behind the Slowloris connection`);
  });

  test('the worker killed mid-request: replaced, and its request released from the in-flight count', async () => {
    const [victim] = workerPids(svc);
    assert.ok(victim !== undefined);
    const inFlight = get(`${svc.url}/db?id=6`).then(
      () => 'answered',
      () => 'dropped',
    );
    await sleep(DELAY_MS / 3); // the worker is now blocked in the query
    process.kill(victim, 'SIGKILL');
    assert.equal(await inFlight, 'dropped');
    const model = await waitFor(
      'a replacement',
      async () => {
        const now = await evidence(svc.url);
        return now.units.alive === 1 && !workerPids(svc).includes(victim) ? now : undefined;
      },
      10_000,
    );
    assert.equal(model.inFlight.now, 1, 'only this /model request is in flight');
    assert.equal((await get(`${svc.url}/db?id=7`)).status, 200);
  });
});
