// How both adapters read a request target: absolute-form is routed as origin-form.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { originForm, pathOf } from '../src/http-common.ts';

for (const [target, expected] of [
  ['/db?id=5', '/db?id=5'],
  ['http://host/db?id=5', '/db?id=5'],
  ['HTTP://host:3000/db', '/db'],
  ['http://host', '/'],
  ['http://host?id=1', '/?id=1'],
  ['*', '*'],
  ['/http://host/db', '/http://host/db'],
] as const) {
  test(`target ${target} → ${expected}`, () => {
    assert.equal(originForm(target), expected);
  });
}

test('pathOf drops the query', () => {
  assert.equal(pathOf(originForm('http://h/db?id=1')), '/db');
});
