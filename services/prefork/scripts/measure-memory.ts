// Measures the memory of the prefork service per worker under different worker V8 flags:
// starts a real Postgres and the service with POOL_SIZE workers, sends each worker a
// /db request, then sums RSS (what /model reports) and PSS (shared pages split between
// the processes that share them) over the master and its workers. Not a test: it prints
// numbers for services/prefork/README.md. Usage:
//   node services/prefork/scripts/measure-memory.ts [POOL_SIZE] [variant numbers, e.g. 2,3]
import { readFileSync } from 'node:fs';
import type { Evidence } from '@models/common';
import { get, startService, startTestDatabase } from '@models/common/testing';

const ENTRY = new URL('../src/main.ts', import.meta.url).pathname;
const poolSize = Number(process.argv[2] ?? '100');
const VARIANTS: { name: string; env: Record<string, string> }[] = [
  { name: 'no flags, no compile cache', env: { WORKER_NODE_OPTIONS: '', NODE_DISABLE_COMPILE_CACHE: '1' } },
  { name: 'no flags, compile cache', env: { WORKER_NODE_OPTIONS: '' } },
  { name: 'default: --max-semi-space-size=1 --v8-pool-size=1, compile cache', env: {} },
  {
    name: '+ --single-threaded-gc --max-old-space-size=64',
    env: { WORKER_NODE_OPTIONS: '--max-semi-space-size=1 --v8-pool-size=1 --single-threaded-gc --max-old-space-size=64' },
  },
];

const only = process.argv[3]?.split(',').map(Number);
const kb = (file: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(file, 'utf8'))?.[1] ?? 0) * 1024;
const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

const db = await startTestDatabase();
try {
  for (const [index, variant] of VARIANTS.entries()) {
    if (only !== undefined && !only.includes(index)) continue;
    console.error(`starting: ${variant.name}`);
    const started = performance.now();
    const svc = await startService(ENTRY, { ...db.env, POOL_SIZE: String(poolSize), DB_DELAY_MS: '50', ...variant.env }, 300_000);
    const startSeconds = (performance.now() - started) / 1000;
    try {
      // Every worker runs a query (opens its connection), a few times over.
      for (let round = 0; round < 3; round++)
        await Promise.all(Array.from({ length: poolSize }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
      const evidence = (await get(`${svc.url}/model`)).json<Evidence>();
      const master = svc.child.pid!;
      const workers = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).map(Number);
      const rss = (pid: number) => kb(`/proc/${pid}/status`, 'VmRSS');
      const pss = (pid: number) => kb(`/proc/${pid}/smaps_rollup`, 'Pss');
      const sum = (f: (pid: number) => number) => workers.reduce((total, pid) => total + f(pid), 0);
      console.log(
        JSON.stringify({
          variant: variant.name,
          poolSize,
          workers: workers.length,
          startSeconds: Math.round(startSeconds * 10) / 10,
          modelRssMiB: mib(evidence.memory.rssBytes),
          masterRssMiB: mib(rss(master)),
          masterPssMiB: mib(pss(master)),
          workerRssMiB: mib(sum(rss) / workers.length),
          workerPssMiB: mib(sum(pss) / workers.length),
          totalPssMiB: mib(sum(pss) + pss(master)),
        }),
      );
    } finally {
      await svc.stop('SIGTERM');
    }
  }
} finally {
  await db.close();
}
