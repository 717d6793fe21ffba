/**
 * not-found: a final 404. Three different things share the code: the pod (or namespace, or
 * container) does not exist (a Status with reason NotFound from the API server), a gateway has no
 * route for the path (HTML, or a gateway's text: `404 page not found`, `default backend - 404`),
 * or the path itself is wrong (a kubeconfig server URL that lost or gained a prefix). A 404 on a
 * pod's subresource (`pods/NAME/log`) whose Status does not name the pod says the subresource was
 * not found, not the pod: a partial API server (a virtual cluster, an API proxy) may not serve it.
 */
import { attribute, clip, isKubeStatusBody, isPlain } from '../../session/answered-by.js';
import { tsOf } from '../stream.js';
import { answerComplete, answerMessage, describeAnswer, describeRequest, isFinalAnswer, seqsOf, upstreamHop } from '../answer.js';
import type { ConnView, FindingDraft, Rule } from '../types.js';

/** `/api/v1/namespaces/NS/pods/NAME/SUB`: the subresource of a pod request. */
const SUBRESOURCE = /\/pods\/[^/]+\/([^/?]+)/;
/** The API server's words for a pod (or its namespace) that does not exist. */
const POD_NOT_FOUND = /(pods?|namespaces?) "[^"]*" not found/i;

export const notFound: Rule = {
  id: 'not-found',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.conns) {
      const r = c.response;
      if (r?.status !== 404 || !answerComplete(c)) continue;
      const op = c.request?.k8s?.operation;
      // Discovery 404s (a stale aggregated API) are routine; only pod requests and upgrades matter.
      if (!c.request?.upgrade && (c.request?.k8s?.pod ?? null) === null) continue;
      if (!isFinalAnswer(view, c, tsOf(c.close ?? c.ends.s2c ?? r))) continue;
      const by = attribute(c);
      const status = c.body?.k8sStatus ?? null;
      // A plain request's body is not recorded: a JSON 404 for a pod, or one with Audit-Id, is the API server's.
      const plainJson = isPlain(c) && c.body === null && (r.auditId !== null || /json/i.test(r.contentType ?? '')) && by.answeredBy !== 'intermediary';
      const podGone = (status?.reason === 'NotFound' && (isKubeStatusBody(c) || by.answeredBy === 'api-server')) || plainJson;
      const route = !podGone && by.answeredBy === 'intermediary';
      const k = c.request?.k8s;
      const target = k?.pod ? `${k.namespace ?? 'default'}/${k.pod}` : c.request?.path ?? 'the path';
      const sub = SUBRESOURCE.exec(c.request?.path ?? '')?.[1] ?? null;
      if (podGone && sub && !POD_NOT_FOUND.test(status?.message ?? '')) {
        out.push(subresourceFinding(c, sub, target, k?.pod ?? 'NAME', k?.namespace ?? 'NAMESPACE'));
        continue;
      }
      out.push({
        rule: 'not-found',
        conn: c.conn,
        severity: 'error',
        title: podGone ? `Not found: ${answerMessage(c) ?? `pod ${target}`}` : route ? `A gateway has no route for ${op ?? 'this request'} (404)` : `404 for ${c.request?.path ?? 'the request'}: wrong path?`,
        explanation: podGone
          ? `The API server answered ${describeAnswer(c)}: the pod, its namespace or the container does not exist (or not in the cluster this kubeconfig points at)${plainJson ? '; kubectl prints "Error from server (NotFound): …"' : ''}.`
          : route
            ? `The 404 came from a proxy or gateway (${by.why}), not from the API server, which answers 404 with a Status: the gateway has no route for ${c.request?.path ?? 'this path'}${c.request?.upgrade ? ' or does not route upgrade requests' : ''}.`
            : `The answer was ${describeAnswer(c)}, without the Status an API server sends: the request path may not lead to an API server (a server URL with a missing or extra prefix).`,
        evidence: { facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, `${c.conn}: ${by.why}`], seqs: seqsOf(c.request, c.response, c.body) },
        hop: upstreamHop(c),
        fix: podGone
          ? `Check the name, namespace and context: \`kubectl get pod ${k?.pod ?? 'NAME'} -n ${k?.namespace ?? 'NAMESPACE'}\`${k?.container ? `, and the container name (-c ${k.container})` : ''}.`
          : route
            ? 'Route /api and /apis (with pods/*/exec, attach and portforward, and their upgrades) to the API server, keeping any path prefix the kubeconfig server URL has (Rancher-style /k8s/clusters/ID).'
            : 'Compare the kubeconfig server URL with the API server\'s address (`kubectl config view --minify`): a path prefix must match what the proxy in front of the API server expects.',
      });
    }
    return out;
  },
};

function subresourceFinding(c: ConnView, sub: string, target: string, pod: string, namespace: string): FindingDraft {
  const message = answerMessage(c);
  return {
    rule: 'not-found',
    conn: c.conn,
    severity: 'error',
    title: `Not found: the ${sub} subresource of pod ${target}${message ? ` (${clip(message, 80)})` : ''}`,
    explanation: `The API server answered ${describeAnswer(c)} to ${c.request?.path ?? 'the request'}. For a pod that does not exist it says so (pods "${pod}" not found); `
      + (c.body?.k8sStatus
        ? `this answer does not, so it is pods/${sub} that was not found: `
        : 'kubewire does not record the bodies of plain requests, so the answer does not tell whether the pod or its subresource was missing. If the pod exists, ')
      + `the server at this URL may be a partial API server (a virtual cluster, an API proxy or aggregator) that does not serve pods/${sub}. `
      + 'kubectl prints the server\'s message ("Error from server (NotFound): …").',
    evidence: { facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, `${c.conn}: ${attribute(c).why}`], seqs: seqsOf(c.request, c.response, c.body) },
    hop: upstreamHop(c),
    fix: `Check that the pod exists (\`kubectl get pod ${pod} -n ${namespace}\`); if it does, ask for pods/${sub} at the real API server, or make the server in front of it serve that subresource.`,
  };
}
