/**
 * The listening socket in front of the proxy's TLS server. It reads a connection's first byte
 * and hands TLS (a handshake record, 0x16; RFC 8446 §5.1) to the HTTPS server with the byte
 * put back. Plain HTTP gets what the API server's Go net/http answers, so the user learns that
 * the URL wants `https://`; anything else is closed. One read per connection, before TLS: it
 * never touches a relayed byte.
 *
 * It also answers the requests Node's HTTP parser refuses, instead of closing the socket as
 * Node does by default: 431 for an oversized head, 408 for a head that never completes, 400
 * for the rest, each as Go's server words it.
 */
import net from 'node:net';
import type { Server } from 'node:https';
import type { Duplex } from 'node:stream';

/** Go's net/http, word for word (server.go, "client sent an HTTP request to an HTTPS server"). */
export const PLAIN_HTTP_ANSWER = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';
/** A connection must start talking within this long (the HTTPS server's own handshake timeout follows). */
const FIRST_BYTE_TIMEOUT_MS = 30_000;
const TLS_HANDSHAKE_RECORD = 0x16;

export function frontDoor(tlsServer: Server): net.Server {
  return net.createServer({ pauseOnConnect: true }, (socket) => {
    socket.on('error', () => {});
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE_RECORD) tlsServer.emit('connection', socket);
      else if (/^[A-Z]+ /.test(first.subarray(0, 8).toString('latin1')) || /^[A-Z]+$/.test(first.subarray(0, 8).toString('latin1'))) socket.end(PLAIN_HTTP_ANSWER);
      else socket.destroy();
    });
    socket.resume();
  });
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
