/**
 * frame-too-large: a WebSocket close 1009 (message too big), or a client frame above the 32 MiB
 * per-frame limit of the x/net servers Kubernetes runs (protocol.md A §7). kubectl never writes
 * frames over 32 KiB + 1, so an oversized one was coalesced by a proxy or written by another client.
 */
import { describeRequest, seqsOf, upstreamHop } from '../answer.js';
import { formatBytes } from '../../events/preview.js';
import type { FindingDraft, Rule } from '../types.js';

export const frameTooLarge: Rule = {
  id: 'frame-too-large',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      const close1009 = [c.closeFrames.s2c, c.closeFrames.c2s].find((f) => f?.closeCode === 1009) ?? null;
      const big = c.oversizeFrames.c2s;
      if (!close1009 && !big) continue;
      const fromServer = close1009?.dir === 's2c';
      out.push({
        rule: 'frame-too-large',
        conn: c.conn,
        severity: 'error',
        title: big ? `A ${formatBytes(big.length)} WebSocket frame exceeds the servers' 32 MiB limit` : `A WebSocket peer closed with 1009 (message too big)`,
        explanation: (big
          ? `kubectl's side sent a ${formatBytes(big.length)} frame; the API server and the kubelet read at most 32 MiB per frame and end the session on a larger one. `
            + 'kubectl writes stdin in frames of at most 32 KiB + 1, so a proxy between kubectl and the server coalesced frames, or another client wrote it. '
          : '')
          + (close1009 ? `The ${close1009.dir === 's2c' ? 'server side' : 'client side'} closed with 1009 ("message too big")${close1009.closeReason ? `: "${close1009.closeReason}"` : ''}: a message was larger than it accepts, which for Kubernetes' 32 MiB limit usually means a gateway with a smaller maximum message size.` : ''),
        evidence: {
          facts: [describeRequest(c), ...(big ? [`${c.conn} #${big.seq}: ${big.dir} frame of ${big.length} bytes`] : []), ...(close1009 ? [`${c.conn} #${close1009.seq}: ${close1009.dir} close 1009`] : [])],
          seqs: seqsOf(c.request, big, close1009),
        },
        hop: fromServer ? upstreamHop(c) : { where: 'client↔kubewire', answeredBy: 'unknown', why: 'the oversized frame came from the client side' },
        fix: 'Raise the WebSocket maximum frame/message size on the gateway (kubectl needs about 33 KiB per frame; `cp` of big files sends many such frames), and make sure no proxy coalesces or re-frames WebSocket messages.',
      });
    }
    return out;
  },
};
