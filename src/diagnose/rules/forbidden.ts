/**
 * forbidden: a 403 that is an authorization decision, a Status with reason Forbidden (RBAC names
 * the verb and resource: `User "jane" cannot create resource "pods/exec" in API group "" in the
 * namespace "default"`). Not the empty 403 an old server's kubelet gives to v5 (that is
 * websocket-fallback), not an HTML page (forward-proxy). WebSocket upgrades are GETs, authorized
 * as verb get, SPDY upgrades POSTs (create); from 1.35 (AuthorizePodWebsocketUpgradeCreatePermission)
 * GET upgrades need create as well (protocol.md A §5). A session whose WebSocket upgrade RBAC
 * refused for one of those verbs is rbac-verb-split's story, the SPDY retry's refusal included.
 */
import { attribute, isPlain } from '../../session/answered-by.js';
import { tsOf } from '../stream.js';
import { answerComplete, describeAnswer, describeRequest, isFinalAnswer, laterUpgrade, seqsOf, upstreamHop } from '../answer.js';
import type { ConnView, FindingDraft, Rule } from '../types.js';
import { sessionHasVerbSplit } from './rbac-verb-split.js';

const STREAM_RBAC = /cannot (get|create) resource "pods\/(exec|attach|portforward)"/;
const RBAC = /User "([^"]*)" cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]*)")?/;

export const forbidden: Rule = {
  id: 'forbidden',
  evaluate(view) {
    const out: FindingDraft[] = [];
    const split = sessionHasVerbSplit(view);
    for (const c of view.conns) {
      const r = c.response;
      if (r?.status !== 403 || !answerComplete(c)) continue;
      if (split && c.isUpgrade && STREAM_RBAC.test(c.body?.k8sStatus?.message ?? '')) continue;
      const status = c.body?.k8sStatus ?? null;
      const message = status?.message ?? '';
      const rbac = RBAC.exec(message);
      // kubewire does not record plain requests' bodies: a 403 with Audit-Id, or JSON, is the API server's.
      const plainFromApi = isPlain(c) && c.body === null && (r.auditId !== null || /json/i.test(r.contentType ?? '')) && attribute(c).answeredBy !== 'intermediary';
      if (!rbac && status?.reason !== 'Forbidden' && !plainFromApi) continue;
      const final = isFinalAnswer(view, c, tsOf(c.close ?? c.ends.s2c ?? r));
      if (!rbac && !final) continue;
      out.push(finding(c, rbac, final, laterUpgrade(view, c)));
    }
    return out;
  },
};

function finding(c: ConnView, rbac: RegExpExecArray | null, final: boolean, retry: ConnView | undefined): FindingDraft {
  const [, user, verb, resource, group, namespace] = rbac ?? [];
  const ws = c.upgradeKind === 'websocket';
  const ns = namespace ?? c.request?.k8s?.namespace ?? 'NAMESPACE';
  const res = resource ?? (c.request?.k8s?.operation === 'portforward' ? 'pods/portforward' : c.request?.k8s?.operation === 'attach' ? 'pods/attach' : 'pods/exec');
  const subresource = /^pods\/(exec|attach|portforward)$/.test(res);
  const verbs = subresource ? '["get", "create"]' : `["${verb ?? 'get'}"]`;
  const retried = retry ? `kubectl retried over SPDY (${retry.conn}, a POST, checked as create)${retry.response ? `, answered ${describeAnswer(retry)}` : ''}.` : '';
  return {
    rule: 'forbidden',
    conn: c.conn,
    severity: final ? 'error' : 'warn',
    title: rbac ? `RBAC: ${user || 'the user'} cannot ${verb} ${resource}${namespace ? ` in ${namespace}` : ''}` : `The API server refused ${c.request?.k8s?.operation ?? 'the request'} (403 Forbidden)`,
    explanation: [
      rbac
        ? `The API server's authorizer refused verb "${verb}" on resource "${resource}"${group ? ` (API group "${group}")` : ''}${namespace ? ` in namespace "${namespace}"` : ''} for ${user ? `user "${user}"` : 'this user'}.`
        : `The answer is a Kubernetes Status with reason Forbidden (${describeAnswer(c)}): an authorization or admission decision, not a protocol problem.`,
      subresource ? `exec, attach and port-forward are pod subresources: the ${ws ? 'WebSocket upgrade is a GET, authorized as verb get' : 'SPDY upgrade is a POST, authorized as verb create'}, `
        + 'and from Kubernetes 1.35 (AuthorizePodWebsocketUpgradeCreatePermission) GET upgrades need create too.' : '',
      retried,
      final ? 'kubectl prints "Error from server (Forbidden): …" and exits 1.' : '',
    ].filter(Boolean).join(' '),
    evidence: {
      facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, ...(retry ? [`${describeRequest(retry)} — the retry`] : [])],
      seqs: seqsOf(c.request, c.response, c.body, retry?.request, retry?.response),
    },
    hop: upstreamHop(c),
    fix: `Grant it in a Role bound to ${user ? `"${user}"` : 'the user'}: rules: [{apiGroups: [""], resources: ["${res}"], verbs: ${verbs}}]; `
      + `check with ${(subresource ? ['get', 'create'] : [verb ?? 'get']).map((v) => `\`${canI(v, res, ns, user)}\``).join(' and ')}. `
      + 'If RBAC allows it, look for an admission webhook or policy engine (OPA/Gatekeeper, Kyverno) that denies exec.',
  };
}

/**
 * The `kubectl auth can-i` line for a verb on a resource: a subresource goes in --subresource
 * (`pods/exec` would ask about a pod named exec).
 */
export function canI(verb: string, resource: string, namespace: string, user: string | undefined): string {
  const [base, sub] = resource.split('/', 2);
  return `kubectl auth can-i ${verb} ${base}${sub ? ` --subresource=${sub}` : ''} -n ${namespace}${user ? ` --as ${user}` : ''}`;
}
