/**
 * exec and attach over WebSocket, as the API server's stream translator (v5) and the
 * kubelet (v4, v1 and the base64 variants) serve them (protocol.md A §1):
 * - the first offered protocol the server knows wins; an offer with none it knows gets
 *   `403 Forbidden` with no body (golang.org/x/net/websocket), which makes kubectl fall back;
 * - right after the 101 one empty message on the lowest output channel;
 * - channel 0 stdin, 4 resize (a JSON stream), 255 the v5 close signal;
 * - at the end the status on channel 3 (JSON from v4, text on failure in v1), then close 1000.
 */
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { JsonObjectStream, terminalSize } from '../codec/json-object-stream.js';
import type { CommandRequest, K8sStatus, RunningCommand, StartCommand } from './contracts.js';
import type { GatewayProfiles } from './gateway-profiles.js';
import { refuseUpgrade } from '../http/raw-response.js';
import { WsSender } from './ws-messages.js';
import { isBase64ChannelProtocol, REMOTE_COMMAND_WS_PROTOCOLS } from '../codec/channel-protocols.js';

/** How long after the 101 the command starts (see runOverWebSocket). */
export const KUBELET_START_MS = 20;

export const WS_REMOTE_COMMAND_PROTOCOLS = REMOTE_COMMAND_WS_PROTOCOLS;

/** The x/net per-frame limit the real servers apply. */
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
const CLOSE_SIGNAL = 255;

export function offeredProtocols(req: IncomingMessage): string[] | null {
  const raw = req.headers['sec-websocket-protocol'];
  if (raw === undefined) return null;
  return (Array.isArray(raw) ? raw.join(',') : raw).split(',').map((p) => p.trim()).filter(Boolean);
}

/** The server's choice among the client's offers, '' when nothing was offered, null on no match. */
export function chooseProtocol(offered: string[] | null, supported: readonly string[]): string | null {
  if (offered === null || offered.length === 0) return '';
  return offered.find((p) => supported.includes(p)) ?? null;
}

/** Accepts a WebSocket upgrade with `protocol` (or none), honouring the no-pong profile. */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string, profiles: GatewayProfiles, onOpen: (ws: WebSocket) => void): void {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE_BYTES,
    autoPong: !profiles.has('no-pong'),
  });
  // ws insists that offered subprotocols are RFC 7230 tokens and answers 400 otherwise, but
  // `SPDY/3.1+portforward.k8s.io` has a '/'. The protocol is already chosen here, so ws does
  // not see the offer, and the answer names the choice (none for the '' of no offer).
  delete req.headers['sec-websocket-protocol'];
  if (protocol) wss.on('headers', (headers) => headers.push(`Sec-WebSocket-Protocol: ${protocol}`));
  wss.handleUpgrade(req, socket, head, (ws) => {
    wss.close();
    // ws clears the socket timeout while it sets the socket up; arm the profile's again.
    armIdleTimeout(socket, profiles);
    ws.on('error', () => ws.terminate());
    onOpen(ws);
  });
}

/** idle-timeout=N: no bytes either way for N seconds cuts TCP, with no close frame or GOAWAY. */
export function armIdleTimeout(socket: Duplex, profiles: GatewayProfiles): void {
  const idle = profiles.idleTimeoutSeconds;
  if (idle !== null && socket instanceof Socket) socket.setTimeout(idle * 1000, () => socket.destroy());
}

export function serveWsRemoteCommand(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  command: CommandRequest,
  startCommand: StartCommand,
  profiles: GatewayProfiles,
): void {
  const protocol = chooseProtocol(offeredProtocols(req), WS_REMOTE_COMMAND_PROTOCOLS);
  if (protocol === null) {
    refuseUpgrade(socket, 403, null);
    return;
  }
  acceptWebSocket(req, socket, head, protocol, profiles, (ws) => runOverWebSocket(ws, protocol, command, startCommand, profiles));
}

/**
 * The 101 and then, instead of a command, `status` on channel 3 and close 1000: what the API
 * server's translator sends when the leg behind it fails after it accepted the WebSocket (a
 * container runtime's streaming server that cannot be dialled).
 */
export function serveWsStatusOnly(req: IncomingMessage, socket: Duplex, head: Buffer, status: K8sStatus, profiles: GatewayProfiles): void {
  const protocol = chooseProtocol(offeredProtocols(req), WS_REMOTE_COMMAND_PROTOCOLS);
  if (protocol === null) {
    refuseUpgrade(socket, 403, null);
    return;
  }
  acceptWebSocket(req, socket, head, protocol, profiles, (ws) => {
    const sender = new WsSender(ws);
    const text = statusText(status, protocol.startsWith('v4.') || protocol.startsWith('v5.')) ?? '';
    if (isBase64ChannelProtocol(protocol)) sender.send(`3${Buffer.from(text).toString('base64')}`, false);
    else sender.send(Buffer.concat([Buffer.of(3), Buffer.from(text)]), true);
    ws.close(1000);
  });
}

function runOverWebSocket(ws: WebSocket, protocol: string, command: CommandRequest, startCommand: StartCommand, profiles: GatewayProfiles): void {
  const base64 = isBase64ChannelProtocol(protocol);
  const jsonStatus = protocol.startsWith('v4.') || protocol.startsWith('v5.');
  const v5 = protocol.startsWith('v5.');
  const sender = new WsSender(ws);
  const send = (channel: number, data: Buffer): boolean =>
    base64 ? sender.send(String.fromCharCode(0x30 + channel) + data.toString('base64'), false) : sender.send(Buffer.concat([Buffer.of(channel), data]), true);

  // One empty message on the lowest writable channel (kubelet and apiserver alike).
  send(command.stdout ? 1 : command.stderr ? 2 : 3, Buffer.alloc(0));

  let finished = false;
  const resize = new JsonObjectStream(4096);
  // The command's drain listeners are persistent; the sender's are one-shot, so each full
  // send arms one sender drain that calls them all.
  const drainListeners = new Set<() => void>();
  const output = (channel: number) => (data: Buffer): boolean => {
    const ok = send(channel, data);
    if (!ok) sender.onDrain(() => drainListeners.forEach((l) => l()));
    return ok;
  };
  // The command starts a moment after the 101, as a kubelet's does (its exec setup is a round
  // trip away): kubectl creates its streams right after the handshake, and a close frame that
  // came first ("error: closed all streams") would fail a command that ran, which a real API
  // server never gives it the chance to. Until then, what the client sends waits in order.
  let running: RunningCommand | null = null;
  let gone = false;
  const waiting: ((r: RunningCommand) => void)[] = [];
  const withRunning = (f: (r: RunningCommand) => void): void => {
    if (running) f(running);
    else waiting.push(f);
  };
  setTimeout(() => {
    if (gone) return;
    running = start();
    for (const f of waiting.splice(0)) f(running);
  }, KUBELET_START_MS);
  const start = (): RunningCommand => startCommand(command, {
    stdout: output(1),
    stderr: output(2),
    onDrain: (listener) => void drainListeners.add(listener),
    finish: (status) => {
      if (finished) return;
      finished = true;
      const text = statusText(status, jsonStatus);
      if (text !== null && !profiles.has('drop-status')) {
        send(3, Buffer.from(text));
      }
      if (profiles.has('no-close-frame')) {
        // The status is queued ahead of this; end TCP once it is written, with no close frame.
        sender.onDrain(() => setImmediate(() => ws.terminate()));
      } else {
        ws.close(1000);
      }
    },
  });

  // The protocol, not the frame type, says how a message is encoded (apimachinery wsstream
  // conn.go): python-kubernetes sends raw channel bytes in text frames.
  ws.on('message', (data: Buffer) => {
    let channel: number;
    let payload: Buffer;
    if (base64) {
      const text = data.toString('latin1');
      if (text.length === 0) return;
      channel = text.charCodeAt(0) - 0x30;
      payload = Buffer.from(text.slice(1), 'base64');
    } else {
      if (data.length === 0) return;
      channel = data[0]!;
      payload = data.subarray(1);
    }
    if (channel === 0) withRunning((r) => r.stdin(payload));
    else if (channel === 4) {
      for (const item of resize.push(payload.toString('latin1'))) {
        const size = item.ok ? terminalSize(item.value) : null;
        if (size) withRunning((r) => r.resize(size.width, size.height));
      }
    } else if (channel === CLOSE_SIGNAL && v5 && payload.length === 1 && payload[0] === 0) {
      withRunning((r) => r.stdinEnd());
    }
  });
  ws.on('close', () => {
    if (finished) return;
    if (running) running.abort();
    else gone = true;
  });
}

/** The status as the protocol carries it, or null when nothing is sent (v1 success). */
function statusText(status: K8sStatus, json: boolean): string | null {
  if (json) {
    const { kind: _k, apiVersion: _a, ...wire } = status;
    return JSON.stringify(wire);
  }
  return status.status === 'Success' ? null : status.message ?? 'error';
}
