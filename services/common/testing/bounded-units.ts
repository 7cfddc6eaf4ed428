// The shared behaviour of a per-connection model given a bound (MAX_THREADS, MAX_PROCS):
// `bound` units serve, `queue` connections wait in the supervisor, the rest get a fast 503
// written by the supervisor itself (no unit started for them).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Evidence } from '../src/stats.ts';
import { get, waitFor, type Response } from './http.ts';
import type { RunningService } from './service.ts';

export interface BoundCase {
  bound: number;
  queue: number;
  /** DB_DELAY_MS the service runs with. */
  delayMs: number;
  /** The header and value that show the supervisor (not a unit) answered. */
  supervisorHeader: [name: string, value: string];
}

export async function assertBoundThenQueueThen503(svc: RunningService, c: BoundCase): Promise<void> {
  const extra = 2;
  const started = performance.now();
  const responses: Response[] = await Promise.all(
    Array.from({ length: c.bound + c.queue + extra }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)),
  );
  const elapsed = performance.now() - started;
  const ok = responses.filter((r) => r.status === 200);
  const turnedAway = responses.filter((r) => r.status === 503);
  assert.equal(ok.length, c.bound + c.queue, responses.map((r) => `${r.status} ${r.body}`).join('\n'));
  assert.equal(turnedAway.length, extra);
  for (const r of turnedAway) {
    assert.equal(r.json<{ error: string }>().error, 'overloaded');
    assert.equal(r.headers[c.supervisorHeader[0]], c.supervisorHeader[1], 'turned away by the supervisor, no unit started');
  }
  // `bound` units at a time: the queued connections waited for a unit to end.
  const rounds = Math.ceil((c.bound + c.queue) / c.bound);
  assert.ok(elapsed >= rounds * c.delayMs, `${c.bound + c.queue} requests over ${c.bound} units took ${elapsed.toFixed(0)} ms`);
  const now = (await get(`${svc.url}/model`)).json<Evidence>();
  assert.equal(now.inFlight.max, c.bound, 'never more requests in flight than the bound');
  assert.equal(now.units.limit, c.bound);
  assert.equal(now.extra.rejected503, extra);
}

/** Opens a connection, sends a complete request and resolves once it is sent (no answer awaited). */
async function sendOnly(url: string, payload: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(payload);
  return socket;
}

/**
 * With a bound of ONE unit (MAX_THREADS=1, MAX_PROCS=1): one keep-alive connection holds
 * the unit, three more clients queue behind it and then reset (RST) their connections.
 * Once the held connection closes, no unit may be started for the three that left.
 */
export async function assertResetClientsCostNoUnit(svc: RunningService): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let before: Evidence;
  try {
    before = (await get(`${svc.url}/model`, { agent })).json<Evidence>(); // this connection now holds the only unit
    const queued = await Promise.all(Array.from({ length: 3 }, () => sendOnly(svc.url, 'GET /db?id=1 HTTP/1.1\r\nHost: x\r\n\r\n')));
    await waitFor(
      'three connections queued',
      async () => {
        const now = (await get(`${svc.url}/model`, { agent })).json<Evidence>();
        return now.extra.queued === 3 ? true : undefined;
      },
      5_000,
    );
    for (const socket of queued) socket.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 200)); // the resets reach the service's kernel
  } finally {
    agent.destroy(); // the held connection closes: its unit ends and the queue moves
  }
  const after = await waitFor(
    'a fresh unit',
    async () => {
      const now = (await get(`${svc.url}/model`)).json<Evidence>();
      return now.extra.queued === 0 ? now : undefined;
    },
    5_000,
  );
  // One unit for the held connection (counted in `before`), one for this last /model; none for the three.
  assert.equal(
    after.units.started - before.units.started,
    1,
    `started ${after.units.started - before.units.started} units after the resets`,
  );
  assert.equal(after.units.alive, 1, 'only the unit answering this request');
}
