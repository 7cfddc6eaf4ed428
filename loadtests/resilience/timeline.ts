// The per-request log of k6/timeline.js turned into figures for a time window: how many
// requests, which answers, how long failures took, when requests succeeded again.
// Pure functions: the tests run them on captured lines, no Docker needed.

export interface RequestRecord {
  target: string;
  /** Start, ms since the epoch (k6's clock: the same host clock as the runner's). */
  start: number;
  ms: number;
  /** 0: no HTTP answer (refused, reset, timeout). */
  status: number;
  /** k6's error code (1050 = request timeout, 0 = none). */
  errorCode: number;
  /** Without an answer: refused, reset, unreachable, closed, timeout, other (from k6's error text). */
  error?: string;
}

/** k6's code for "request timeout": the request hung until the client gave up. */
export const K6_TIMEOUT = 1050;

/** Reads the `R <target> <start> <ms> <status> <errorCode> [<error kind>]` lines out of k6's stderr (console.log lines). */
export function parseTimeline(stderr: string): RequestRecord[] {
  const records: RequestRecord[] = [];
  for (const match of stderr.matchAll(/msg="R (\S+) (\d+) (\d+) (\d+) (\d+)(?: (\S+))?"/g)) {
    const record: RequestRecord = {
      target: match[1]!,
      start: Number(match[2]),
      ms: Number(match[3]),
      status: Number(match[4]),
      errorCode: Number(match[5]),
    };
    if (match[6] !== undefined && match[6] !== '-') record.error = match[6];
    records.push(record);
  }
  return records;
}

export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** What one status means in the tables: "200", "503", "timeout", "refused", "reset", ... */
export function outcome(r: RequestRecord): string {
  if (r.status !== 0) return String(r.status);
  return r.errorCode === K6_TIMEOUT ? 'timeout' : (r.error ?? 'no answer');
}

export interface WindowFigures {
  requests: number;
  ok: number;
  failed: number;
  /** Count per outcome (see outcome()). */
  outcomes: Record<string, number>;
  timeouts: number;
  /** Wall-clock time of the failed requests: fast refusals or hangs. */
  failureMs: { p50: number | null; p99: number | null; max: number | null };
  okMs: { p50: number | null; p99: number | null; max: number | null };
}

/** Requests of `target` that started in [from, to). */
export function windowOf(records: RequestRecord[], target: string, from: number, to: number): RequestRecord[] {
  return records.filter((r) => r.target === target && r.start >= from && r.start < to);
}

export function figures(records: RequestRecord[]): WindowFigures {
  const outcomes: Record<string, number> = {};
  for (const r of records) outcomes[outcome(r)] = (outcomes[outcome(r)] ?? 0) + 1;
  const failed = records
    .filter((r) => r.status !== 200)
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  const ok = records
    .filter((r) => r.status === 200)
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), max: xs.at(-1) ?? null });
  return {
    requests: records.length,
    ok: ok.length,
    failed: failed.length,
    outcomes,
    timeouts: records.filter((r) => r.status === 0 && r.errorCode === K6_TIMEOUT).length,
    failureMs: stats(failed),
    okMs: stats(ok),
  };
}

/**
 * After a failure ended at `since`: when the target answered 200 again, counted from `since`:
 * the first success, and the point after which every request succeeded (null: never, or
 * failures continued to the end of the run).
 */
export function recovery(records: RequestRecord[], target: string, since: number): { firstOkMs: number | null; allOkMs: number | null } {
  const after = records.filter((r) => r.target === target && r.start + r.ms >= since).sort((a, b) => a.start + a.ms - (b.start + b.ms));
  const firstOk = after.find((r) => r.status === 200);
  const lastFailure = after.filter((r) => r.status !== 200).at(-1);
  const okAfterLastFailure =
    lastFailure === undefined ? firstOk : after.find((r) => r.status === 200 && r.start > lastFailure.start + lastFailure.ms - 1);
  return {
    firstOkMs: firstOk === undefined ? null : firstOk.start + firstOk.ms - since,
    allOkMs: okAfterLastFailure === undefined ? null : Math.max(0, okAfterLastFailure.start + okAfterLastFailure.ms - since),
  };
}
