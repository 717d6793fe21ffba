/**
 * Answers written straight onto an upgrade socket, where node's ServerResponse does not exist:
 * refusals (with a Status body, or none, as each real server does) and the SPDY 101.
 */
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';

export function rawResponseHead(status: number, headers: Record<string, string>): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`, `Date: ${new Date().toUTCString()}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Writes a complete refusal and ends the socket. */
export function refuseUpgrade(socket: Duplex, status: number, body: string | object | null, headers: Record<string, string> = {}): void {
  const text = body === null ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const h: Record<string, string> = { ...headers };
  if (body !== null) {
    h['Content-Type'] ??= typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
    h['Content-Length'] = String(Buffer.byteLength(text));
  } else {
    h['Content-Length'] = '0';
  }
  socket.end(rawResponseHead(status, h) + text);
}
