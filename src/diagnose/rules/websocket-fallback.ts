/**
 * websocket-fallback: a WebSocket upgrade that kubectl did not accept, retried over SPDY: the
 * session model's fallback (src/session/session-facts.ts). kubectl retries every refused
 * WebSocket handshake over SPDY without a word (protocol.md B §8, A §4), so a broken WebSocket
 * path looks healthy until the day SPDY is gone. The finding says what refused it and how.
 * When the API server refused both attempts with the same Status, the request was wrong, not
 * the transport (a container that does not exist: container-not-found), and the model calls
 * it no fallback. Two refusals tell their fallback in a finding of their own: RBAC's missing
 * verb (rbac-verb-split) and a control plane with WebSocket turned off (websocket-disabled).
 */
import { attribute, bodyText, intermediaryHeaders, isHtml } from '../../session/answered-by.js';
import { answerComplete, answerMessage, describeAnswer, describeRequest, isRemoteCommand, seqsOf, upstreamHop } from '../answer.js';
import { ENVOY_UPGRADE, NGINX_UPGRADE, kubectlCommandFor, webSocketSwitch } from '../fixes.js';
import type { ConnView, FindingDraft, Rule } from '../types.js';
import { verbSplitOf } from './rbac-verb-split.js';
import { disabledRefusals } from './websocket-disabled.js';

export const websocketFallback: Rule = {
  id: 'websocket-fallback',
  evaluate(view) {
    // The story costs a pass over the connections; most sessions have no refused WebSocket to ask about.
    if (!view.upgrades.some((u) => u.upgradeKind === 'websocket' && u.failedUpgrade)) return [];
    const fallback = view.story().fallback;
    const ws = fallback ? view.byConn.get(fallback.from) : undefined;
    const spdy = fallback ? view.byConn.get(fallback.to) : undefined;
    // Until the retry's answer is in, the model cannot yet tell it from the same refusal again.
    if (!ws || !spdy || !(answerComplete(spdy) || spdy.ended)) return [];
    if (verbSplitOf(ws) || disabledRefusals(view).includes(ws)) return [];
    return [finding(ws, spdy)];
  },
};

function finding(ws: ConnView, spdy: ConnView): FindingDraft {
  const cause = causeOf(ws);
  const problem = ws.handshake.problem;
  const refused = ws.response === null ? 'got no answer' : ws.response.status === 101 ? `got a 101 that kubectl rejected: ${problem}` : `was refused: ${describeAnswer(ws)}`;
  return {
    rule: 'websocket-fallback',
    conn: ws.conn,
    severity: 'warn',
    title: `WebSocket refused (${ws.response ? (ws.response.status === 101 ? 'bad 101' : ws.response.status) : 'no answer'}), kubectl fell back to SPDY`,
    explanation: `The WebSocket upgrade ${refused}. kubectl treats any refused WebSocket handshake as "try SPDY" and quietly retried over SPDY/3.1 (POST, ${spdy.conn}); `
      + `only -v=4 shows it ("fallback: unable to upgrade streaming request: …"). ${cause.why} `
      + 'The command may still have worked, but it depends on SPDY, which is deprecated and which many gateways do not carry.',
    evidence: {
      facts: [
        describeRequest(ws),
        `${ws.conn}: ${describeAnswer(ws)}${problem && ws.response?.status === 101 ? ` — ${problem}` : ''}`,
        `${ws.conn}: answered by ${attribute(ws).answeredBy}: ${attribute(ws).why}`,
        `${describeRequest(spdy)} — the fallback${spdy.response ? `, answered ${describeAnswer(spdy)}` : ''}`,
      ],
      seqs: seqsOf(ws.request, ws.response, ws.body, spdy.request, spdy.response),
    },
    hop: upstreamHop(ws),
    fix: `${cause.fix} Until then, ${webSocketSwitch(ws)} makes ${kubectlCommandFor(ws)} skip the WebSocket attempt and go straight to SPDY.`,
  };
}

function causeOf(ws: ConnView): { why: string; fix: string } {
  const r = ws.response;
  const text = bodyText(ws);
  const message = answerMessage(ws);
  const portForward = !isRemoteCommand(ws);
  if (!r) {
    return {
      why: 'Something on the path closed the connection without answering.',
      fix: `Find the proxy that drops upgrade requests and let them through (${NGINX_UPGRADE}).`,
    };
  }
  if (r.status === 101) {
    const problem = ws.handshake.problem ?? '';
    if (/Accept/.test(problem)) {
      return {
        why: 'A wrong Sec-WebSocket-Accept means the handshake answer was not computed from kubectl\'s key: something on the path answered or rewrote the 101.',
        fix: 'Let the gateway pass the API server\'s 101 unchanged (no WebSocket termination and re-origination).',
      };
    }
    if (/v4\.channel\.k8s\.io/.test(problem)) {
      return {
        why: 'v4.channel.k8s.io is what a kubelet speaks; the API server (1.30+) answers v5.channel.k8s.io. The upgrade reached a streaming server that is not the API server\'s translator.',
        fix: 'Send exec/attach through a Kubernetes API server ≥1.30 (or 1.29 with TranslateStreamCloseWebsocketRequests on), not straight to a kubelet or an old API server.',
      };
    }
    return {
      why: 'The API server always echoes the subprotocol kubectl offered; a 101 without it, or with another one, was rewritten or written by a hop in between.',
      fix: `Make the gateway pass Sec-WebSocket-Protocol through unchanged both ways (${NGINX_UPGRADE}; ${ENVOY_UPGRADE}).`,
    };
  }
  const by = attribute(ws);
  if (r.status === 403 && by.answeredBy === 'kubelet' && !text.trim()) {
    return {
      why: 'An empty 403 is the kubelet\'s x/net WebSocket server refusing v5.channel.k8s.io: the API server passed the upgrade through instead of translating it, so it is older than 1.30 or runs with the TranslateStreamCloseWebsocketRequests feature gate off.',
      fix: 'Upgrade the control plane to 1.30 or later (or enable TranslateStreamCloseWebsocketRequests on 1.29).',
    };
  }
  if (/query parameter "port" is required/i.test(text)) {
    return {
      why: 'The kubelet got the port-forward tunnel request without its ports: the API server did not handle the tunnel, so it is older than 1.31 or runs with the PortForwardWebsockets feature gate off.',
      fix: 'Upgrade the control plane to 1.31 or later (or enable PortForwardWebsockets on 1.30).',
    };
  }
  if (/Upgrade request required|missing upgrade headers|no tunneling spdy protocols/i.test(text)) {
    return {
      why: `"${message ?? ''}" means the upgrade headers kubectl sent never reached the API server: a hop in between dropped them.`,
      fix: `Pass the upgrade headers on (${NGINX_UPGRADE}; ${ENVOY_UPGRADE}).`,
    };
  }
  if (by.answeredBy === 'intermediary') {
    const who = intermediaryHeaders(ws) ?? (isHtml(ws) ? 'an HTML page' : 'a gateway message');
    return {
      why: `A proxy or gateway answered (${who}), not the API server: it does not pass WebSocket upgrades for this route.`,
      fix: `Allow WebSocket upgrades on the route to the API server (${NGINX_UPGRADE}; ${ENVOY_UPGRADE}).`,
    };
  }
  if (by.answeredBy === 'api-server') {
    return {
      why: 'The API server itself wrote this refusal; kubectl shows its message only at -v=4.',
      fix: `Find why the API server refuses WebSocket ${portForward ? 'port-forward' : 'exec'} requests (its audit log has the request, by Audit-Id when present).`,
    };
  }
  return {
    why: 'Nothing in the answer says who wrote it (no Audit-Id, no Status body, no proxy header).',
    fix: `Check each hop between kubectl and the API server for WebSocket support (${NGINX_UPGRADE}).`,
  };
}
