/**
 * How a remote command ended without a status: the one reading that `status-missing` and
 * `exit-unknown` share, so that a stream without a status gives exactly one finding. The exit
 * code travels only in the status (channel 3, or the SPDY error stream); without it:
 *
 * - `ws-close`: the server sent its close frame (1000) → kubectl reports success (rc 0);
 * - `spdy-end`: the server ended the SPDY session (FIN on an empty error stream, RST_STREAM,
 *   GOAWAY) → kubectl reports success;
 * - `spdy-tcp`: the server side closed TCP under SPDY → kubectl reports success;
 * - `ws-tcp`: the server side closed TCP under WebSocket → kubectl fails with close 1006.
 *
 * (protocol.md B §3, §4, §10.) The first three are `exit-unknown` (a success kubectl could not
 * know), the last is `status-missing` (kubectl failed, and says so).
 *
 * Only where a status is due: v4/v5 WebSocket and SPDY v4+, a handshake kubectl accepted with a
 * protocol it offered, a stream that really ran, ended by the server rather than abandoned by
 * kubectl, and not ended by the client itself: a client that sends its close frame (or GOAWAY)
 * first, such as client-node's `ws.close()` or python's `resp.close()`, gets the server's close
 * frame back and no status (RFC 6455 §5.5.1; `ConnectionFacts.clientEnded`).
 */
import { isRemoteCommand } from './answer.js';
import { MIN_IDLE_MS, decoderBlind, silentCut } from './stream.js';
import type { ConnView, SessionView } from './types.js';

const STATUS_SEMANTICS = new Set(['channel-v4', 'base64-v4', 'channel-v5', 'spdy-v4', 'spdy-v5']);

export type StatusEndShape = 'ws-close' | 'ws-tcp' | 'spdy-end' | 'spdy-tcp';

export interface MissingStatus {
  conn: ConnView;
  shape: StatusEndShape;
  protocol: string;
  /** kubectl reported success (rc 0) although the exit status is unknown. */
  silent: boolean;
}

/** Every remote-command stream of the session that ended without the status it was due. */
export function missingStatuses(view: SessionView): MissingStatus[] {
  const out: MissingStatus[] = [];
  for (const c of view.upgrades) {
    if (!isRemoteCommand(c) || !c.accepted || c.status || c.statusData || decoderBlind(c, 's2c')) continue;
    const protocol = c.response?.protocol ?? null;
    if (!STATUS_SEMANTICS.has(c.stack?.semantics ?? '') || protocol === null || !(c.request?.offered ?? []).includes(protocol)) continue;
    const shape = shapeOf(c);
    if (shape) out.push({ conn: c, shape, protocol, silent: shape !== 'ws-tcp' });
  }
  return out;
}

function shapeOf(c: ConnView): StatusEndShape | null {
  if (c.clientEnded) return null;
  // kubectl itself gave up (Ctrl-C, its own ping deadline): no status was due.
  const clientLeft = c.close?.closedBy === 'client';
  // Cut after a silence: idle-timeout explains it; the command had not ended.
  const cut = (silentCut(c) ?? 0) >= MIN_IDLE_MS;
  if (c.upgradeKind === 'websocket') {
    if (c.closeFrames.s2c) return 'ws-close';
    if (!c.ended || c.frames.s2c === 0 || clientLeft || cut || c.unansweredPings.count >= 2) return null;
    return 'ws-tcp';
  }
  if (!c.errorStream.replied) return null;
  if (c.spdyServerEnd) return 'spdy-end';
  if (!c.ended || clientLeft || cut || c.goaway.c2s) return null;
  return 'spdy-tcp';
}

/** `FIN on the error stream 1`, `GOAWAY`, `RST_STREAM CANCEL`. */
export function spdyEnd(c: ConnView): string {
  const f = c.spdyServerEnd;
  if (!f) return 'end';
  return f.frame === 'DATA' ? `FIN on the error stream ${f.streamId ?? ''}`.trim() : f.frame === 'GOAWAY' ? 'GOAWAY' : `RST_STREAM ${f.statusName ?? ''}`.trim();
}

/** Where the status would have travelled. */
export function statusPlace(c: ConnView): string {
  return c.upgradeKind === 'spdy' ? 'on the error stream' : 'on channel 3';
}

export const STATUS_FIX_LOGS = 'A Kubernetes server writes the status before it ends the stream: look at the API server and kubelet logs for this stream '
  + '(a kubelet or container runtime restarted mid-exec, a crashed runtime shim), and at any proxy that ends upgraded connections on its own (it must not cut the last bytes before the close).';
