/**
 * websocket-disabled: the API server itself refused a WebSocket upgrade (its Status body, its
 * Audit-Id on the answer) although its `/version` says it serves WebSocket streams: exec and
 * attach from 1.30 (TranslateStreamCloseWebsocketRequests, Beta and on), port-forward from 1.31
 * (PortForwardWebsockets). Such a control plane has WebSocket streaming turned off: a feature
 * gate, or a distribution's policy (OpenShift 4.18–4.21). Two refusals say so by their shape:
 * the kubelet's empty 403 to v5 relayed by the API server (it passed the upgrade on instead of
 * translating it), and the kubelet's `query parameter "port" is required` to the tunnel.
 * Refusals with a cause of their own (RBAC, a missing pod or container, stripped upgrade
 * headers, credentials) are left to their rules. Without the version the rule stays silent, and
 * websocket-fallback speaks for the refusal.
 */
import { attribute, bodyText, clip } from '../../session/answered-by.js';
import { answerComplete, describeAnswer, describeRequest, isRemoteCommand, operationOf, seqsOf, upstreamHop } from '../answer.js';
import { serverMinor } from '../session-view.js';
import type { ConnView, FindingDraft, Rule, SessionView } from '../types.js';
import { translateFix } from '../fixes.js';
import { verbSplitOf } from './rbac-verb-split.js';

const OWN_CAUSE = /container \S+ is not valid for pod|not found|Upgrade request required|missing upgrade headers|no tunneling spdy protocols|cannot (get|create) resource/i;

/** The WebSocket refusals of the session that mean WebSocket streaming is off on the control plane. */
export function disabledRefusals(view: SessionView): ConnView[] {
  const minor = serverMinor(view.serverVersion);
  if (minor === null || minor < 30) return [];
  return view.upgrades.filter((c) => {
    const r = c.response;
    if (c.upgradeKind !== 'websocket' || !r || r.status < 400 || r.status === 401 || !answerComplete(c)) return false;
    const op = operationOf(c);
    if (!(isRemoteCommand(c) || op === 'portforward') || (op === 'portforward' && minor < 31)) return false;
    if (verbSplitOf(c) || OWN_CAUSE.test(c.body?.k8sStatus?.message ?? bodyText(c))) return false;
    const by = attribute(c).answeredBy;
    if (by === 'api-server') return true;
    // The kubelet's refusals of a request the API server should have handled itself.
    const text = bodyText(c).trim();
    return by === 'kubelet' && ((r.status === 403 && text === '') || /query parameter "port" is required/.test(text));
  });
}

export const websocketDisabled: Rule = {
  id: 'websocket-disabled',
  evaluate(view) {
    return disabledRefusals(view).map((c) => finding(view, c));
  },
};

function finding(view: SessionView, c: ConnView): FindingDraft {
  const pf = operationOf(c) === 'portforward';
  const gate = pf ? 'PortForwardWebsockets' : 'TranslateStreamCloseWebsocketRequests';
  const since = pf ? '1.31' : '1.30';
  const relayed = attribute(c).answeredBy === 'kubelet';
  const spdy = view.upgrades.find((u) => u.upgradeKind === 'spdy' && u.startMs !== null && c.startMs !== null && u.startMs >= c.startMs && u.request?.k8s?.pod === c.request?.k8s?.pod);
  return {
    rule: 'websocket-disabled',
    conn: c.conn,
    severity: spdy?.accepted ? 'warn' : 'error',
    title: `WebSocket ${pf ? 'port-forward' : 'streaming'} is turned off on this ${view.serverVersion} control plane`,
    explanation: `The API server (${view.serverVersion}) answered the WebSocket upgrade itself: ${describeAnswer(c)}${c.response?.auditId ? `, Audit-Id ${c.response.auditId}` : ''}. `
      + `From ${since} it serves WebSocket ${pf ? 'port-forward (the SPDY tunnel)' : 'exec and attach (v5.channel.k8s.io)'} by default (${gate}), so a refusal of its own means WebSocket streaming is turned off on this control plane: `
      + `the ${gate} feature gate, or a distribution's policy (OpenShift 4.18–4.21 does this). `
      + (relayed ? `${pf ? '"query parameter "port" is required"' : 'An empty 403'} is the kubelet's answer, relayed by the API server, which passed the upgrade on instead of handling it. ` : '')
      + (spdy ? `kubectl went on over SPDY (${spdy.conn})${spdy.accepted ? ', so the command worked, as long as SPDY is allowed' : ''}.` : 'Clients without a SPDY fallback fail here.'),
    evidence: {
      facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, `the API server's /version: ${view.serverVersion}`, `${c.conn}: ${clip(attribute(c).why, 200)}`],
      seqs: seqsOf(c.request, c.response, c.body),
    },
    hop: upstreamHop(c),
    fix: `Turn WebSocket streaming on on the API server (\`--feature-gates=${gate}=true\`, the default from ${since}), or ask the platform's operators which policy disables it; `
      + `until then, ${pf ? 'KUBECTL_PORT_FORWARD_WEBSOCKETS=false' : 'KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false'} makes kubectl go straight to SPDY.`
      + (spdy?.accepted ? '' : ` ${translateFix(c, 'ws-to-spdy')}`),
  };
}
