// nginx resolves each model's address once, when it starts. A model container recreated
// (or restarted) since then may have a new address, even another model's old one: nginx
// then sends /eventloop/ to M:N without an error anywhere. Rows through the proxy are only
// worth measuring when each path reaches its own model.

/**
 * The model that answered a proxy path's /healthz, from its x-model header (the proxy keeps
 * /model and /metrics to the compose network, so the evidence endpoint is not the probe).
 */
async function answeredBy(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { connection: 'close' } });
    await res.arrayBuffer();
    return res.ok ? (res.headers.get('x-model') ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

/** One line per proxy path that does not reach its own model; empty when every route is right. */
export async function wrongProxyRoutes(models: readonly string[], proxyBase = 'http://proxy:8080'): Promise<string[]> {
  const answers = await Promise.all(
    models.map(async (model) => [model, await answeredBy(`${proxyBase}/${model}/healthz`, 5_000)] as const),
  );
  return answers
    .filter(([model, answered]) => answered !== model)
    .map(([model, answered]) => `/${model}/ ${answered === undefined ? 'did not answer' : `reaches ${answered}`}`);
}

/**
 * Throws, naming each wrong path, unless every model's proxy path reaches that model. A path
 * that reaches another model is nginx's stale address; one that does not answer is more often
 * the model itself (down, or still working off an earlier load: a unit-per-connection model
 * can take minutes), and each gets its own way out.
 */
export async function assertProxyRoutes(models: readonly string[], proxyBase?: string): Promise<void> {
  const wrong = await wrongProxyRoutes(models, proxyBase);
  if (wrong.length === 0) return;
  const silent = wrong.filter((line) => line.endsWith(' did not answer'));
  const elsewhere = wrong.filter((line) => !silent.includes(line));
  const reasons = [
    elsewhere.length === 0
      ? null
      : `nginx routes ${elsewhere.join(', ')}: it still has the addresses of containers that were recreated since it started, and \`make up\` restarts it`,
    silent.length === 0
      ? null
      : `through nginx ${silent.join(', ')} within 5 s: is that model down or still working off an earlier load? (\`make ps\` shows it unhealthy; it answers again once it recovers, or after \`docker restart\` of its container)`,
  ];
  throw new Error(`${reasons.filter((r) => r !== null).join('; ')}. Then try again`);
}
