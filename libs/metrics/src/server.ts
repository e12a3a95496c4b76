// Per-process HTTP endpoint: /metrics (Prometheus text), /healthz (alive: the event loop is not
// stalled), /readyz (the stage says it is ready: connected, partitions assigned or source open).
import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface Readiness {
  /** A short reason when not ready, `true` when ready. */
  ready(): boolean | string | Promise<boolean | string>;
}

export interface MetricsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  readiness?: Readiness;
  /** /healthz fails when the event loop's worst delay over the last interval exceeds this, ms. */
  stallMs?: number;
}

export interface MetricsServer {
  /** The port bound (useful with port 0 in tests). */
  readonly port: number;
  stop(): Promise<void>;
}

/** A registry with the process metrics (CPU, memory, event loop, GC) under the `tollgate_` prefix. */
export function createRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  if (Object.keys(labels).length) registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_' });
  return registry;
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const stallMs = opts.stallMs ?? 5_000;
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let worstMs = 0;
  const sampler = setInterval(() => {
    worstMs = delay.max / 1e6;
    delay.reset();
  }, 2_000);
  sampler.unref();

  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (url === '/metrics') {
      opts.registry.metrics().then(
        (text) => reply(200, text, opts.registry.contentType),
        (err: unknown) => reply(500, `metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    if (url === '/healthz') {
      return worstMs > stallMs ? reply(503, `event loop stalled ${Math.round(worstMs)} ms\n`) : reply(200, 'ok\n');
    }
    if (url === '/readyz') {
      Promise.resolve(opts.readiness ? opts.readiness.ready() : true).then(
        (r) => (r === true ? reply(200, 'ready\n') : reply(503, `not ready: ${r === false ? 'starting' : r}\n`)),
        (err: unknown) => reply(503, `not ready: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    reply(404, 'not found: try /metrics, /healthz, /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  let stopping: Promise<void> | undefined;
  return {
    port,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        clearInterval(sampler);
        delay.disable();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
