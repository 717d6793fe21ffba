/**
 * The two handshakes of a SPDY→WebSocket translation (protocol.md A §1.2, §2.1).
 *
 * Towards the client kubewire is the kubelet: it picks the first protocol in the CLIENT's order
 * that the kubelet supports (v4..v1, never v5; AM httpstream.go `Handshake`), and takes v5 only
 * when a client offers nothing else. It never answers with a protocol the client did not offer:
 * kubectl 1.27 given v5 panics.
 *
 * Towards the upstream it is kubectl: `GET` on the same path and query with
 * `Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io`. The API server's translator
 * routes on v5 in that first line and picks it; a path that reaches a kubelet's own WebSocket
 * server (an old API server passing the upgrade through) gets v4 there. The answer is checked as
 * client-go checks it (transport/websocket/roundtripper.go).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hasToken, headerValue, type HttpHead } from '../codec/http1-head.js';
import { addedHeaderLines, clientHeaders, joinPath } from '../proxy/request-head.js';
import { webSocketAccept } from '../session/handshake.js';

export const V5 = 'v5.channel.k8s.io';
export const V4 = 'v4.channel.k8s.io';

/** What kubewire offers upstream for exec and attach, best first. */
export const UPSTREAM_PROTOCOLS = [V5, V4] as const;

/** SPDY port-forward's one protocol, and the tunnel that carries it inside WebSocket (KEP-4006). */
export const PORTFORWARD = 'portforward.k8s.io';
export const TUNNEL = 'SPDY/3.1+portforward.k8s.io';

/** The kubelet's SPDY list (SupportedStreamingProtocols), best first. */
const KUBELET_SPDY_PROTOCOLS = [V4, 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

export type ClientNegotiation =
  | { ok: true; protocol: string }
  | { ok: false; status: 400 | 403; body: string; headers: Record<string, string> };

/** The kubelet's SPDY list, for the other direction's upstream offer. */
export { KUBELET_SPDY_PROTOCOLS };

const PLAIN_TEXT = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };

/** Every `X-Stream-Protocol-Version` value, one line per protocol or comma-joined. */
export function offeredSpdyProtocols(req: IncomingMessage): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'x-stream-protocol-version') continue;
    for (const p of raw[i + 1]!.split(',')) if (p.trim()) out.push(p.trim());
  }
  return out;
}

/** The kubelet's port-forward handshake: portforward.k8s.io or a refusal. */
export function negotiatePortForward(offered: readonly string[]): ClientNegotiation {
  if (offered.includes(PORTFORWARD)) return { ok: true, protocol: PORTFORWARD };
  if (offered.length === 0) return negotiateClientProtocol(offered);
  return {
    ok: false,
    status: 403,
    body: `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${PORTFORWARD}]\n`,
    headers: { ...PLAIN_TEXT, 'X-Accepted-Stream-Protocol-Versions': PORTFORWARD },
  };
}

/** The protocol of the client's 101, or the kubelet's refusal (same status and body). */
export function negotiateClientProtocol(offered: readonly string[]): ClientNegotiation {
  if (offered.length === 0) {
    return { ok: false, status: 400, body: 'unable to upgrade: X-Stream-Protocol-Version is required\n', headers: { ...PLAIN_TEXT } };
  }
  const kubelet = offered.find((p) => KUBELET_SPDY_PROTOCOLS.includes(p));
  if (kubelet !== undefined) return { ok: true, protocol: kubelet };
  if (offered.includes(V5)) return { ok: true, protocol: V5 };
  return {
    ok: false,
    status: 403,
    body: `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${KUBELET_SPDY_PROTOCOLS.join(' ')}]\n`,
    headers: { ...PLAIN_TEXT, 'X-Accepted-Stream-Protocol-Versions': KUBELET_SPDY_PROTOCOLS.join(', ') },
  };
}

/** The handshake's own headers, which each direction writes for its upstream protocol (credentials and Host are never carried: request-head.ts). */
const NOT_CARRIED: ReadonlySet<string> = new Set([
  'connection', 'upgrade', 'content-length', 'transfer-encoding',
  'x-stream-protocol-version', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions', 'keep-alive',
]);

export interface UpstreamRequest {
  head: Buffer;
  key: string;
}

/**
 * The WebSocket request for the client's SPDY one: same target, the client's other headers in
 * their order (User-Agent, Kubectl-Command, Kubectl-Session, Impersonate-*), the upstream's
 * credentials instead of kubewire's token, and the handshake headers in kubectl's order.
 */
export function upstreamWebSocketRequest(
  req: IncomingMessage, upstreamHost: string, pathPrefix: string, credentials: Record<string, string | string[]>,
  offer: readonly string[] = UPSTREAM_PROTOCOLS, key = randomBytes(16).toString('base64'),
): UpstreamRequest {
  const lines = carriedRequestLines(req, 'GET', upstreamHost, pathPrefix, credentials);
  lines.push('Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, `Sec-WebSocket-Protocol: ${offer.join(', ')}`, 'Sec-WebSocket-Version: 13', 'Upgrade: websocket');
  return { head: Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), key };
}

/**
 * The request line, Host, the client's other headers in their order (User-Agent,
 * Kubectl-Command, Kubectl-Session, Impersonate-*) and the upstream's credentials instead of
 * kubewire's token: the start of either direction's upstream request.
 */
export function carriedRequestLines(req: IncomingMessage, method: string, upstreamHost: string, pathPrefix: string, credentials: Record<string, string | string[]>): string[] {
  // The same rules as a relayed upgrade's head (request-head.ts): what of the client's goes, and which added values are refused.
  const lines = [`${method} ${joinPath(pathPrefix, req.url ?? '/')} HTTP/1.1`, `Host: ${upstreamHost}`];
  for (const [name, value] of clientHeaders(req, NOT_CARRIED)) lines.push(`${name}: ${value}`);
  lines.push(...addedHeaderLines(credentials));
  return lines;
}

export type UpstreamAnswer =
  | { kind: 'accepted'; protocol: string }
  /** Not a 101: the answer goes back to the client as it came (kubectl prints its Status). */
  | { kind: 'refused'; status: number }
  /** A 101 kubectl would not accept either; `problem` says why. */
  | { kind: 'unusable'; problem: string };

export function checkUpstreamAnswer(head: HttpHead, key: string, offer: readonly string[] = UPSTREAM_PROTOCOLS): UpstreamAnswer {
  const status = head.status ?? 0;
  if (status !== 101) return { kind: 'refused', status };
  if (!/^websocket$/i.test(headerValue(head, 'upgrade')?.trim() ?? '')) return { kind: 'unusable', problem: `the 101 has Upgrade: ${JSON.stringify(headerValue(head, 'upgrade') ?? '')}, not websocket` };
  if (!hasToken(head, 'connection', 'upgrade')) return { kind: 'unusable', problem: 'the 101 has no Connection: Upgrade' };
  const accept = headerValue(head, 'sec-websocket-accept')?.trim() ?? null;
  if (accept !== webSocketAccept(key)) return { kind: 'unusable', problem: accept === null ? 'the 101 has no Sec-WebSocket-Accept' : `the 101 has a wrong Sec-WebSocket-Accept (${accept})` };
  const protocol = headerValue(head, 'sec-websocket-protocol')?.trim() ?? '';
  if (!offer.includes(protocol)) {
    return { kind: 'unusable', problem: `the 101 chose the subprotocol ${JSON.stringify(protocol)}, expected one of ${offer.join(', ')}` };
  }
  return { kind: 'accepted', protocol };
}
