// The database-connection cap a row reports: fixed pools give a cap, an unbounded
// process-per-connection model does not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionCap } from '../src/runner.ts';
import type { ModelEvidence } from '../src/sampler.ts';

const evidence = (limit: number | null, poolMaxPerUnit: number, pools: number, kind = 'process'): ModelEvidence =>
  ({
    units: { kind, alive: pools, started: pools, limit },
    db: { poolMaxPerUnit, pools, maxConnections: poolMaxPerUnit * pools },
  }) as ModelEvidence;

test('fixed pools: the cap is pool max x pools', () => {
  assert.equal(connectionCap(evidence(100, 1, 100)), 100); // prefork
  assert.equal(connectionCap(evidence(1, 100, 1, 'event-loop')), 100); // event loop
  assert.equal(connectionCap(evidence(null, 100, 1, 'thread')), 100); // threaded: one shared pool
  assert.equal(connectionCap(evidence(4, 50, 4, 'thread')), 200); // mn
});

test('one pool per unit and no unit bound: no cap', () => {
  assert.equal(connectionCap(evidence(null, 1, 7)), null); // forking, unbounded
  assert.equal(connectionCap(evidence(null, 1, 1)), null); // forking with one child alive at that moment
  assert.equal(connectionCap(evidence(50, 1, 7)), 50); // forking with MAX_PROCS=50: the bound, not what is open now
  assert.equal(connectionCap(undefined), null);
});
