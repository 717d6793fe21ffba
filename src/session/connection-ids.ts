/**
 * Ids for what the proxy sees: one per client connection or request (`c12`, `r40`), and one per
 * kubectl command. kubectl sends the same `Kubectl-Session` UUID on every request of one
 * invocation (the pod GET, the WebSocket attempt, its SPDY fallback), so that header groups a
 * command's connections; requests without it form a session of their own.
 *
 * A gateway serves many users, and the header is the client's to choose: a session id belongs
 * to the first user seen with it, and another user's request with the same header gets a
 * session of its own, so nobody's connections land in someone else's audit record.
 */
import type { IncomingMessage } from 'node:http';

/** Session owners remembered; kubectl's sessions last seconds, so the oldest are long over. */
const MAX_OWNERS = 10_000;

export class KubectlSessionTracker {
  private nextConn = 1;
  private nextRequest = 1;
  private readonly owners = new Map<string, string>();

  connId(): string {
    return `c${this.nextConn++}`;
  }

  requestId(): string {
    return `r${this.nextRequest++}`;
  }

  /** `owner`: the user making the request, when the proxy knows (a gateway). */
  sessionOf(req: IncomingMessage, fallback: string, owner?: string): string {
    const header = req.headers['kubectl-session'];
    const value = Array.isArray(header) ? header[0] : header;
    if (!value || !/^[A-Za-z0-9._-]{1,128}$/.test(value)) return fallback;
    if (owner === undefined) return value;
    const first = this.owners.get(value);
    if (first === undefined) {
      this.owners.set(value, owner);
      if (this.owners.size > MAX_OWNERS) this.owners.delete(this.owners.keys().next().value!);
      return value;
    }
    return first === owner ? value : `${value}-${fallback}`;
  }
}
