// The shared behaviour of a per-connection model given a bound (MAX_THREADS, MAX_PROCS):
// `bound` units serve, `queue` connections wait in the supervisor, the rest get a fast 503
// written by the supervisor itself (no unit started for them).
import assert from 'node:assert/strict';
import type { Evidence } from '../stats.ts';
import { get, type Response } from './http.ts';
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
  const responses: Response[] = await Promise.all(Array.from({ length: c.bound + c.queue + extra }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
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
