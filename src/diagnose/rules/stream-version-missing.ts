/**
 * stream-version-missing: a SPDY 101 without `X-Stream-Protocol-Version`. kubectl then assumes
 * the oldest remote-command protocol (v1): output flows, but exit codes are lost (`exit 3` gives
 * rc 0) and with -i the end of stdin is never signalled (protocol.md B §4). For port-forward,
 * kubectl stops: `unable to negotiate protocol: client supports "portforward.k8s.io", server
 * returned ""`.
 */
import { describeAnswer, describeRequest, isRemoteCommand, seqsOf, upstreamHop } from '../answer.js';
import type { FindingDraft, Rule } from '../types.js';

export const streamVersionMissing: Rule = {
  id: 'stream-version-missing',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      if (c.upgradeKind !== 'spdy' || c.response?.status !== 101 || c.response.protocol !== null || !c.handshake.ok) continue;
      const remote = isRemoteCommand(c);
      out.push({
        rule: 'stream-version-missing',
        conn: c.conn,
        severity: 'error',
        title: 'The SPDY 101 has no X-Stream-Protocol-Version',
        explanation: remote
          ? 'The 101 did not say which stream protocol the server chose, so kubectl falls back to the oldest one (channel.k8s.io, v1): output still flows, '
            + 'but exit codes are lost (a command that exits 3 gives rc 0) and, with -i, the end of stdin is never signalled, so commands such as `cat` hang. '
            + 'The API server relays the kubelet\'s 101 verbatim, and the kubelet always sets the header: a hop in between rewrote the 101.'
          : 'The 101 did not say which stream protocol the server chose; kubectl port-forward requires portforward.k8s.io and stops with '
            + '`unable to negotiate protocol: client supports "portforward.k8s.io", server returned ""`. The kubelet always sets the header: a hop in between rewrote the 101.',
        evidence: {
          facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)} without X-Stream-Protocol-Version`, `${c.conn}: kubectl offered ${c.request?.offered.join(', ') || 'nothing'}`],
          seqs: seqsOf(c.request, c.response, c.stack),
        },
        hop: upstreamHop(c),
        fix: 'Make the proxy pass the upgrade response head through unchanged (it must keep X-Stream-Protocol-Version); a proxy that rebuilds 101 responses keeps only Upgrade and Connection. '
          + 'If it cannot, use WebSocket (kubectl ≥1.30 with an API server ≥1.30), which carries the protocol in Sec-WebSocket-Protocol.',
      });
    }
    return out;
  },
};
