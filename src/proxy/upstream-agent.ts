/**
 * The keep-alive agent that http-proxy (http-forwarder.ts) and the audit identity lookup send
 * their requests through. Node's agents would dial on their own; these hand every new socket to
 * kubewire's dialler instead, so requests cross proxy-url, honour the connect timeout and fail
 * with the same plain-words UpstreamErrors as the upgrade legs.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

/** Opens one dialled, ready socket (TLS done for https) or rejects with an UpstreamError. */
export type OpenSocket = () => Promise<Duplex>;

type ConnectionCallback = (err: Error | null, stream: Duplex) => void;

/** Both agents dial the same way: asynchronously, handing the socket (or the error) to the callback. */
function openFor(open: OpenSocket, callback: ConnectionCallback | undefined): undefined {
  open().then((s) => callback?.(null, s), (e: Error) => callback?.(e, undefined as unknown as Duplex));
  return undefined;
}

class DialingHttpsAgent extends https.Agent {
  constructor(private readonly open: OpenSocket) {
    super({ keepAlive: true });
  }

  override createConnection(_options: https.RequestOptions, callback?: ConnectionCallback): Duplex | null | undefined {
    return openFor(this.open, callback);
  }
}

class DialingHttpAgent extends http.Agent {
  constructor(private readonly open: OpenSocket) {
    super({ keepAlive: true });
  }

  override createConnection(_options: http.ClientRequestArgs, callback?: ConnectionCallback): Duplex | null | undefined {
    return openFor(this.open, callback);
  }
}

/** An https.Agent for an https:// server, an http.Agent for an http:// one. */
export function dialingAgent(secure: boolean, open: OpenSocket): http.Agent {
  return secure ? new DialingHttpsAgent(open) : new DialingHttpAgent(open);
}
