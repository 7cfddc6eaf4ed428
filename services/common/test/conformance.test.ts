// Every model against the same shared-behaviour suite, on one real Postgres.
import { fileURLToPath } from 'node:url';
import { conformanceSuite, type ModelUnderTest } from '../testing/conformance.ts';
import { buildGoService } from '../testing/go-service.ts';

const entry = (model: string) => fileURLToPath(new URL(`../../${model}/src/main.ts`, import.meta.url));

export const MODELS: ModelUnderTest[] = [
  { name: 'eventloop', entry: entry('eventloop'), env: { DB_POOL_MAX: '10' } },
  { name: 'mn', entry: entry('mn'), env: { THREADS: '2', DB_POOL_MAX: '5' } },
  { name: 'prefork', entry: entry('prefork'), env: { POOL_SIZE: '4' } },
  { name: 'blocking', entry: entry('prefork'), env: { POOL_SIZE: '1' } },
  { name: 'threaded', entry: entry('threaded'), env: { DB_POOL_MAX: '10' }, unitPerConnection: true },
  { name: 'forking', entry: entry('forking'), env: {}, unitPerConnection: true },
  // Built with `go build` when its tests start. A goroutine per connection: units come and go.
  { name: 'goroutines', entry: buildGoService, env: { DB_POOL_MAX: '10' }, unitPerConnection: true },
];

conformanceSuite(MODELS);
