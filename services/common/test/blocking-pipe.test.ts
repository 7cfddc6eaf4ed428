// The pipe transport of the blocking bridge on a real Postgres: a forked child's only
// thread really waits in read(2) while this process (the owner) runs the query.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { PoolStore, loadConfig, servePipeCalls } from '../src/index.ts';
import { startTestDatabase, type TestDatabase } from '../testing/index.ts';
import type { PipeCallResult } from './fixtures/pipe-client.ts';

const FIXTURE = new URL('./fixtures/pipe-client.ts', import.meta.url);
let db: TestDatabase;
let pool: PoolStore;
const children: ChildProcess[] = [];

/** A pipe client process: fd 4 carries its calls to us, fd 5 our answers to it. */
async function startClient(): Promise<{ child: ChildProcess; calls: Readable; answers: Writable }> {
  const child = fork(FIXTURE, [], { stdio: ['inherit', 'inherit', 'inherit', 'ipc', 'pipe', 'pipe'] });
  children.push(child);
  const [message] = (await once(child, 'message')) as [unknown];
  assert.equal(message, 'ready');
  const [, , , , calls, answers] = child.stdio as unknown as [unknown, unknown, unknown, unknown, Readable, Writable];
  return { child, calls, answers };
}

async function findWorld(child: ChildProcess, id: number): Promise<PipeCallResult> {
  const reply = once(child, 'message') as Promise<[PipeCallResult]>;
  child.send(id);
  return (await reply)[0];
}

before(async () => {
  db = await startTestDatabase();
  pool = new PoolStore(loadConfig({ ...db.env, DB_POOL_MAX: '1' }).db, 50, 'blocking-pipe-test', () => undefined);
});
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await pool?.close();
  await db?.close();
});

test('pipe: findWorld returns the row, and the child process is blocked for the whole query', async () => {
  const { child, calls, answers } = await startClient();
  servePipeCalls(calls, answers, pool);
  await findWorld(child, 1); // the pool opens its connection
  const [row] = await db.query<{ randomnumber: number }>('SELECT randomnumber FROM world WHERE id = 77');
  const result = await findWorld(child, 77);
  assert.deepEqual(result.world, { id: 77, randomNumber: row!.randomnumber });
  assert.ok(result.ms >= 50, `the call returned after ${result.ms.toFixed(1)} ms`);
  assert.equal(result.timerFiredDuringCall, false, 'a 5 ms timer must not run while the process waits in the call');
  assert.equal((await findWorld(child, 999_999)).world, null, 'no such row: nothing, not an error');
});

test('pipe: a stopped database is a fast DatabaseUnavailableError, and calls work again after it restarts', async () => {
  const { child, calls, answers } = await startClient();
  servePipeCalls(calls, answers, pool);
  assert.ok((await findWorld(child, 3)).world, 'the database is up');
  await db.stop();
  try {
    const down = await findWorld(child, 5);
    assert.equal(down.error, 'DatabaseUnavailableError', `got ${down.error}: ${down.message}`);
    assert.ok(down.ms < 2_000, `the error took ${down.ms.toFixed(0)} ms (the statement timeout is 5 s)`);
  } finally {
    await db.start();
  }
  let world;
  for (let i = 0; i < 40 && !world; i++) {
    const result = await findWorld(child, 5);
    world = result.world as { id: number } | undefined;
    if (!world) await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(world?.id, 5);
});

test('pipe: the owner closing its side mid-call is an error in the child, not a hang', async () => {
  const { child, calls, answers } = await startClient(); // nobody answers this one
  const reply = findWorld(child, 9);
  await once(calls, 'readable'); // the call has arrived: the child is blocked in read(2)
  await new Promise((r) => setTimeout(r, 200));
  calls.destroy();
  answers.destroy();
  const result = await reply;
  assert.equal(result.error, 'DatabaseUnavailableError', `got ${result.error}: ${result.message}`);
  assert.match(result.message ?? '', /closed the pipe/);
  assert.ok(result.ms >= 200, `the child was blocked until the close (${result.ms.toFixed(0)} ms)`);
});
