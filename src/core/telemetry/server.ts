/** The self-telemetry endpoint: Prometheus /metrics and a /health check, on loopback by default. */
import { createServer, type Server } from 'node:http';
import type { SelfMetrics } from './metrics.js';
import { closeServer, formatAddress, listen } from '../net/server.js';

export class TelemetryServer {
  private server: Server | undefined;
  address: string | undefined;

  constructor(
    private readonly endpoint: string,
    private readonly metrics: SelfMetrics,
    private readonly healthy: () => boolean,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
        );
      } else if (path === '/health' || path === '/healthz' || path === '/') {
        const ok = this.healthy();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n');
      }
    });
    this.address = formatAddress(await listen(this.server, this.endpoint));
  }

  async shutdown(): Promise<void> {
    if (this.server) await closeServer(this.server);
    this.server = undefined;
  }
}
