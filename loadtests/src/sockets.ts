// Connections counted where they are held: the kernel's socket table of a container's network
// namespace (/proc/net/tcp and /proc/net/tcp6, read with `cat` inside the container). A
// client-side VU count says what k6 meant to hold; this says what the server actually holds.

/** TCP state 01 in /proc/net/tcp: ESTABLISHED. */
const ESTABLISHED = '01';

/**
 * ESTABLISHED sockets whose local port is `port` (the server's side of accepted
 * connections); the model's own connections to Postgres have a different local port.
 * Lines: "sl local_address rem_address st ...", addresses as HEXIP:HEXPORT.
 */
export function countEstablished(procNetTcp: string, port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const line of procNetTcp.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (local === undefined || fields[3] !== ESTABLISHED) continue;
    if (local.slice(local.lastIndexOf(':') + 1).toUpperCase() === hexPort) count += 1;
  }
  return count;
}

export const SOCKET_TABLE_COMMAND = ['cat', '/proc/net/tcp', '/proc/net/tcp6'];
