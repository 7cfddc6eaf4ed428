// Configuration validation: every bad value is one line naming the variable, the value and the rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, listenOptions, loadConfig, readChoice, readInt } from '../src/config.ts';

const base = { DB_PASSWORD: 'x' };

test('defaults: explicit pool size and a connection timeout under 1 s', () => {
  const config = loadConfig(base);
  assert.equal(config.db.poolMax, 10);
  assert.equal(config.db.connectionTimeoutMs, 750);
  assert.equal(config.db.connectTimeoutMs, 5_000);
  assert.equal(config.dbDelayMs, 50);
  assert.equal(config.listenBacklog, 8_192);
  assert.deepEqual(listenOptions(loadConfig({ ...base, HOST: '127.0.0.1', PORT: '0', LISTEN_BACKLOG: '64' })), {
    host: '127.0.0.1',
    port: 0,
    backlog: 64,
  });
  assert.equal(loadConfig(base, { dbPoolMax: 100 }).db.poolMax, 100);
  assert.equal(loadConfig({ ...base, DB_POOL_MAX: '7' }, { dbPoolMax: 100 }).db.poolMax, 7);
});

const rejections: [Record<string, string>, RegExp][] = [
  [{}, /^DB_PASSWORD is required/],
  [{ ...base, PORT: 'eighty' }, /^PORT="eighty" is invalid: expected an integer from 0 to 65535$/],
  [{ ...base, PORT: '70000' }, /^PORT="70000" is invalid/],
  [{ ...base, DB_POOL_MAX: '0' }, /^DB_POOL_MAX="0" is invalid: expected an integer from 1 to 10000$/],
  [{ ...base, DB_POOL_MAX: '1.5' }, /^DB_POOL_MAX="1.5" is invalid/],
  [{ ...base, LOG_LEVEL: 'loud' }, /^LOG_LEVEL="loud" is invalid: expected one of fatal, error, warn, info, debug, trace, silent$/],
  [{ ...base, LISTEN_BACKLOG: '0' }, /^LISTEN_BACKLOG="0" is invalid: expected an integer from 1 to 1048576$/],
  [{ ...base, LISTEN_BACKLOG: 'many' }, /^LISTEN_BACKLOG="many" is invalid/],
  [{ ...base, DB_DELAY_MS: '6000' }, /^DB_DELAY_MS=6000 is invalid: it must be below DB_STATEMENT_TIMEOUT_MS \(5000\)$/],
  [{ ...base, HEADERS_TIMEOUT_MS: '40000' }, /^HEADERS_TIMEOUT_MS=40000 is invalid: it must not exceed REQUEST_TIMEOUT_MS/],
];
for (const [env, message] of rejections) {
  test(`rejects ${JSON.stringify(env)} with one clear line`, () => {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('\n'),
    );
  });
}

test('readInt and readChoice for model-specific variables', () => {
  assert.equal(readInt({ POOL_SIZE: ' 4 ' }, 'POOL_SIZE', { default: 100, min: 1, max: 1000 }), 4);
  assert.equal(readInt({}, 'POOL_SIZE', { default: 100, min: 1, max: 1000 }), 100);
  assert.throws(() => readInt({ POOL_SIZE: '-1' }, 'POOL_SIZE', { min: 1, max: 1000 }), /POOL_SIZE="-1" is invalid/);
  assert.equal(readChoice({ MODE: 'b' }, 'MODE', ['a', 'b'], 'a'), 'b');
});
