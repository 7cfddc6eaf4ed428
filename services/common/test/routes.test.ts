// /db's id rule: absent → random row, not one integer → 400, outside 1..10000 → 404.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWorldId } from '../src/routes.ts';

test('a valid id is returned as a number', () => {
  assert.equal(parseWorldId('1'), 1);
  assert.equal(parseWorldId('10000'), 10_000);
  assert.equal(parseWorldId('+42'), 42);
});

test('no id picks a row in 1..10000', () => {
  assert.equal(
    parseWorldId(undefined, () => 0),
    1,
  );
  assert.equal(
    parseWorldId(undefined, () => 0.99999999),
    10_000,
  );
});

for (const [raw, status] of [
  ['abc', 400],
  ['', 400],
  ['1.0', 400],
  ['1e3', 400],
  [' 1', 400],
  ['0x10', 400],
  ['0', 404],
  ['-5', 404],
  ['10001', 404],
  ['9'.repeat(40), 404],
] as const) {
  test(`id ${JSON.stringify(raw)} → ${status}`, () => {
    const reply = parseWorldId(raw);
    assert.equal(typeof reply, 'object');
    assert.equal((reply as { status: number }).status, status);
    assert.equal((JSON.parse((reply as { body: string }).body) as { statusCode: number }).statusCode, status);
  });
}

test('a repeated id → 400', () => {
  assert.equal((parseWorldId(['1', '2']) as { status: number }).status, 400);
});
