/**
 * spdy-unsupported: a SPDY upgrade (POST with `Upgrade: SPDY/3.1`) refused by something other
 * than the API server, or refused where a WebSocket upgrade of the same session passed. Gateways
 * that allow WebSocket often know no other Upgrade value, or no upgrades on POST.
 */
import { attribute, isKubeStatusBody } from '../../session/answered-by.js';
import { answerComplete, describeAnswer, describeRequest, seqsOf, upstreamHop } from '../answer.js';
import { ALB_TO_NLB, ENVOY_UPGRADE, NGINX_UPGRADE, translateFix } from '../fixes.js';
import type { FindingDraft, Rule } from '../types.js';

export const spdyUnsupported: Rule = {
  id: 'spdy-unsupported',
  evaluate(view) {
    const out: FindingDraft[] = [];
    const wsPassed = view.upgrades.find((u) => u.upgradeKind === 'websocket' && u.handshake.ok);
    for (const c of view.upgrades) {
      if (c.upgradeKind !== 'spdy' || !c.response || c.response.status === 101 || !answerComplete(c)) continue;
      const status = c.response.status;
      const by = attribute(c);
      const reason = c.body?.k8sStatus?.reason ?? null;
      const notApiServer = by.answeredBy === 'intermediary' || (by.answeredBy === 'unknown' && !isKubeStatusBody(c));
      // 404 routes and 407 proxy logins have rules of their own.
      const byGateway = notApiServer && status !== 404 && status !== 407;
      const wherePassed = wsPassed !== undefined && reason !== 'Forbidden' && reason !== 'NotFound' && status !== 401;
      if (!byGateway && !wherePassed) continue;
      out.push({
        rule: 'spdy-unsupported',
        conn: c.conn,
        severity: 'error',
        title: byGateway ? `A gateway refused the SPDY upgrade (${status})` : `The SPDY upgrade was refused (${status}) where WebSocket passed`,
        explanation: (byGateway
          ? `The SPDY/3.1 upgrade (a POST with Upgrade: SPDY/3.1) was answered ${describeAnswer(c)}, and ${by.why}: the API server did not write this. `
          : `The SPDY/3.1 upgrade was answered ${describeAnswer(c)}, while the WebSocket upgrade ${wsPassed!.conn} of the same command went through: the path carries WebSocket but not SPDY. `)
          + 'Many gateways only know `Upgrade: websocket`, or no upgrades on POST. kubectl has no further fallback, so the command fails.',
        evidence: {
          facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, `${c.conn}: ${by.why}`, ...(wsPassed ? [`${describeRequest(wsPassed)} — answered ${describeAnswer(wsPassed)}`] : [])],
          seqs: seqsOf(c.request, c.response, c.body, wsPassed?.request, wsPassed?.response),
        },
        hop: upstreamHop(c),
        fix: `Let the gateway pass any Upgrade value on POST (${NGINX_UPGRADE}; ${ENVOY_UPGRADE}; ${ALB_TO_NLB}), `
          + 'or avoid SPDY: kubectl 1.30+ uses WebSocket for exec/attach/cp and 1.31+ for port-forward against an API server of the same versions, unless KUBECTL_REMOTE_COMMAND_WEBSOCKETS / KUBECTL_PORT_FORWARD_WEBSOCKETS is set to false. '
          + translateFix(c),
      });
    }
    return out;
  },
};
