/**
 * container-not-found: the API server refused exec or attach because the pod has no container
 * of that name: a Status 400 BadRequest `container nosuch is not valid for pod web`, written by
 * the API server's pod strategy when it resolves the kubelet's location, before any upgrade.
 * kubectl's WebSocket attempt and its SPDY retry get the same refusal, so this is the request
 * being wrong, not the transport (the session model calls it no fallback). One finding per
 * session, once the refusal is kubectl's last word.
 */
import { clip } from '../../session/answered-by.js';
import { answerComplete, describeAnswer, describeRequest, isFinalAnswer, seqsOf } from '../answer.js';
import { tsOf } from '../stream.js';
import type { ConnView, FindingDraft, Rule } from '../types.js';

const NOT_VALID = /container (\S+) is not valid for pod (\S+)/;
/** How the API server lists a pod's containers where it does (`…, choose one of: [app sidecar]`). */
const LISTED = /choose one of: \[([^\]]*)\]/g;

export const containerNotFound: Rule = {
  id: 'container-not-found',
  evaluate(view) {
    const refused = view.conns.filter((c) => answerComplete(c) && NOT_VALID.test(c.body?.k8sStatus?.message ?? ''));
    const first = refused[0];
    const last = refused[refused.length - 1];
    // The WebSocket refusal waits for kubectl's SPDY retry, so that the finding names both.
    if (!first || !last || !isFinalAnswer(view, last, tsOf(last.close ?? last.ends.s2c ?? last.response))) return [];
    const [, container = '', pod = ''] = NOT_VALID.exec(first.body?.k8sStatus?.message ?? '') ?? [];
    return [finding(first, refused, container, pod, first.request?.k8s?.namespace ?? null, listedContainers(view.conns))];
  },
};

function finding(first: ConnView, refused: ConnView[], container: string, pod: string, namespace: string | null, containers: string[]): FindingDraft {
  const where = namespace ? `${namespace}/${pod}` : pod;
  const ns = namespace ? ` -n ${namespace}` : '';
  const both = refused.length > 1
    ? `All ${refused.length} attempts (${refused.map((c) => `${c.conn} ${c.upgradeKind === 'spdy' ? 'SPDY' : c.upgradeKind === 'websocket' ? 'WebSocket' : 'HTTP'}`).join(', ')}) got that same answer: the request is wrong, not the way it travelled, and no proxy or transport setting changes it. `
    : '';
  return {
    rule: 'container-not-found',
    conn: first.conn,
    severity: 'error',
    title: `Pod ${where} has no container "${container}"`,
    explanation: `The API server answered ${describeAnswer(first)}: it checks the container name against the pod's spec before it contacts the kubelet, and pod ${where} has no container "${container}". `
      + both
      + (containers.length ? `The pod's containers: ${containers.join(', ')}. ` : '')
      + `kubectl prints "error: … container ${container} is not valid for pod ${pod}" and exits 1.`,
    evidence: {
      facts: [...refused.map((c) => `${describeRequest(c)} — ${describeAnswer(c)}`), ...(containers.length ? [`the pod's containers: ${containers.join(', ')}`] : [])],
      seqs: seqsOf(...refused.flatMap((c) => [c.request, c.response, c.body])),
    },
    hop: { where: 'kubewire↔upstream', answeredBy: 'api-server', why: `"container ${clip(container, 60)} is not valid for pod ${clip(pod, 60)}" is the API server's check of the pod's spec` },
    fix: `Use one of the pod's containers${containers.length ? ` (${containers.join(', ')})` : ''} with -c: \`kubectl get pod ${pod}${ns} -o jsonpath='{.spec.containers[*].name}'\` lists them.`,
  };
}

/** Container names any recorded Status message or answer of the session lists. */
function listedContainers(conns: readonly ConnView[]): string[] {
  const names = new Set<string>();
  for (const c of conns) {
    for (const text of [c.body?.k8sStatus?.message, c.body?.text, c.status?.message]) {
      for (const m of (text ?? '').matchAll(LISTED)) for (const name of m[1]!.split(/[\s,]+/)) if (name) names.add(name);
    }
  }
  return [...names];
}
