/**
 * no-fallback: a WebSocket upgrade was refused, and the same client made no SPDY attempt within
 * FALLBACK_GRACE_MS. kubectl 1.30+ answers every refused WebSocket handshake with a SPDY retry
 * at once (client-go tools/remotecommand/fallback.go, portforward/fallback_dialer.go; protocol.md
 * B §8), so a refusal left alone means the client has no SPDY fallback, or one that never fires:
 * library clients (python-kubernetes, @kubernetes/client-node), client-go 0.36 tools. That is a
 * fact about the client, not a network fault. Refusals no transport would change (a pod or
 * container that does not exist, a missing credential) are left to their own rules.
 */
import { attribute, clip } from '../../session/answered-by.js';
import { answerComplete, describeAnswer, describeRequest, isFinalAnswer, operationOf, seqsOf } from '../answer.js';
import { FALLBACK_GRACE_MS, sameTarget } from '../../session/session-facts.js';
import { translateFix } from '../fixes.js';
import { tsOf } from '../stream.js';
import type { ConnView, FindingDraft, Rule, SessionView } from '../types.js';

const STREAM_OPERATIONS = new Set(['exec', 'attach', 'portforward']);
const REQUEST_ERROR = /container \S+ is not valid for pod|pods? "[^"]*" not found|namespaces? "[^"]*" not found/i;

export const noFallback: Rule = {
  id: 'no-fallback',
  evaluate(view) {
    const out: FindingDraft[] = [];
    view.upgrades.forEach((c, i) => {
      if (c.upgradeKind !== 'websocket' || !STREAM_OPERATIONS.has(operationOf(c) ?? '') || !c.failedUpgrade || !c.response || !answerComplete(c)) return;
      if (c.response.status === 401 || REQUEST_ERROR.test(c.body?.k8sStatus?.message ?? '')) return;
      if (!isFinalAnswer(view, c, tsOf(c.close ?? c.ends.s2c ?? c.response))) return;
      // The client tried again over WebSocket and got through: the command still ran.
      if (view.upgrades.slice(i + 1).some((u) => u.upgradeKind === 'websocket' && u.accepted && sameTarget(c, u))) return;
      out.push(finding(view, c));
    });
    return out;
  },
};

function finding(view: SessionView, c: ConnView): FindingDraft {
  const ua = c.request?.userAgent ?? null;
  const by = attribute(c);
  const late = view.upgrades.find((u) => u.upgradeKind === 'spdy' && u !== c && sameTarget(c, u));
  return {
    rule: 'no-fallback',
    conn: c.conn,
    severity: 'error',
    title: `WebSocket refused (${c.response?.status === 101 ? 'bad 101' : c.response?.status}) and the client made no SPDY attempt`,
    explanation: `The WebSocket upgrade was refused (${describeAnswer(c)}${c.response?.status === 101 && c.handshake.problem ? `: ${c.handshake.problem}` : ''}), `
      + `and ${late ? `the client's next SPDY upgrade (${late.conn}) came only after the ${FALLBACK_GRACE_MS / 1000} s kubectl takes at most` : `no SPDY upgrade for the same pod followed within ${FALLBACK_GRACE_MS / 1000} s`}. `
      + `kubectl 1.30+ retries every refused WebSocket handshake over SPDY at once; this client${ua ? ` (${clip(ua, 80)})` : ''} has no SPDY fallback, or a broken one `
      + '(library clients such as python-kubernetes and @kubernetes/client-node; client-go 0.36 tools whose fallback never fires). '
      + 'This is not a network fault: the refusal itself is the thing to fix, or the client has to speak SPDY.',
    evidence: {
      facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, `${c.conn}: answered by ${by.answeredBy}: ${by.why}`, late ? `${describeRequest(late)} — too late to be a fallback` : 'no SPDY upgrade followed'],
      seqs: seqsOf(c.request, c.response, c.body, late?.request),
    },
    hop: { where: 'client↔kubewire', answeredBy: by.answeredBy, why: `the refusal came from the ${by.answeredBy === 'unknown' ? 'upstream' : by.answeredBy}; the client did not retry over SPDY, which kubectl does` },
    fix: 'Fix what refused the WebSocket upgrade (the other findings of this session name it), so that the client does not need a fallback; '
      + `or run the command with kubectl 1.30+ (it falls back to SPDY), or a client release with a working SPDY fallback. ${translateFix(c, 'ws-to-spdy')}`,
  };
}
