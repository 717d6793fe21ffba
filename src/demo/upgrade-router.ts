/**
 * Where an upgrade request for exec, attach or port-forward goes: the gateway profiles
 * first (each refuses or degrades the way one real gateway does), then the transport the
 * client asked for: WebSocket channels, the port-forward tunnel, legacy WebSocket ports, or
 * SPDY/3.1 (protocol.md A §1.2, §2.1, §3, §5).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { UpgradeRoute } from './api-server.js';
import type { CommandRequest, DialPodPort, StartCommand } from './contracts.js';
import type { GatewayProfiles } from './gateway-profiles.js';
import { isTrue } from '../codec/k8s-request.js';
import { rawResponseHead, refuseUpgrade } from '../http/raw-response.js';
import { badRequest, internalError } from './k8s-errors.js';
import { SpdyServerConnection } from './spdy-server-connection.js';
import { serveSpdyPortForward } from './spdy-portforward.js';
import { negotiateSpdyProtocol, serveSpdyRemoteCommand, type SpdyNegotiation } from './spdy-remote-command.js';
import { WsByteStream } from './ws-byte-stream.js';
import { servePortsOverWebSocket } from './ws-portforward.js';
import { acceptWebSocket, armIdleTimeout, offeredProtocols, serveWsRemoteCommand, serveWsStatusOnly } from './ws-remote-command.js';

export const TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
export const PORTFORWARD_PROTOCOL = 'portforward.k8s.io';

export interface UpgradeRouterDeps {
  profiles: GatewayProfiles;
  startCommand: StartCommand;
  dial: DialPodPort;
  /** Told what each upgrade became (`websocket v5.channel.k8s.io`, `tunnel`, `refused 403`, …). */
  onServed?: (what: string) => void;
}

export function createUpgradeRouter(deps: UpgradeRouterDeps) {
  const { profiles } = deps;
  const served = (what: string): void => deps.onServed?.(what);
  // Refusals are counted where they are written, by status.
  const refuse = (socket: Duplex, status: number, body: Parameters<typeof refuseUpgrade>[2], headers?: Record<string, string>): void => {
    served(`refused ${status}`);
    refuseUpgrade(socket, status, body, headers);
  };
  return (req: IncomingMessage, socket: Duplex, head: Buffer, route: UpgradeRoute): void => {
    socket.on('error', () => socket.destroy());
    armIdleTimeout(socket, profiles);
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'websocket') webSocket(req, socket, head, route);
    else if (upgrade === 'spdy/3.1') spdy(req, socket, head, route);
    else refuse(socket, 400, upgradeRequired());
  };

  function webSocket(req: IncomingMessage, socket: Duplex, head: Buffer, route: UpgradeRoute): void {
    if (route.kind === 'portforward') {
      const offered = offeredProtocols(req) ?? [];
      if (offered.some((p) => p.startsWith('SPDY/3.1+'))) {
        if (profiles.has('no-pf-websocket')) {
          // The kubelet's answer when the API server passes the tunnel request through untranslated.
          refuse(socket, 400, 'query parameter "port" is required\n');
          return;
        }
        if (!offered.includes(TUNNEL_PROTOCOL)) {
          refuse(socket, 400, `unable to upgrade: no tunneling spdy protocols provided\n`);
          return;
        }
        served('tunnel');
        acceptWebSocket(req, socket, head, TUNNEL_PROTOCOL, profiles, (ws) => {
          const conn = new SpdyServerConnection(new WsByteStream(ws));
          serveSpdyPortForward(conn, route.pod, deps.dial);
        });
        return;
      }
      served('websocket portforward');
      servePortsOverWebSocket(req, socket, head, route.pod, route.query, deps.dial, profiles);
      return;
    }
    if (profiles.has('no-websocket')) {
      // An API server without the stream translator passes the v5 request to the kubelet,
      // whose x/net server knows no v5 and answers 403 with no body.
      refuse(socket, 403, null);
      return;
    }
    if (profiles.has('runtime-http')) {
      // 1.36 proxies WebSocket to the kubelet, which dials the runtime's streaming server over
      // TLS; cri-dockerd serves it over plain HTTP (protocol.md A §5).
      served(`websocket ${route.kind} runtime-http`);
      serveWsStatusOnly(req, socket, head, internalError(`error sending request: Get "https://[::]:36215/cri/${route.kind}/${runtimeToken(route)}": http: server gave HTTP response to HTTPS client`), profiles);
      return;
    }
    served(`websocket ${route.kind}`);
    serveWsRemoteCommand(req, socket, head, commandRequest(route), deps.startCommand, profiles);
  }

  function spdy(req: IncomingMessage, socket: Duplex, head: Buffer, route: UpgradeRoute): void {
    const offered = headerList(req, 'x-stream-protocol-version');
    const n = route.kind === 'portforward' ? negotiatePortForward(offered) : negotiateSpdyProtocol(offered);
    if (!n.ok) {
      refuse(socket, n.status, n.body, n.headers);
      return;
    }
    const protocol = n.protocol;
    const headers: Record<string, string> = { Connection: 'Upgrade', Upgrade: 'SPDY/3.1' };
    if (!profiles.has('no-stream-version')) headers['X-Stream-Protocol-Version'] = protocol;
    served(`spdy ${protocol}`);
    socket.write(rawResponseHead(101, headers));
    const conn = new SpdyServerConnection(socket, { head });
    if (route.kind === 'portforward') serveSpdyPortForward(conn, route.pod, deps.dial);
    else serveSpdyRemoteCommand(conn, protocol, commandRequest(route), deps.startCommand, { dropStatus: () => profiles.has('drop-status') });
  }
}

/**
 * The profiles of a gateway in front of the API server: they act on every upgrade before the
 * API server sees it (so also for pods that do not exist, which is what `kubewire doctor`
 * probes). strip-upgrade: the Upgrade header is removed, and the API server answers as it does
 * then; no-spdy: an AWS ALB, which knows only WebSocket upgrades.
 */
export function createGatewayFront(profiles: GatewayProfiles, onServed?: (what: string) => void) {
  return (req: IncomingMessage, socket: Duplex): boolean => {
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    if (profiles.has('strip-upgrade') || (profiles.has('no-spdy') && upgrade.startsWith('spdy/'))) {
      onServed?.('refused 400');
      refuseUpgrade(socket, 400, upgradeRequired());
      return true;
    }
    return false;
  };
}

/** The API server's answer when the Upgrade/Connection headers did not arrive (upgradeaware.go). */
const upgradeRequired = () => badRequest('Upgrade request required');

/** The kubelet's port-forward handshake accepts only portforward.k8s.io (httpstream.Handshake). */
function negotiatePortForward(offered: string[]): SpdyNegotiation {
  if (offered.includes(PORTFORWARD_PROTOCOL)) return { ok: true, protocol: PORTFORWARD_PROTOCOL };
  const n = negotiateSpdyProtocol(offered);
  if (!n.ok && n.status === 400) return n;
  const body = `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${PORTFORWARD_PROTOCOL}]\n`;
  return { ok: false, status: 403, body, headers: { 'X-Accepted-Stream-Protocol-Versions': PORTFORWARD_PROTOCOL, 'Content-Type': 'text/plain; charset=utf-8' } };
}

function headerList(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) out.push(...req.rawHeaders[i + 1]!.split(',').map((s) => s.trim()).filter(Boolean));
  }
  return out;
}

/** The one-time token a runtime's streaming URL carries (`/cri/exec/qD3xXnYs`), stable per pod. */
function runtimeToken(route: UpgradeRoute): string {
  return Buffer.from(`${route.pod.uid}`).toString('base64url').slice(0, 8);
}

export function commandRequest(route: UpgradeRoute): CommandRequest {
  const q = route.query;
  const flag = (k: string): boolean => isTrue(q.get(k));
  return {
    pod: route.pod,
    container: q.get('container') || route.pod.containers[0]!.name,
    command: q.getAll('command'),
    stdin: flag('stdin'),
    stdout: flag('stdout'),
    stderr: flag('stderr'),
    tty: flag('tty'),
    attach: route.kind === 'attach',
  };
}
