/**
 * The one verdict on an upgrade's answer: would kubectl (client-go) go on to use this
 * connection? Everything that speaks of a refused attempt, a fallback or a stream reads it.
 *
 * kubectl accepts a WebSocket answer only when it is a 101 with `Upgrade: websocket`,
 * `Connection: Upgrade`, the right `Sec-WebSocket-Accept` (RFC 6455 §4.2.2) and a subprotocol
 * it offered (client-go transport/websocket/roundtripper.go); it accepts a SPDY answer when it
 * is a 101 with `Upgrade: SPDY/3.1` and `Connection: Upgrade` (apimachinery
 * util/httpstream/spdy/roundtripper.go). Anything else is an upgrade failure, which kubectl
 * 1.30+ answers by retrying over SPDY (protocol.md B §8).
 */
import { createHash } from 'node:crypto';
import type { HeaderLines, HttpRequestEvent, HttpResponseEvent } from '../events/types.js';
import { upgradeKindOf } from './upgrade-kind.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface Handshake {
  ok: boolean;
  /** Why kubectl rejects the answer, in plain words; null when it accepts it. */
  problem: string | null;
}

/** The first header of that name (case-insensitive), or null. */
export function header(headers: HeaderLines | undefined, name: string): string | null {
  const lower = name.toLowerCase();
  for (const [n, v] of headers ?? []) if (n.toLowerCase() === lower) return v;
  return null;
}

/** RFC 6455 §4.2.2: base64(SHA-1(key + GUID)). */
export function webSocketAccept(key: string): string {
  return createHash('sha1').update(key.trim() + WS_GUID).digest('base64');
}

type Request = Pick<HttpRequestEvent, 'upgrade' | 'headers' | 'offered'>;
type Response = Pick<HttpResponseEvent, 'status' | 'headers' | 'protocol'>;

export function handshakeVerdict(request: Request | null, response: Response | null): Handshake {
  if (!response) return { ok: false, problem: 'no answer' };
  if (response.status !== 101) return { ok: false, problem: `HTTP ${response.status} instead of 101` };
  const upgrade = header(response.headers, 'upgrade') ?? '';
  const connection = header(response.headers, 'connection') ?? '';
  const kind = upgradeKindOf(request?.upgrade);
  if (kind === 'websocket') {
    if (!/^websocket$/i.test(upgrade.trim())) return { ok: false, problem: `the 101 has Upgrade: ${JSON.stringify(upgrade)}, not websocket` };
    if (!/\bupgrade\b/i.test(connection)) return { ok: false, problem: 'the 101 has no Connection: Upgrade' };
    const key = header(request?.headers, 'sec-websocket-key');
    const accept = header(response.headers, 'sec-websocket-accept');
    if (key !== null && accept === null) return { ok: false, problem: 'the 101 has no Sec-WebSocket-Accept' };
    if (key !== null && accept !== null && accept.trim() !== webSocketAccept(key)) {
      return { ok: false, problem: `the 101 has a wrong Sec-WebSocket-Accept (${accept.trim()}, expected ${webSocketAccept(key)} for the key kubectl sent)` };
    }
    const offered = request?.offered ?? [];
    if (offered.length && response.protocol === null) return { ok: false, problem: 'the 101 has no Sec-WebSocket-Protocol' };
    if (offered.length && response.protocol !== null && !offered.includes(response.protocol)) {
      return { ok: false, problem: `the 101 chose the subprotocol ${response.protocol}, which kubectl did not offer` };
    }
    return { ok: true, problem: null };
  }
  if (kind === 'spdy') {
    if (!/^spdy\/3\.1$/i.test(upgrade.trim())) return { ok: false, problem: `the 101 has Upgrade: ${JSON.stringify(upgrade)}, not SPDY/3.1` };
    if (!/\bupgrade\b/i.test(connection)) return { ok: false, problem: 'the 101 has no Connection: Upgrade' };
    return { ok: true, problem: null };
  }
  return { ok: true, problem: null };
}
