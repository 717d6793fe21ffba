/** Small facts of a relayed socket that the tunnel and the translation shell both need. */
import type { Duplex } from 'node:stream';

/** Pass half-close on instead of ending both ways when one side sends FIN. */
export function halfOpen(socket: Duplex): void {
  (socket as Duplex & { allowHalfOpen: boolean }).allowHalfOpen = true;
}

/** `host:port` of the peer (IPv6 in brackets), or `unknown`. */
export function remoteOf(socket: Duplex): string {
  const s = socket as Duplex & { remoteAddress?: string; remotePort?: number };
  return s.remoteAddress ? `${s.remoteAddress.includes(':') ? `[${s.remoteAddress}]` : s.remoteAddress}:${s.remotePort}` : 'unknown';
}

/**
 * Each write leaves in TLS records of its own: the relay's (each chunk read from one side, as
 * the peer's separate writes came) and a translation bridge's (each message it writes). A Node
 * socket otherwise gathers the chunks queued behind a write in progress into one `writev`,
 * which its TLS layer turns into one record: the bytes are the same, but a client that polls its raw socket before reading a
 * record it already holds (python-kubernetes' ws_client) then waits forever for the status and
 * close frames that came in the record with the output. Directly, the API server's separate
 * writes reach it as separate records. Writing them one by one costs nothing while the receiver
 * keeps up, and the relay already pauses its source when it does not.
 */
export function ownRecords(socket: Duplex): void {
  (socket as unknown as { _writev: unknown })._writev = null;
}
