/**
 * corrupt-frames: decode anomalies on a connection kubectl was using (an upgrade it accepted).
 * Frames that break RFC 6455 or SPDY/3 on a path between two correct endpoints mean something in
 * between rewrote, compressed, re-framed or cut the bytes. Anomalies kubectl could not have
 * suffered are left out: bytes after its own close, a server side cut after kubectl left.
 */
import { clip } from '../../session/answered-by.js';
import { describeRequest, seqsOf, upstreamHop } from '../answer.js';
import type { DecodeAnomalyEvent } from '../../events/types.js';
import type { ConnView, Ev, FindingDraft, Rule } from '../types.js';

export const corruptFrames: Rule = {
  id: 'corrupt-frames',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      if (!c.anomalyCount || c.response?.status !== 101 || !c.handshake.ok) continue;
      const relevant = c.anomalies.filter((a) => counts(c, a));
      if (!relevant.length) continue;
      const fromServer = relevant.some((a) => a.dir !== 'c2s');
      const opaque = relevant.some((a) => a.opaque);
      const codes = [...new Set(relevant.map((a) => a.code))];
      const more = c.anomalyCount > c.anomalies.length ? ` (${c.anomalyCount} in all)` : '';
      out.push({
        rule: 'corrupt-frames',
        conn: c.conn,
        severity: opaque ? 'error' : 'warn',
        title: `${relevant.length} malformed frame${relevant.length > 1 ? 's' : ''} on a stream kubectl was using (${codes.join(', ')})`,
        explanation: `kubewire decoded ${fromServer ? 'the server\'s' : 'kubectl\'s'} bytes and found what a conforming endpoint would reject: ${relevant.slice(0, 3).map((a) => `${a.code} (${clip(a.message, 100)})`).join('; ')}${more}. `
          + (opaque ? 'It had to stop decoding that direction. ' : '')
          + `kubectl and the Kubernetes servers write well-formed frames, so ${fromServer ? 'a hop between kubewire and the server' : 'something between kubectl and kubewire'} altered the stream, or a different program is at the other end. ${hint(codes)}`,
        evidence: {
          facts: [describeRequest(c), ...relevant.slice(0, 5).map((a) => `${c.conn} #${a.seq}: ${a.dir ?? ''} ${a.layer} ${a.code} at offset ${a.offset ?? '?'}: ${clip(a.message, 120)}`)],
          seqs: seqsOf(c.request, c.response, ...relevant),
        },
        hop: fromServer ? upstreamHop(c) : { where: 'client↔kubewire', answeredBy: 'unknown', why: 'the malformed bytes came from the client side' },
        fix: 'Exempt the API server from anything that inspects or rewrites upgraded connections (TLS inspection, antivirus, DPI, WebSocket-aware WAFs); '
          + 'a WebSocket proxy must not add compression (permessage-deflate) or re-fragment messages: Kubernetes servers read each frame as a whole message.',
      });
    }
    return out;
  },
};

function counts(c: ConnView, a: Ev<DecodeAnomalyEvent>): boolean {
  if (a.code === 'KW_UNANSWERED_BYTES') return false;
  // A frame type the servers read the same either way (logs of older kubewire noted python-kubernetes' text frames).
  if (a.code === 'KW_CHANNEL_BAD_MESSAGE_TYPE') return false;
  if (a.dir === 'c2s') {
    const clientEnd = c.closeFrames.c2s ?? c.goaway.c2s;
    if (clientEnd && a.seq > clientEnd.seq) return false;
  }
  // kubectl left first: the server's last frame cut in half by that is no corruption.
  if (a.code === 'KW_TRUNCATED' && a.dir === 's2c' && c.close?.closedBy === 'client') return false;
  return true;
}

function hint(codes: string[]): string {
  if (codes.includes('KW_WS_RSV_BITS')) return 'RSV bits without a negotiated extension usually mean a proxy compresses frames (permessage-deflate) on its own.';
  if (codes.some((c) => c === 'KW_WS_MASK_DIRECTION' || c === 'KW_WS_BAD_FRAGMENTATION')) return 'Wrong masking or fragmentation means a proxy re-frames the WebSocket stream.';
  if (codes.some((c) => c.startsWith('KW_SPDY_'))) return 'SPDY frames and its one zlib stream per direction break if a single byte is changed, dropped or reordered.';
  if (codes.includes('KW_TRUNCATED')) return 'A frame cut in the middle means the connection was closed mid-message.';
  return '';
}
