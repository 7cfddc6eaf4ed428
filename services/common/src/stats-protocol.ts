// The stats protocol between a unit (worker process, worker thread, forked child) and the
// supervisor that owns the Recorder: the unit reports each request's start and end and answers
// /model and /metrics questions. Every kind of endpoint Node has (process, ChildProcess,
// cluster.Worker, Worker, MessagePort) becomes one small Channel that carries it.
import type { Evidence, RequestRecord, Stats } from './stats.ts';
import type { Recorder } from './stats.ts';

export type StatsMessage =
  | { t: 'stats.start' }
  | { t: 'stats.end'; record: RequestRecord }
  | { t: 'stats.ask'; id: number; what: 'metrics' | 'evidence' }
  | { t: 'stats.answer'; id: number; value: string | Evidence | null; error?: string };

export interface Channel {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
}

interface Endpoint {
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/** Wraps a MessagePort/Worker (postMessage) or a process/ChildProcess/cluster.Worker (send). */
// Method syntax (not property syntax) for send: its parameter is then checked bivariantly,
// so a ChildProcess, whose send takes a Serializable, is accepted too.
interface Sender {
  postMessage?(message: unknown): void;
  send?(message: unknown): unknown;
  connected?: boolean;
}

export function toChannel(endpoint: Endpoint & Sender): Channel {
  return {
    send(message) {
      if (endpoint.postMessage) endpoint.postMessage(message);
      // A child whose parent is gone has nobody to tell; dropping is right.
      else if (endpoint.send && endpoint.connected !== false) endpoint.send(message);
    },
    onMessage(listener) {
      endpoint.on('message', listener);
    },
  };
}

function isStatsMessage(message: unknown): message is StatsMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { t?: unknown }).t === 'string' &&
    (message as { t: string }).t.startsWith('stats.')
  );
}

/**
 * Supervisor side: apply a unit's reports to the recorder and answer its questions.
 * Returns how many of this unit's requests are still open, for when the unit dies.
 */
export function serveStats(channel: Channel, recorder: Recorder): { openRequests(): number } {
  let open = 0;
  channel.onMessage((message) => {
    if (!isStatsMessage(message)) return;
    switch (message.t) {
      case 'stats.start':
        open += 1;
        recorder.started();
        break;
      case 'stats.end':
        open = Math.max(0, open - 1);
        recorder.finished(message.record);
        break;
      case 'stats.ask': {
        const answer = message.what === 'metrics' ? recorder.metricsText() : recorder.evidence();
        answer.then(
          (value) => channel.send({ t: 'stats.answer', id: message.id, value }),
          (err: unknown) => channel.send({ t: 'stats.answer', id: message.id, value: null, error: String(err) }),
        );
        break;
      }
    }
  });
  return { openRequests: () => open };
}

/** Unit side: a Stats that reports to the supervisor over the channel. */
export class RemoteStats implements Stats {
  readonly #channel: Channel;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  constructor(channel: Channel) {
    this.#channel = channel;
    channel.onMessage((message) => {
      if (!isStatsMessage(message) || message.t !== 'stats.answer') return;
      const waiter = this.#pending.get(message.id);
      if (waiter === undefined) return;
      this.#pending.delete(message.id);
      if (message.error !== undefined || message.value === null) waiter.reject(new Error(message.error ?? 'no answer'));
      else waiter.resolve(message.value);
    });
  }

  started(): void {
    this.#channel.send({ t: 'stats.start' } satisfies StatsMessage);
  }

  finished(record: RequestRecord): void {
    this.#channel.send({ t: 'stats.end', record } satisfies StatsMessage);
  }

  metricsText(): Promise<string> {
    return this.#ask('metrics') as Promise<string>;
  }

  evidence(): Promise<Evidence> {
    return this.#ask('evidence') as Promise<Evidence>;
  }

  #ask(what: 'metrics' | 'evidence'): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`the supervisor did not answer the ${what} request within 2 s`));
      }, 2_000);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#channel.send({ t: 'stats.ask', id, what } satisfies StatsMessage);
    });
  }
}
