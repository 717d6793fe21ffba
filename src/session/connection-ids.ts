/**
 * Ids for what the proxy sees: one per client connection or request (`c12`, `r40`), and one per
 * kubectl command. kubectl sends the same `Kubectl-Session` UUID on every request of one
 * invocation (the pod GET, the WebSocket attempt, its SPDY fallback), so that header groups a
 * command's connections; requests without it form a session of their own.
 */
import type { IncomingMessage } from 'node:http';

export class KubectlSessionTracker {
  private nextConn = 1;
  private nextRequest = 1;

  connId(): string {
    return `c${this.nextConn++}`;
  }

  requestId(): string {
    return `r${this.nextRequest++}`;
  }

  sessionOf(req: IncomingMessage, fallback: string): string {
    const header = req.headers['kubectl-session'];
    const value = Array.isArray(header) ? header[0] : header;
    return value && /^[A-Za-z0-9._-]{1,128}$/.test(value) ? value : fallback;
  }
}
