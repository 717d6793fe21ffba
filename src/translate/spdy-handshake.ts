/**
 * The two handshakes of a WebSocket→SPDY translation (protocol.md A §1.2, §2.1, §3c).
 *
 * Towards the client kubewire is the WebSocket server the client expects: the API server's
 * translator (v5), the kubelet (v4, `channel.k8s.io`, their base64 twins
 * `v4.base64.channel.k8s.io` and `base64.channel.k8s.io`, or no subprotocol at all), the
 * API server's tunnel (`SPDY/3.1+portforward.k8s.io`), or for a port-forward without the
 * tunnel the kubelet's legacy WebSocket port-forward (A §3b; its ports in the query, checked
 * before any upgrade as the kubelet checks them). It takes the first protocol in the CLIENT's
 * order that it speaks and answers with that one only, so a client never gets a version it
 * did not offer; an offer with none of them gets x/net's `403 Forbidden` with no body.
 *
 * Towards the upstream it is kubectl's SPDY executor: `POST` on the same path and query,
 * `Upgrade: SPDY/3.1` and one `X-Stream-Protocol-Version` line per protocol, the kubelet's
 * list (v4..v1) for exec and attach, `portforward.k8s.io` for port-forward. The answer is
 * checked as client-go checks it (AM spdy/roundtripper.go `NewConnection`).
 */
import type { IncomingMessage } from 'node:http';
import { hasToken, headerValue, type HttpHead } from '../codec/http1-head.js';
import { legacyPortForwardPorts, splitTarget } from '../codec/k8s-request.js';
import { rawResponseHead } from '../http/raw-response.js';
import { offersTunnel } from '../session/upgrade-kind.js';
import { webSocketAccept } from '../session/handshake.js';
import { carriedRequestLines, KUBELET_SPDY_PROTOCOLS, PORTFORWARD, TUNNEL, type ClientNegotiation, type UpstreamAnswer } from './handshake.js';
import { PORTFORWARD_WS_PROTOCOLS, REMOTE_COMMAND_WS_PROTOCOLS } from '../codec/channel-protocols.js';

/** What kubewire serves a WebSocket exec or attach client, in no order (the client's decides). */
export const CLIENT_WS_PROTOCOLS: readonly string[] = REMOTE_COMMAND_WS_PROTOCOLS;

/** What kubewire serves a legacy WebSocket port-forward client (KL portforward/websocket.go, and v1's names). */
export const CLIENT_WS_PORTFORWARD_PROTOCOLS: readonly string[] = PORTFORWARD_WS_PROTOCOLS;

/** Every `Sec-WebSocket-Protocol` value, comma-split over every line; null when none came. */
export function offeredWebSocketProtocols(req: IncomingMessage): string[] | null {
  const out: string[] = [];
  let seen = false;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'sec-websocket-protocol') continue;
    seen = true;
    for (const p of raw[i + 1]!.split(',')) if (p.trim()) out.push(p.trim());
  }
  return seen ? out : null;
}

const NO_MATCH: ClientNegotiation = { ok: false, status: 403, body: '', headers: {} };

/** The subprotocol of the client's 101 ('' for none), or the refusal its server would give. */
export function negotiateWebSocketClient(req: IncomingMessage, portForward: boolean): ClientNegotiation {
  if (!headerOf(req, 'sec-websocket-key') || headerOf(req, 'sec-websocket-version')?.trim() !== '13') {
    return { ok: false, status: 400, body: 'Bad Request\n', headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Sec-WebSocket-Version': '13' } };
  }
  const offered = offeredWebSocketProtocols(req);
  if (portForward && offersTunnel(offered ?? [])) {
    // The API server's tunnel (AS streamtunnel.go): only a `SPDY/3.1+…` offer is tunnelled.
    if (offered?.includes(TUNNEL)) return { ok: true, protocol: TUNNEL };
    return { ok: false, status: 400, body: 'unable to upgrade: no tunneling spdy protocols provided\n', headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
  }
  if (portForward) {
    // Anything else goes on to the kubelet, which checks the ports before it upgrades.
    const ports = legacyPortForwardPorts(splitTarget(req.url ?? '/').query);
    if (!ports.ok) return { ok: false, status: 400, body: `${ports.message}\n`, headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
  }
  // No header is the '' protocol, which the kubelet serves as v1 (AM wsstream conn.go).
  if (offered === null || offered.length === 0) return { ok: true, protocol: '' };
  const served = portForward ? CLIENT_WS_PORTFORWARD_PROTOCOLS : CLIENT_WS_PROTOCOLS;
  const protocol = offered.find((p) => served.includes(p));
  return protocol === undefined ? NO_MATCH : { ok: true, protocol };
}

/** The client's 101 (RFC 6455 §4.2.2), naming the chosen subprotocol only when there is one. */
export function webSocketAcceptHead(req: IncomingMessage, protocol: string): string {
  const headers: Record<string, string> = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Accept': webSocketAccept(headerOf(req, 'sec-websocket-key')!.trim()) };
  if (protocol) headers['Sec-WebSocket-Protocol'] = protocol;
  return rawResponseHead(101, headers);
}

/** What kubewire offers a SPDY upstream: the kubelet's list, or the port-forward protocol. */
export function upstreamSpdyOffer(portForward: boolean): readonly string[] {
  return portForward ? [PORTFORWARD] : KUBELET_SPDY_PROTOCOLS;
}

/** kubectl's SPDY upgrade request for the client's WebSocket one (CG transport/spdy/spdy.go). */
export function upstreamSpdyRequest(req: IncomingMessage, upstreamHost: string, pathPrefix: string, credentials: Record<string, string | string[]>, offer: readonly string[]): Buffer {
  const lines = carriedRequestLines(req, 'POST', upstreamHost, pathPrefix, credentials);
  lines.push('Connection: Upgrade', 'Upgrade: SPDY/3.1', ...offer.map((p) => `X-Stream-Protocol-Version: ${p}`), 'Content-Length: 0');
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

/**
 * client-go's check of the SPDY answer: a 101 with `Connection: upgrade` and
 * `Upgrade: spdy/3.1`. The chosen protocol must be one offered; none at all is v1 for exec and
 * attach (remotecommand's "did not negotiate a streaming protocol version"), and an error for
 * port-forward.
 */
export function checkSpdyAnswer(head: HttpHead, offer: readonly string[]): UpstreamAnswer {
  const status = head.status ?? 0;
  if (status !== 101) return { kind: 'refused', status };
  if (!/^spdy\/3\.1$/i.test(headerValue(head, 'upgrade')?.trim() ?? '')) return { kind: 'unusable', problem: `the 101 has Upgrade: ${JSON.stringify(headerValue(head, 'upgrade') ?? '')}, not SPDY/3.1` };
  if (!hasToken(head, 'connection', 'upgrade')) return { kind: 'unusable', problem: 'the 101 has no Connection: Upgrade' };
  const protocol = headerValue(head, 'x-stream-protocol-version')?.trim() ?? '';
  if (protocol === '' && !offer.includes(PORTFORWARD)) return { kind: 'accepted', protocol: 'channel.k8s.io' };
  if (!offer.includes(protocol)) return { kind: 'unusable', problem: `the 101 chose the protocol ${JSON.stringify(protocol)}, expected one of ${offer.join(', ')}` };
  return { kind: 'accepted', protocol };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
