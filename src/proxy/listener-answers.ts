/**
 * What the proxy's listener answers before any request reaches kubewire's own code. Plain HTTP
 * on the TLS port gets what the API server's Go net/http answers, so the user learns that the
 * URL wants `https://`; anything else that is not TLS is closed. The HTTPS server listens
 * itself: OpenSSL recognises an HTTP request line where a TLS record should start
 * (ssl3_get_record: "http request" for GET, POST, HEAD and PUT, as Go's server answers them,
 * and "https proxy request" for CONNECT), and the answer goes out in plain text on the TCP
 * socket under the TLS one. Go also answers OPTIONS, which OpenSSL does not tell from other
 * bytes: such a connection is closed here.
 *
 * A listener of its own in front of the server used to read each connection's first byte to
 * tell the two apart and hand TLS on with the byte put back. The sockets it handed on cost the
 * relay's thread 0.4 ms per MiB more for the whole life of the connection (2.30 against 1.91
 * ms/MiB, 256 MiB streams through `--payload head`, 5 interleaved rounds; the relay 1.29), which
 * a micro relay with the same hand-over did not show, so it went: this build against the one
 * before it, 1.95 against 2.23 ms/MiB on the relay's thread, 0.79x the relay's throughput
 * against 0.72x.
 *
 * It also answers the requests Node's HTTP parser refuses, instead of closing the socket as
 * Node does by default: 431 for an oversized head, 408 for a head that never completes, 400
 * for the rest, each as Go's server words it.
 */
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';

/** Go's net/http, word for word (server.go, "client sent an HTTP request to an HTTPS server"). */
export const PLAIN_HTTP_ANSWER = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';
/** A connection must finish its TLS handshake within this long, as it had to start talking within it before. */
export const HANDSHAKE_TIMEOUT_MS = 30_000;
/** OpenSSL's errors for a first record that is an HTTP request line (ssl3_get_record). */
const PLAIN_HTTP_ERRORS = new Set(['ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST']);

/**
 * The server's `tlsClientError`: plain HTTP is answered on the TCP socket under the TLS one
 * (the TLS socket's `_parent`, which Node keeps for every TLS socket a server accepts); every
 * other failure just ends the connection, as Node does without a listener.
 */
export function answerPlainHttp(err: NodeJS.ErrnoException, socket: TLSSocket): void {
  const raw = (socket as TLSSocket & { _parent?: Duplex | null })._parent;
  if (err.code !== undefined && PLAIN_HTTP_ERRORS.has(err.code) && raw && raw.writable) {
    raw.on('error', () => {});
    raw.end(PLAIN_HTTP_ANSWER);
    return;
  }
  socket.destroy();
}

/** The answer to a request the HTTP parser refused, as Go's server gives it, then the socket closes. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Node reports the rest of a refused head again: the answer is already on its way.
  if (socket.writableEnded) return;
  if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
  const [status, text] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout']
    : [400, 'Bad Request'];
  const body = `${status} ${text}`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
}
