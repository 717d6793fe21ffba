/**
 * no-frames-after-101: the upgrade came back 101, then the server stayed silent. Two shapes:
 * - SPDY (and the port-forward tunnel): a client SYN_STREAM with no SYN_REPLY within 10 s, or by
 *   the end. kubectl creates streams one at a time, waiting for each reply, and gives up after
 *   30 s: `error: Timeout occurred` (protocol.md B §4).
 * - WebSocket exec/attach: the API server's translator and the kubelet send an initial empty
 *   message right after the 101 (A §1.3); nothing within 10 s, or nothing at all by the end.
 */
import { describeAnswer, describeRequest, isTunnelRequest, seconds, seqsOf, upstreamHop } from '../answer.js';
import { decoderBlind, tsOf } from '../stream.js';
import type { FindingDraft, Rule } from '../types.js';

export const SILENCE_MS = 10_000;

export const noFramesAfter101: Rule = {
  id: 'no-frames-after-101',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      if (!c.accepted || decoderBlind(c, 's2c')) continue;
      const ended = c.ended;
      const waited = (e: { ts?: string } | null): number | null => {
        const t = tsOf(e);
        return t === null || !Number.isFinite(view.now) ? null : view.now - t;
      };
      const late = [...c.unrepliedStreams.values()].find((s) => ended || (waited(s) ?? 0) >= SILENCE_MS);
      if (late) {
        const w = waited(late);
        const kind = late.streamType ? ` (${late.streamType})` : '';
        out.push({
          rule: 'no-frames-after-101',
          conn: c.conn,
          severity: 'error',
          title: `SPDY stream ${late.streamId}${kind} was never answered (no SYN_REPLY)`,
          explanation: `kubectl opened stream ${late.streamId}${kind}${late.tunnel ? ' inside the port-forward tunnel' : ''} and waited for the server's SYN_REPLY, which `
            + `${ended ? 'never came before the connection ended' : `has not come in ${seconds(w ?? SILENCE_MS)}`}${c.frames.s2c ? ` (the server sent ${c.frames.s2c} other frames)` : ''}. `
            + 'kubectl creates its streams one at a time and gives up after 30 s without a reply: `error: Timeout occurred`. '
            + 'The 101 came through, so the upgrade reached a SPDY server, but its replies do not come back.',
          evidence: {
            facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, `${c.conn}: SYN_STREAM ${late.streamId}${kind} at #${late.seq}, no SYN_REPLY${ended ? ' by the end' : ''}`],
            seqs: seqsOf(c.request, c.response, late),
          },
          hop: upstreamHop(c),
          fix: 'Look for a proxy that holds back the server\'s side of upgraded connections (content inspection, a WAF, a load balancer that does not switch to tunnelling after the 101), '
            + 'then at the kubelet and container runtime on the pod\'s node (containerd or CRI-O streaming server logs).',
        });
        continue;
      }
      // The tunnel's server says nothing until kubectl opens a stream; SPDY servers likewise.
      if (c.upgradeKind !== 'websocket' || isTunnelRequest(c) || c.frames.s2c > 0) continue;
      const w = waited(c.response);
      if (!ended && (w === null || w < SILENCE_MS)) continue;
      out.push({
        rule: 'no-frames-after-101',
        conn: c.conn,
        severity: 'error',
        title: ended ? 'The server sent nothing after the 101' : `The server has sent nothing for ${seconds(w!)} after the 101`,
        explanation: 'The API server\'s translator and the kubelet send a first (empty) message right after the 101 and then the command\'s output and status. '
          + `Here ${ended ? 'no frame at all came back before the connection ended' : 'not one frame came back'}: the upgrade reached something that switched protocols but does not stream, `
          + 'or a hop holds back the server\'s side of upgraded connections.',
        evidence: { facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, `${c.conn}: 0 frames from the server, ${c.frames.c2s} from kubectl`], seqs: seqsOf(c.request, c.response, c.ends.s2c, c.close) },
        hop: upstreamHop(c),
        fix: 'Look for a proxy that buffers or blocks the server\'s side of upgraded connections (WebSocket-aware WAFs, content inspection), and check the API server and kubelet logs for the stream.',
      });
    }
    return out;
  },
};
