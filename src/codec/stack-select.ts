/**
 * Which decoders read the bytes after a 101, chosen from the two heads as kubectl and the
 * servers choose (protocol.md A §1.2, §2.1, §3):
 * - `Upgrade: websocket` + 101: the negotiated Sec-WebSocket-Protocol names the channel
 *   protocol; a missing one is `""`, which servers treat as channel.k8s.io. A `SPDY/3.1+…`
 *   protocol is the KEP-4006 port-forward tunnel: SPDY inside WebSocket binary messages.
 *   Port-forward with `""`, v4, `channel.k8s.io` or a base64 variant is the kubelet's legacy
 *   WebSocket port-forward.
 * - `Upgrade: SPDY/3.1` + 101: X-Stream-Protocol-Version names the version. A 101 without it
 *   means the v1 semantics, exactly as kubectl falls back (no exit codes, no stdin EOF).
 * - Anything but 101: no stream. The response itself is still reported.
 */
import type { DecodeStackEvent } from '../events/types.js';
import { headerTokens, headerValue, type HttpHead } from './http1-head.js';
import { k8sRequestInfo } from './k8s-request.js';
import { redactProtocol } from '../events/redact.js';

export type StackChoice = Omit<DecodeStackEvent, 'type'>;

export const TUNNEL_PROTOCOL_PREFIX = 'SPDY/3.1+';

/** The negotiated protocol as the summary reports it. */
export function negotiatedProtocol(request: HttpHead | null, response: HttpHead): string | null {
  const upgrade = (request ? headerValue(request, 'upgrade') : null) ?? headerValue(response, 'upgrade');
  if (upgrade?.toLowerCase().startsWith('spdy/')) return headerValue(response, 'x-stream-protocol-version')?.trim() || null;
  const chosen = headerTokens(response, 'sec-websocket-protocol')[0];
  // A server may echo the bearer-token subprotocol; the token never reaches an event.
  return chosen === undefined ? null : redactProtocol(chosen);
}

export function selectStack(request: HttpHead | null, response: HttpHead): StackChoice {
  const protocol = negotiatedProtocol(request, response);
  if (response.status !== 101) {
    return { transport: 'none', protocol: null, semantics: 'none', layers: [], reason: `HTTP ${response.status}: no upgraded stream` };
  }
  const upgrade = ((request ? headerValue(request, 'upgrade') : null) ?? headerValue(response, 'upgrade') ?? '').toLowerCase();
  const operation = request?.target ? k8sRequestInfo(request.target)?.operation ?? null : null;
  if (upgrade === 'websocket') return selectWebSocket(protocol, operation === 'portforward');
  if (upgrade.startsWith('spdy/')) return selectSpdy(protocol, operation === 'portforward');
  return { transport: 'none', protocol, semantics: 'opaque', layers: [], reason: `101 for an upgrade kubewire does not decode (${upgrade || 'no Upgrade header'})` };
}

/**
 * For a capture of the client's side alone: the stack the request's first offer would get from
 * a server that accepted it (kubectl lists its offers best first, and the API server takes the
 * first it knows). The reason says that it is assumed.
 */
export function assumedStack(request: HttpHead): StackChoice {
  const upgrade = (headerValue(request, 'upgrade') ?? '').toLowerCase();
  const operation = request.target ? k8sRequestInfo(request.target)?.operation ?? null : null;
  const assumed = (c: StackChoice): StackChoice => ({ ...c, reason: `assumed, with no server bytes: the client's first offer; ${c.reason}` });
  if (upgrade === 'websocket') {
    const first = headerTokens(request, 'sec-websocket-protocol').map(redactProtocol).find((p) => !p.startsWith('base64url.bearer.authorization.k8s.io')) ?? null;
    return assumed(selectWebSocket(first, operation === 'portforward'));
  }
  if (upgrade.startsWith('spdy/')) return assumed(selectSpdy(headerTokens(request, 'x-stream-protocol-version')[0] ?? null, operation === 'portforward'));
  return { transport: 'none', protocol: null, semantics: 'opaque', layers: [], reason: `no server bytes, and an upgrade kubewire does not decode (${upgrade || 'no Upgrade header'})` };
}

function selectWebSocket(protocol: string | null, portForward: boolean): StackChoice {
  const ws = (semantics: StackChoice['semantics'], layers: string[], reason: string): StackChoice =>
    ({ transport: 'websocket', protocol, semantics, layers: ['websocket', ...layers], reason });
  if (protocol?.startsWith(TUNNEL_PROTOCOL_PREFIX)) {
    return { transport: 'websocket+spdy', protocol, semantics: 'portforward-tunnel', layers: ['websocket', 'spdy', 'portforward'], reason: 'KEP-4006 tunnel: SPDY/3.1 carried in WebSocket binary messages' };
  }
  const p = protocol ?? '';
  if (portForward) {
    // The kubelet serves '', v4 and v4.base64; the v1 names are served too (the demo cluster,
    // `kubewire proxy --translate ws-to-spdy`) with the same channels.
    if (p === '' || p === 'v4.channel.k8s.io' || p === 'channel.k8s.io') return ws('portforward-ws', ['portforward'], `legacy WebSocket port-forward (${p || 'no subprotocol'})`);
    if (p === 'v4.base64.channel.k8s.io' || p === 'base64.channel.k8s.io') return ws('portforward-ws-base64', ['portforward'], 'legacy WebSocket port-forward, base64');
  }
  switch (p) {
    case '':
      return ws('channel-v1', ['channel'], 'no subprotocol: servers use channel.k8s.io');
    case 'channel.k8s.io':
      return ws('channel-v1', ['channel'], 'channel.k8s.io: binary channels, text status');
    case 'base64.channel.k8s.io':
      return ws('base64-v1', ['channel'], 'base64.channel.k8s.io: text frames, text status');
    case 'v4.channel.k8s.io':
      return ws('channel-v4', ['channel'], 'v4.channel.k8s.io: binary channels, JSON status');
    case 'v4.base64.channel.k8s.io':
      return ws('base64-v4', ['channel'], 'v4.base64.channel.k8s.io: text frames, JSON status');
    case 'v5.channel.k8s.io':
      return ws('channel-v5', ['channel'], 'v5.channel.k8s.io: binary channels, JSON status, close signal');
    default:
      return ws('opaque', [], `unknown subprotocol ${JSON.stringify(p)}: WebSocket frames only`);
  }
}

function selectSpdy(protocol: string | null, portForward: boolean): StackChoice {
  const spdy = (semantics: StackChoice['semantics'], layers: string[], reason: string): StackChoice =>
    ({ transport: 'spdy', protocol, semantics, layers: ['spdy', ...layers], reason });
  if (protocol === 'portforward.k8s.io' || (portForward && protocol === null)) {
    return spdy('portforward-spdy', ['portforward'], protocol ? 'portforward.k8s.io streams' : 'port-forward without X-Stream-Protocol-Version');
  }
  switch (protocol) {
    case null:
      return spdy('spdy-v1', ['streams'], 'no X-Stream-Protocol-Version: v1 semantics, as kubectl falls back (exit codes and stdin EOF are lost)');
    case 'channel.k8s.io':
      return spdy('spdy-v1', ['streams'], 'channel.k8s.io: v1 semantics');
    case 'v2.channel.k8s.io':
      return spdy('spdy-v2', ['streams'], 'v2: text status');
    case 'v3.channel.k8s.io':
      return spdy('spdy-v3', ['streams'], 'v3: text status, resize stream');
    case 'v4.channel.k8s.io':
      return spdy('spdy-v4', ['streams'], 'v4: JSON status with exit code');
    case 'v5.channel.k8s.io':
      return spdy('spdy-v5', ['streams'], 'v5 over SPDY behaves as v4');
    default:
      return spdy('opaque', [], `unknown stream protocol ${JSON.stringify(protocol)}: SPDY frames only`);
  }
}

/** Whether the status channel of these semantics carries JSON (v4+) or text (v1-v3). */
export function statusIsJson(semantics: StackChoice['semantics']): boolean {
  return semantics === 'channel-v4' || semantics === 'base64-v4' || semantics === 'channel-v5' || semantics === 'spdy-v4' || semantics === 'spdy-v5';
}
