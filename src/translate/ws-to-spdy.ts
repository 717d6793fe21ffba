/**
 * `--translate ws-to-spdy`: a WebSocket exec or attach (v5, v4, `channel.k8s.io` and the
 * base64 variants), a port-forward tunnel, or the kubelet's legacy WebSocket port-forward
 * (ports in the query) from the client, spoken upstream as SPDY/3.1, for clusters that serve
 * streaming only over SPDY (an API server of 1.29 or older, or one with the translator gates
 * off) behind a path that refuses SPDY. Towards the client kubewire is the WebSocket server
 * (spdy-handshake.ts); the shell (shell.ts) runs the rest.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { checkSpdyAnswer, negotiateWebSocketClient, upstreamSpdyOffer, upstreamSpdyRequest, webSocketAcceptHead } from './spdy-handshake.js';
import { translateUpgrade, type Direction, type TranslateContext } from './shell.js';
import { legacyPortForwardPorts } from '../codec/k8s-request.js';
import { TUNNEL } from './handshake.js';
import { TunnelToSpdyBridge } from './tunnel-bridge.js';
import { WsPortForwardToSpdyBridge } from './ws-portforward-bridge.js';
import { WebSocketToSpdyBridge } from './ws-to-spdy-bridge.js';

export const WS_TO_SPDY: Direction = {
  from: 'websocket',
  to: 'spdy',
  negotiate: negotiateWebSocketClient,
  upstreamRequest(req, host, pathPrefix, credentials, portForward) {
    const offer = upstreamSpdyOffer(portForward);
    return { head: upstreamSpdyRequest(req, host, pathPrefix, credentials, offer), check: (head) => checkSpdyAnswer(head, offer) };
  },
  accept: webSocketAcceptHead,
  spdyProtocol: (_clientProtocol, upstreamProtocol) => upstreamProtocol,
  bridge({ portForward, clientProtocol, upstreamProtocol, streams, query, out }) {
    if (!portForward) return new WebSocketToSpdyBridge({ clientProtocol, upstreamProtocol, streams, out });
    if (clientProtocol === TUNNEL) return new TunnelToSpdyBridge({ out });
    // The negotiation refused bad ports already.
    const ports = legacyPortForwardPorts(query);
    return new WsPortForwardToSpdyBridge({ clientProtocol, ports: ports.ok ? ports.ports : [], out });
  },
};

export function translateWsToSpdy(req: IncomingMessage, client: Duplex, head: Buffer, ctx: TranslateContext): Promise<void> {
  return translateUpgrade(req, client, head, ctx, WS_TO_SPDY);
}
