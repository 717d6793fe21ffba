/**
 * status-missing: a remote command ended without a status. Exit codes travel only in the status
 * (channel 3, or the SPDY error stream); without it kubectl reports success (rc 0) after a close
 * frame or a SPDY end, or fails with close 1006 after a bare TCP close (protocol.md B §3, §4, §10).
 * Only where a status is due: v4/v5 WebSocket and SPDY v4+, a handshake kubectl accepted with a
 * protocol it offered, a stream that really ran, ended by the server rather than abandoned by kubectl,
 * and not ended by the client itself: a client that sends its close frame (or GOAWAY) first, such
 * as client-node's `ws.close()` or python's `resp.close()`, gets the server's close frame back and
 * no status (RFC 6455 §5.5.1; `ConnectionFacts.clientEnded`).
 */
import { describeRequest, isRemoteCommand, seqsOf, upstreamHop } from '../answer.js';
import { MIN_IDLE_MS, decoderBlind, silentCut } from '../stream.js';
import type { ConnView, FindingDraft, Rule } from '../types.js';

const STATUS_SEMANTICS = new Set(['channel-v4', 'base64-v4', 'channel-v5', 'spdy-v4', 'spdy-v5']);

type Shape = 'ws-close' | 'ws-tcp' | 'spdy-end' | 'spdy-tcp';

export const statusMissing: Rule = {
  id: 'status-missing',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      if (!isRemoteCommand(c) || !c.accepted || c.status || c.statusData || decoderBlind(c, 's2c')) continue;
      const protocol = c.response?.protocol ?? null;
      if (!STATUS_SEMANTICS.has(c.stack?.semantics ?? '') || protocol === null || !(c.request?.offered ?? []).includes(protocol)) continue;
      const shape = shapeOf(c);
      if (!shape) continue;
      const silent = shape !== 'ws-tcp';
      const end = shape === 'ws-close' ? c.closeFrames.s2c : shape === 'spdy-end' ? c.spdyServerEnd : c.ends.s2c ?? c.close;
      out.push({
        rule: 'status-missing',
        conn: c.conn,
        severity: 'error',
        title: silent ? 'The command ended without a status: kubectl reported success' : 'The command ended without a status: kubectl failed with close 1006',
        explanation: `The exit code travels in a status (${protocol}: ${c.upgradeKind === 'spdy' ? 'on the error stream' : 'on channel 3'}) that the server writes before it ends the stream. None came: `
          + (shape === 'ws-close' ? 'the server sent its close frame without it. '
            : shape === 'spdy-end' ? `the server ended the stream (${spdyEnd(c)}) without it. `
              : 'the server side closed the connection without it. ')
          + (silent
            ? 'kubectl then cannot know how the command ended and reports success (rc 0), even if it failed (`exit 3` gives rc 0).'
            : 'kubectl fails with `error reading from error stream: next reader: websocket: close 1006 (abnormal closure): unexpected EOF` (rc 1); the exit code is unknown.'),
        evidence: {
          facts: [
            describeRequest(c),
            `${c.conn}: ${c.response?.status} ${protocol}, ${c.frames.s2c} frames from the server, no status`,
            shape === 'ws-close' ? `${c.conn}: close ${c.closeFrames.s2c?.closeCode ?? ''} from the server` : shape === 'spdy-end' ? `${c.conn}: ${spdyEnd(c)} from the server` : `${c.conn}: server side ended without a close frame`,
          ],
          seqs: seqsOf(c.request, c.response, c.stack, end),
        },
        hop: upstreamHop(c),
        fix: 'A Kubernetes server writes the status before closing: look at the API server and kubelet logs for this stream (a crashed container runtime shim ends streams without one), '
          + 'and at any proxy that ends upgraded connections on its own (it must not cut the last bytes before the close). Scripts that rely on exit codes should not trust this run.',
      });
    }
    return out;
  },
};

function shapeOf(c: ConnView): Shape | null {
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

function spdyEnd(c: ConnView): string {
  const f = c.spdyServerEnd;
  if (!f) return 'end';
  return f.frame === 'DATA' ? `FIN on the error stream ${f.streamId ?? ''}`.trim() : f.frame === 'GOAWAY' ? 'GOAWAY' : `RST_STREAM ${f.statusName ?? ''}`.trim();
}
