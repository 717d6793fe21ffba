/**
 * unexpected-protocol: the server chose a SPDY stream protocol the client did not offer. client-go
 * does not check (unlike the WebSocket subprotocol, see subprotocol-mismatch): kubectl 1.27, which
 * offers v4 down to channel.k8s.io, panics when given v5 (protocol.md B §4).
 */
import { describeAnswer, describeRequest, seqsOf, upstreamHop } from '../answer.js';
import type { FindingDraft, Rule } from '../types.js';

export const unexpectedProtocol: Rule = {
  id: 'unexpected-protocol',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      const r = c.response;
      const offered = c.request?.offered ?? [];
      if (c.upgradeKind !== 'spdy' || r?.status !== 101 || r.protocol === null || !offered.length || offered.includes(r.protocol) || !c.handshake.ok) continue;
      const v5ToOld = r.protocol === 'v5.channel.k8s.io' && !offered.includes('v5.channel.k8s.io');
      out.push({
        rule: 'unexpected-protocol',
        conn: c.conn,
        severity: 'error',
        title: `The server chose ${r.protocol}, which kubectl did not offer`,
        explanation: `kubectl offered ${offered.join(', ')}; the 101 says ${r.protocol}. The client does not check the choice and runs a protocol it does not know`
          + (v5ToOld ? ': kubectl before 1.29 (which offers v4 and older) panics on v5 with a nil pointer dereference in remotecommand.(*streamExecutor).StreamWithContext, rc 2.' : ', with unpredictable results.')
          + ' A Kubernetes server picks from the offered list; this one, or a hop rewriting the 101, did not.',
        evidence: { facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`], seqs: seqsOf(c.request, c.response, c.goaway.c2s) },
        hop: upstreamHop(c),
        fix: v5ToOld
          ? 'Use kubectl 1.29 or later (it offers v5.channel.k8s.io), and find the server or proxy that answers v5 without being asked: a kubelet or API server picks only offered versions.'
          : 'Find the server or proxy that rewrites X-Stream-Protocol-Version: the answer must be one of the values kubectl sent.',
      });
    }
    return out;
  },
};
