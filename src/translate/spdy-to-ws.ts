/**
 * `--translate spdy-to-ws`: a SPDY/3.1 exec, attach or port-forward from the client, spoken
 * upstream as WebSocket `v5.channel.k8s.io` (or v4) or the KEP-4006 tunnel, for paths that
 * refuse SPDY. Towards the client kubewire is the kubelet (handshake.ts); the shell
 * (shell.ts) runs the rest.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { rawResponseHead } from '../http/raw-response.js';
import { checkUpstreamAnswer, negotiateClientProtocol, negotiatePortForward, offeredSpdyProtocols, TUNNEL, UPSTREAM_PROTOCOLS, upstreamWebSocketRequest } from './handshake.js';
import { SpdyToWebSocketBridge } from './remotecommand-bridge.js';
import { translateUpgrade, type Direction, type TranslateContext } from './shell.js';
import { SpdyTunnelBridge } from './tunnel-bridge.js';

export type { TranslateContext } from './shell.js';
export { KEEPALIVE_MS, STREAM_CREATION_TIMEOUT_MS } from './shell.js';

export const SPDY_TO_WS: Direction = {
  from: 'spdy',
  to: 'websocket',
  negotiate: (req, portForward) => (portForward ? negotiatePortForward : negotiateClientProtocol)(offeredSpdyProtocols(req)),
  upstreamRequest(req, host, pathPrefix, credentials, portForward) {
    const offer = portForward ? [TUNNEL] : UPSTREAM_PROTOCOLS;
    const request = upstreamWebSocketRequest(req, host, pathPrefix, credentials, offer);
    return { head: request.head, check: (head) => checkUpstreamAnswer(head, request.key, offer) };
  },
  accept: (_req, clientProtocol) => rawResponseHead(101, { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': clientProtocol }),
  spdyProtocol: (clientProtocol) => clientProtocol,
  bridge: ({ portForward, clientProtocol, upstreamProtocol, streams, out }) =>
    portForward ? new SpdyTunnelBridge({ out }) : new SpdyToWebSocketBridge({ clientProtocol, upstreamProtocol, streams, out }),
};

export function translateSpdyToWs(req: IncomingMessage, client: Duplex, head: Buffer, ctx: TranslateContext): Promise<void> {
  return translateUpgrade(req, client, head, ctx, SPDY_TO_WS);
}
