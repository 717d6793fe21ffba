/**
 * http2-upgrade: an upgrade attempted or answered over HTTP/2. HTTP/2 has no Upgrade (RFC 9113
 * §8.2.2 forbids Connection and Upgrade); WebSocket over HTTP/2 needs extended CONNECT (RFC
 * 8441), which neither kubectl nor the API server speaks, and SPDY cannot run over it at all.
 * kubectl opens every upgrade on a fresh HTTP/1.1 connection without ALPN (protocol.md B §1), so
 * HTTP/2 here means a hop switched protocols.
 */
import { header } from '../../session/handshake.js';
import { describeAnswer, describeRequest, isHttp2, seqsOf, upstreamHop } from '../answer.js';
import { ALB_TO_NLB } from '../fixes.js';
import type { FindingDraft, Rule } from '../types.js';

const STREAMING = new Set(['exec', 'attach', 'portforward']);

export const http2Upgrade: Rule = {
  id: 'http2-upgrade',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.conns) {
      const req = c.request;
      if (!req) continue;
      const streaming = req.upgrade !== null || STREAMING.has(req.k8s?.operation ?? '');
      if (!streaming) continue;
      const res = c.response;
      const via = header(res?.headers, 'via');
      const evidence: string[] = [];
      if (isHttp2(req.version)) evidence.push(`${c.conn}: the request came over ${req.version}`);
      if (res && isHttp2(res.version)) evidence.push(`${c.conn}: the answer came over ${res.version}`);
      if (res && res.status !== 101 && via && /(^|,)\s*(HTTP\/)?2(\.0)?\s/i.test(via)) evidence.push(`${c.conn}: the answer passed an HTTP/2 hop (Via: ${via})`);
      if (!evidence.length) continue;
      out.push({
        rule: 'http2-upgrade',
        conn: c.conn,
        severity: 'error',
        title: 'An upgrade went over HTTP/2, which cannot carry it',
        explanation: 'exec, attach, cp and port-forward switch the connection to WebSocket or SPDY with an HTTP/1.1 Upgrade. HTTP/2 has no Upgrade: the headers are dropped on that hop, '
          + 'WebSocket over HTTP/2 would need extended CONNECT (RFC 8441), which neither kubectl nor the API server speaks, and SPDY cannot run over HTTP/2 at all. '
          + 'kubectl always opens upgrades on a new HTTP/1.1 connection, so a hop in between switched to HTTP/2.',
        evidence: { facts: [describeRequest(c), ...evidence, ...(res ? [`${c.conn}: ${describeAnswer(c)}`] : [])], seqs: seqsOf(req, res, c.body) },
        hop: upstreamHop(c),
        fix: 'Make that hop speak HTTP/1.1 to the API server for these requests: nginx `proxy_http_version 1.1`; Envoy/Istio: HTTP/1.1 on the upstream cluster (no http2_protocol_options) '
          + `and \`upgrade_configs\` for websocket and spdy/3.1 on the route; ${ALB_TO_NLB}.`,
      });
    }
    return out;
  },
};
