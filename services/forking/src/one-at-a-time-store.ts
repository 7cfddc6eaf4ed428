// A forked child serves ONE connection and, like a CGI program, runs one statement at a
// time on its one database connection. node:http hands it every request a client
// pipelines on that connection at once; without this they would all wait for the one
// connection together and time out (503) instead of being answered one after another,
// the way a process-per-connection server (and prefork, and threaded) answers them.
import type { PoolStats, World, WorldStore } from '@models/common/unit';

export class OneAtATimeStore implements WorldStore {
  readonly #store: WorldStore;
  /** The call before the next one; settled (never rejected) so one failure does not fail the rest. */
  #previous: Promise<unknown> = Promise.resolve();

  constructor(store: WorldStore) {
    this.#store = store;
  }

  findWorld(id: number): Promise<World | undefined> {
    return this.#after(() => this.#store.findWorld(id));
  }

  ping(): Promise<void> {
    return this.#after(() => this.#store.ping());
  }

  poolStats(): PoolStats {
    return this.#store.poolStats();
  }

  close(): Promise<void> {
    return this.#store.close();
  }

  #after<T>(call: () => Promise<T> | T): Promise<T> {
    const result = this.#previous.then(call);
    this.#previous = result.catch(() => undefined);
    return result;
  }
}
