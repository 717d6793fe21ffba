/**
 * upgrade-stripped: the answer shows the upgrade headers never reached the server. The API
 * server answers `400 Upgrade request required` (AM upgradeaware.go) when an exec/attach/
 * port-forward request arrives without `Connection: Upgrade`/`Upgrade`; the kubelet's SPDY
 * upgrader says `missing upgrade headers in request`; the tunnel handler says `no tunneling spdy
 * protocols provided` when Sec-WebSocket-Protocol was dropped (protocol.md A §4).
 */
import { bodyText } from '../../session/answered-by.js';
import { header } from '../../session/handshake.js';
import { answerComplete, answerMessage, describeAnswer, describeRequest, seqsOf, upstreamHop } from '../answer.js';
import { ALB_TO_NLB, ENVOY_UPGRADE, NGINX_UPGRADE, translateFix } from '../fixes.js';
import type { FindingDraft, Rule } from '../types.js';

const STRIPPED = /Upgrade request required|missing upgrade headers|no tunneling spdy protocols provided/i;

export const upgradeStripped: Rule = {
  id: 'upgrade-stripped',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      if (!c.response || c.response.status === 101 || !answerComplete(c)) continue;
      const text = `${c.body?.k8sStatus?.message ?? ''}\n${bodyText(c)}`;
      const m = STRIPPED.exec(text);
      if (!m) continue;
      const protocolHeader = /tunneling/i.test(m[0]);
      const sent = protocolHeader
        ? `Sec-WebSocket-Protocol: ${header(c.request?.headers, 'sec-websocket-protocol') ?? '(none)'}`
        : `Connection: ${header(c.request?.headers, 'connection') ?? '(none)'}, Upgrade: ${header(c.request?.headers, 'upgrade') ?? '(none)'}`;
      out.push({
        rule: 'upgrade-stripped',
        conn: c.conn,
        severity: 'error',
        title: protocolHeader ? 'The WebSocket subprotocol header was stripped on the way to the API server' : 'The upgrade headers were stripped on the way to the server',
        explanation: `The server answered "${answerMessage(c) ?? m[0]}": it received the request without ${protocolHeader ? 'the Sec-WebSocket-Protocol header' : 'the Upgrade and Connection headers'}. `
          + `kubectl sent them and kubewire forwarded them (${sent}), so a hop between kubewire and the server removed them. `
          + 'HTTP/1.1 proxies treat Connection and Upgrade as hop-by-hop headers and drop them unless they are told to pass upgrades on, and an HTTP/2 hop cannot carry them at all.',
        evidence: {
          facts: [describeRequest(c), `${c.conn}: sent ${sent}`, `${c.conn}: ${describeAnswer(c)}`],
          seqs: seqsOf(c.request, c.response, c.body),
        },
        hop: upstreamHop(c),
        fix: `Make every hop pass the upgrade on over HTTP/1.1: ${NGINX_UPGRADE}; ${ENVOY_UPGRADE}; ${ALB_TO_NLB}.${c.upgradeKind === 'spdy' ? ` ${translateFix(c)}` : ''}`,
      });
    }
    return out;
  },
};
