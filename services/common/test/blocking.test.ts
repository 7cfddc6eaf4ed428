// The blocking bridge on a real Postgres: the calling thread really waits in the call.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { AtomicsTransport, BlockingStore, DatabaseUnavailableError, createBlockingLink, loadConfig } from '../src/index.ts';
import { startTestDatabase, type TestDatabase } from '../testing/index.ts';

let db: TestDatabase;
let owner: Worker;
let store: BlockingStore;

before(async () => {
  db = await startTestDatabase();
  const config = loadConfig({ ...db.env, DB_POOL_MAX: '1' });
  const link = createBlockingLink();
  owner = new Worker(new URL('./fixtures/blocking-owner.ts', import.meta.url), {
    workerData: { db: config.db, end: { port: link.server, signal: link.client.signal } },
    transferList: [link.server],
  });
  store = new BlockingStore(new AtomicsTransport(link.client, 3_000), () => ({ max: 1, total: 1, idle: 0, waiting: 0 }));
});
after(async () => {
  await store?.close();
  await owner?.terminate();
  await db?.close();
});

test('findWorld returns the row and blocks the calling thread for the whole query', async () => {
  store.findWorld(1); // the owner opens its connection
  const [row] = await db.query<{ randomnumber: number }>('SELECT randomnumber FROM world WHERE id = 77');
  let timerFired = false;
  const timer = setTimeout(() => (timerFired = true), 5);
  await new Promise((r) => setImmediate(r)); // the timer is armed; now block
  const started = performance.now();
  const world = store.findWorld(77);
  const waited = performance.now() - started;
  const firedDuringCall = timerFired;
  clearTimeout(timer);
  assert.deepEqual(world, { id: 77, randomNumber: row!.randomnumber });
  assert.ok(waited >= 50, `the call returned after ${waited.toFixed(1)} ms`);
  assert.equal(firedDuringCall, false, 'a 5 ms timer must not run while the thread waits in the call');
});

test('a stopped database is a DatabaseUnavailableError, and calls work again after it restarts', async () => {
  await db.stop();
  try {
    assert.throws(() => store.findWorld(5), DatabaseUnavailableError);
  } finally {
    await db.start();
  }
  let world;
  for (let i = 0; i < 40 && world === undefined; i++) {
    try {
      world = store.findWorld(5);
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  assert.equal(world?.id, 5);
});
