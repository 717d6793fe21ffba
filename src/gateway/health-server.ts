/**
 * The gateway's plain-HTTP side port for the cluster (`--metrics-listen`): `/healthz` (the
 * process serves), `/readyz` (it takes new sessions: listening, and the audit trail can be
 * written), `/metrics` (Prometheus). Apart from the API port, so probes and scrapes need no
 * credential and never reach the API server's own `/healthz` and `/readyz`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthSources {
  /** null when ready, else why not. */
  notReady(): string | null;
  metrics(): string;
}

/**
 * The gateway's readiness: new sessions are taken unless the observer refuses them, which it does
 * with `--audit-fail closed` while the audit trail cannot be written (the store and its spool
 * both refuse records, a file store's disk is full) or once its recorder stopped (the worker
 * died). With `--audit-fail open` the gateway stays ready: it serves unrecorded, as asked, and
 * its log says so.
 */
export function readiness(observer: { refusal(): string | null }): HealthSources['notReady'] {
  return () => observer.refusal();
}

export class HealthServer {
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(host: string, port: number, sources: HealthSources): Promise<HealthServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, type: string, body: string): void => {
        res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'method not allowed\n');
      if (path === '/healthz' || path === '/livez') return send(200, 'text/plain; charset=utf-8', 'ok\n');
      if (path === '/readyz') {
        const why = sources.notReady();
        return why ? send(503, 'text/plain; charset=utf-8', `not ready: ${why}\n`) : send(200, 'text/plain; charset=utf-8', 'ok\n');
      }
      if (path === '/metrics') return send(200, 'text/plain; version=0.0.4; charset=utf-8', sources.metrics());
      send(404, 'text/plain; charset=utf-8', 'not found: /healthz, /readyz and /metrics are served here\n');
    });
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return new HealthServer(server, `http://${h}:${a.port}`);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
