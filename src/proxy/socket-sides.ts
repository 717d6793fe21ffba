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
