// A Postgres that is slow to open sessions, as it is on a busy host: a TCP relay in front of
// the test database that holds every new connection for a while before passing bytes on.
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface SlowDatabase {
  /** Where the services under test connect instead of the database. */
  env: { DB_HOST: string; DB_PORT: string };
  /** Connections a service opened through the relay so far. */
  opened(): number;
  /** Of those, how many the service closed (or abandoned) again. */
  closed(): number;
  close(): Promise<void>;
}

export async function slowDatabase(database: { DB_HOST: string; DB_PORT: string }, openDelayMs: number): Promise<SlowDatabase> {
  let opened = 0;
  let closed = 0;
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    opened += 1;
    sockets.add(client);
    client.pause();
    let upstream: Socket | undefined;
    const timer = setTimeout(() => {
      upstream = connect(Number(database.DB_PORT), database.DB_HOST);
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    }, openDelayMs);
    client.on('error', () => upstream?.destroy());
    client.on('close', () => {
      closed += 1;
      clearTimeout(timer);
      upstream?.destroy();
    });
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  return {
    env: { DB_HOST: '127.0.0.1', DB_PORT: String((relay.address() as AddressInfo).port) },
    opened: () => opened,
    closed: () => closed,
    async close() {
      for (const socket of sockets) socket.destroy();
      relay.close();
      await once(relay, 'close');
    },
  };
}
