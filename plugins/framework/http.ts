/**
 * The optional observability listener: /healthz (the process and its event loop are alive),
 * /readyz (every resource registered and streamed by the kubelet) and /metrics (Prometheus).
 */
import * as http from 'http';
import type { Logger } from './log';
import type { PluginManager } from './manager';
import type { FrameworkMetrics } from './metrics';

/** `:8080`, `0.0.0.0:8080`, `127.0.0.1:0` or `[::1]:8080` → host and port. */
export function parseListenAddress(addr: string): { host?: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!match) throw new Error(`listen address "${addr}" must look like ":8080" or "127.0.0.1:8080"`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`listen address "${addr}": port ${port} is above 65535`);
  const host = match[1] ?? match[2];
  return { host: host || undefined, port };
}

/** What the listener serves: readiness (with the body explaining it) and the metrics registry. */
export interface HttpSource {
  readiness(): { ready: boolean; body: object };
  metrics: FrameworkMetrics;
}

/**
 * Device-plugin mode's readiness: every resource registered and streamed by the kubelet. `started`
 * says whether the plugin family finished starting (added the resources its configuration names):
 * before that the plugin is not ready even with nothing to register.
 */
export function managerHttpSource(manager: PluginManager, started: () => boolean = () => true): HttpSource {
  return {
    metrics: manager.metrics,
    readiness() {
      // A plugin that refuses allocations (e.g. its CDI spec cannot be written) is not ready: say why.
      const resources = manager.status().map((status) => {
        const problem = manager.server(status.resource)?.plugin.unreadyReason?.();
        return problem ? { ...status, problem } : status;
      });
      const ready = started() && manager.ready() && resources.every((r) => !('problem' in r));
      return { ready, body: { ready, resources } };
    },
  };
}

/** Serves a PluginManager (device-plugin mode) or any HttpSource (DRA mode). */
export async function startHttpServer(
  addr: string,
  target: PluginManager | HttpSource,
  log: Logger,
  started: () => boolean = () => true,
): Promise<http.Server> {
  const source = 'readiness' in target ? target : managerHttpSource(target, started);
  const { host, port } = parseListenAddress(addr);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (url === '/readyz') {
      const { ready, body } = source.readiness();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body) + '\n');
    } else if (url === '/metrics') {
      source.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': source.metrics.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${addr}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  log.info('HTTP listener up', {
    addr: typeof bound === 'object' && bound ? `${bound.address}:${bound.port}` : addr,
  });
  return server;
}
