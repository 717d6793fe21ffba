/**
 * The kubelet's legacy WebSocket port-forward (protocol.md A §3b), for clients other than
 * kubectl: the ports come in the query, port i uses channel 2i for data and 2i+1 for error
 * text, and the server's first message on each starts with the port as a little-endian u16.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { DemoPod, DialPodPort } from './contracts.js';
import type { GatewayProfiles } from './gateway-profiles.js';
import { legacyPortForwardPorts } from '../codec/k8s-request.js';
import { refuseUpgrade } from '../http/raw-response.js';
import { acceptWebSocket, chooseProtocol, offeredProtocols } from './ws-remote-command.js';
import { WsSender } from './ws-messages.js';
import { isBase64ChannelProtocol, PORTFORWARD_WS_PROTOCOLS } from '../codec/channel-protocols.js';

export const WS_PORTFORWARD_PROTOCOLS = PORTFORWARD_WS_PROTOCOLS;

export function servePortsOverWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, pod: DemoPod, query: URLSearchParams, dial: DialPodPort, profiles: GatewayProfiles): void {
  const parsed = legacyPortForwardPorts(query);
  if (!parsed.ok) {
    refuseUpgrade(socket, 400, `${parsed.message}\n`);
    return;
  }
  const ports = parsed.ports;
  const protocol = chooseProtocol(offeredProtocols(req), WS_PORTFORWARD_PROTOCOLS);
  if (protocol === null) {
    refuseUpgrade(socket, 403, null);
    return;
  }
  acceptWebSocket(req, socket, head, protocol, profiles, (ws) => forwardPorts(ws, isBase64ChannelProtocol(protocol), pod, ports, dial));
}

function forwardPorts(ws: WebSocket, base64: boolean, pod: DemoPod, ports: number[], dial: DialPodPort): void {
  const sender = new WsSender(ws);
  const send = (channel: number, data: Buffer): boolean =>
    base64 ? sender.send(String.fromCharCode(0x30 + channel) + data.toString('base64'), false) : sender.send(Buffer.concat([Buffer.of(channel), data]), true);
  const prefix = (port: number): Buffer => Buffer.of(port & 0xff, port >> 8);
  const conns: (Duplex | null)[] = ports.map(() => null);
  const pendingInput: Buffer[][] = ports.map(() => []);

  ports.forEach((port, i) => {
    send(2 * i, prefix(port));
    send(2 * i + 1, prefix(port));
    dial(pod, port).then(
      (conn) => {
        if (ws.readyState !== ws.OPEN) {
          conn.destroy();
          return;
        }
        conns[i] = conn;
        conn.on('error', () => conn.destroy());
        conn.on('data', (d: Buffer) => {
          if (!send(2 * i, d)) {
            conn.pause();
            sender.onDrain(() => conn.resume());
          }
        });
        conn.on('close', () => {
          if (conns.every((c) => c === null || c.destroyed)) ws.close(1000);
        });
        for (const b of pendingInput[i]!) conn.write(b);
        pendingInput[i] = [];
      },
      (err: Error) => send(2 * i + 1, Buffer.from(err.message)),
    );
  });

  // The protocol, not the frame type, says how a message is encoded (apimachinery wsstream
  // conn.go): python-kubernetes sends raw channel bytes in text frames.
  ws.on('message', (data: Buffer) => {
    const text = base64;
    if (data.length === 0) return;
    const channel = text ? data[0]! - 0x30 : data[0]!;
    const payload = text ? Buffer.from(data.subarray(1).toString('latin1'), 'base64') : data.subarray(1);
    if (channel % 2 !== 0) return;
    const i = channel / 2;
    const conn = conns[i];
    if (conn) conn.write(payload);
    else if (pendingInput[i]) pendingInput[i]!.push(payload);
  });
  ws.on('close', () => {
    for (const c of conns) c?.destroy();
  });
}
