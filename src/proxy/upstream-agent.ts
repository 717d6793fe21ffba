/**
 * The keep-alive agent that http-proxy (http-forwarder.ts) and the audit identity lookup send
 * their requests through. Node's agents would dial on their own; these hand every new socket to
 * kubewire's dialler instead, so requests cross proxy-url, honour the connect timeout and fail
 * with the same plain-words UpstreamErrors as the upgrade legs.
 *
 * An idle kept-alive socket is closed after FREE_SOCKET_IDLE_MS, before the server would close
 * it (Node servers after 5 s, Go's after 90 s): a request written to a socket the server is
 * closing at that moment fails with "socket hang up". The forwarder retries an idempotent
 * request once when that happens on a reused socket anyway (http-forwarder.ts).
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

/** Opens one dialled, ready socket (TLS done for https) or rejects with an UpstreamError. */
export type OpenSocket = () => Promise<Duplex>;

/** Below the shortest keep-alive timeout of common API servers and gateways (Node's 5 s). */
export const FREE_SOCKET_IDLE_MS = 4000;

type ConnectionCallback = (err: Error | null, stream: Duplex) => void;

/** Both agents dial the same way: asynchronously, handing the socket (or the error) to the callback. */
function openFor(open: OpenSocket, callback: ConnectionCallback | undefined): undefined {
  open().then((s) => callback?.(null, s), (e: Error) => callback?.(e, undefined as unknown as Duplex));
  return undefined;
}

/**
 * Node's agent gives a free socket the agent's `timeout` and destroys it when that passes while
 * it is free; a socket taken again gets no timeout, so a quiet watch is never cut.
 */
function reuse(socket: Duplex): void {
  (socket as Duplex & { setTimeout(ms: number): void }).setTimeout(0);
}

class DialingHttpsAgent extends https.Agent {
  constructor(private readonly open: OpenSocket) {
    super({ keepAlive: true, timeout: FREE_SOCKET_IDLE_MS });
  }

  override reuseSocket(socket: import('node:net').Socket, req: http.ClientRequest): void {
    reuse(socket);
    super.reuseSocket(socket, req);
  }

  override createConnection(_options: https.RequestOptions, callback?: ConnectionCallback): Duplex | null | undefined {
    return openFor(this.open, callback);
  }
}

class DialingHttpAgent extends http.Agent {
  constructor(private readonly open: OpenSocket) {
    super({ keepAlive: true, timeout: FREE_SOCKET_IDLE_MS });
  }

  override reuseSocket(socket: import('node:net').Socket, req: http.ClientRequest): void {
    reuse(socket);
    super.reuseSocket(socket, req);
  }

  override createConnection(_options: http.ClientRequestArgs, callback?: ConnectionCallback): Duplex | null | undefined {
    return openFor(this.open, callback);
  }
}

/** An https.Agent for an https:// server, an http.Agent for an http:// one. */
export function dialingAgent(secure: boolean, open: OpenSocket): http.Agent {
  return secure ? new DialingHttpsAgent(open) : new DialingHttpAgent(open);
}
