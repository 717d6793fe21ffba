/**
 * rbac-verb-split: RBAC refused a WebSocket upgrade (a GET) on `pods/exec`, `pods/attach` or
 * `pods/portforward` for want of one verb. The two transports are authorized differently
 * (protocol.md A §4, §5): the SPDY upgrade is a POST, checked as `create`; the WebSocket upgrade
 * is a GET, checked as `get`, and from 1.35 (AuthorizePodWebsocketUpgradeCreatePermission, on by
 * default) as `create` too. So a role with only `create` is refused over WebSocket and kubectl
 * falls back to SPDY without a word (it then breaks behind WebSocket-only hops), and a role with
 * only `get` worked through 1.34 and fails on 1.35. This finding tells that whole story on the
 * WebSocket attempt; `forbidden` and `websocket-fallback` leave such a session to it.
 */
import { clip } from '../../session/answered-by.js';
import { answerComplete, describeAnswer, describeRequest, isFinalAnswer, laterUpgrade, seqsOf, upstreamHop } from '../answer.js';
import { tsOf } from '../stream.js';
import type { ConnView, FindingDraft, Rule, SessionView } from '../types.js';
import { canI } from './forbidden.js';

const SPLIT = /User "([^"]*)" cannot (get|create) resource "pods\/(exec|attach|portforward)"(?: in API group "[^"]*")?(?: in the namespace "([^"]*)")?/;

export interface VerbSplit {
  ws: ConnView;
  user: string;
  /** The verb RBAC found missing. */
  verb: 'get' | 'create';
  subresource: 'exec' | 'attach' | 'portforward';
  namespace: string | null;
}

/** The RBAC verb refusal of one WebSocket upgrade, or null. */
export function verbSplitOf(c: ConnView): VerbSplit | null {
  if (c.upgradeKind !== 'websocket' || c.response?.status !== 403 || (c.request?.method ?? 'GET') !== 'GET') return null;
  const m = SPLIT.exec(c.body?.k8sStatus?.message ?? '');
  if (!m) return null;
  return { ws: c, user: m[1]!, verb: m[2] as VerbSplit['verb'], subresource: m[3] as VerbSplit['subresource'], namespace: m[4] ?? c.request?.k8s?.namespace ?? null };
}

/** The session has a WebSocket upgrade that RBAC refused for a verb (this rule's case). */
export function sessionHasVerbSplit(view: SessionView): boolean {
  return view.upgrades.some((c) => verbSplitOf(c) !== null);
}

export const rbacVerbSplit: Rule = {
  id: 'rbac-verb-split',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      const split = verbSplitOf(c);
      if (!split || !answerComplete(c)) continue;
      const retry = laterUpgrade(view, c);
      // Wait for kubectl's SPDY retry to be answered (or for the grace to pass without one): the story names it.
      if (retry ? !(answerComplete(retry) || retry.ended) : !isFinalAnswer(view, c, tsOf(c.close ?? c.ends.s2c ?? c.response))) continue;
      out.push(finding(split, retry ?? null));
    }
    return out;
  },
};

/**
 * The SPDY retry was refused too, for want of `create` on the same subresource: the role grants
 * neither verb. That is no split between transports but a plain refusal, told here (the
 * `forbidden` rule leaves WebSocket verb refusals to this one) without blaming one verb.
 */
function refusedBoth(s: VerbSplit, retry: ConnView | null): boolean {
  if (s.verb !== 'get' || !retry || retry.response?.status !== 403) return false;
  const m = SPLIT.exec(retry.body?.k8sStatus?.message ?? '');
  return m !== null && m[2] === 'create' && m[3] === s.subresource;
}

function finding(s: VerbSplit, retry: ConnView | null): FindingDraft {
  const res = `pods/${s.subresource}`;
  const who = s.user ? `"${s.user}"` : 'the user';
  const ns = s.namespace ?? 'NAMESPACE';
  if (refusedBoth(s, retry)) return neitherVerb(s, retry!, res, who, ns);
  const spdyOk = retry?.accepted === true;
  const retried = retry
    ? `kubectl retried over SPDY (${retry.conn}, a POST, checked as create), which ${spdyOk ? 'got a 101: the command ran over SPDY, without a word about the refusal' : `was answered ${describeAnswer(retry)}`}.`
    : 'No SPDY retry followed.';
  const why = s.verb === 'get'
    ? `The role grants create but not get on ${res}: enough for SPDY (a POST), not for WebSocket (a GET, checked as get). ${retried} `
      + 'It works only as long as SPDY does: behind a WebSocket-only hop (many gateways and load balancers), or once SPDY is gone, the command fails.'
    : `The API server checks WebSocket upgrades for create as well as get from Kubernetes 1.35 (AuthorizePodWebsocketUpgradeCreatePermission, on by default), and the role grants only get on ${res}. `
      + `A role like this worked through 1.34 and fails on 1.35. ${retried}${retry && !spdyOk ? ' SPDY needs create as well, so no transport gets through.' : ''}`;
  return {
    rule: 'rbac-verb-split',
    conn: s.ws.conn,
    severity: spdyOk ? 'warn' : 'error',
    title: `RBAC: ${s.user || 'the user'} lacks "${s.verb}" on ${res}: WebSocket needs both get and create`,
    explanation: `RBAC refused the WebSocket upgrade (${describeAnswer(s.ws)}): "${clip(s.ws.body?.k8sStatus?.message ?? '', 200)}". ${why}`,
    evidence: {
      facts: [describeRequest(s.ws), `${s.ws.conn}: ${describeAnswer(s.ws)}`, `missing verb: ${s.verb} on ${res}`, ...(retry ? [`${describeRequest(retry)} — the SPDY retry${retry.response ? `, answered ${describeAnswer(retry)}` : ''}`] : [])],
      seqs: seqsOf(s.ws.request, s.ws.response, s.ws.body, retry?.request, retry?.response, retry?.body),
    },
    hop: upstreamHop(s.ws),
    fix: `Add "${s.verb}" to the Role bound to ${who}, so that it reads: rules: [{apiGroups: [""], resources: ["${res}"], verbs: ["get", "create"]}]; `
      + `check with \`${canI('get', res, ns, s.user || undefined)}\` and \`${canI('create', res, ns, s.user || undefined)}\`.`,
  };
}

function neitherVerb(s: VerbSplit, retry: ConnView, res: string, who: string, ns: string): FindingDraft {
  return {
    rule: 'rbac-verb-split',
    conn: s.ws.conn,
    severity: 'error',
    title: `RBAC: ${s.user || 'the user'} may neither get nor create ${res}: no transport is allowed`,
    explanation: `RBAC refused the WebSocket upgrade (${describeAnswer(s.ws)}, a GET, checked as get) and kubectl's SPDY retry (${retry.conn}, ${describeAnswer(retry)}, a POST, checked as create): `
      + `"${clip(retry.body?.k8sStatus?.message ?? '', 200)}". The role grants neither verb on ${res}, so the command cannot run over either transport; the network and the gateways are not at fault.`,
    evidence: {
      facts: [describeRequest(s.ws), `${s.ws.conn}: ${describeAnswer(s.ws)}`, `${describeRequest(retry)} — the SPDY retry, answered ${describeAnswer(retry)}`, `missing verbs: get and create on ${res}`],
      seqs: seqsOf(s.ws.request, s.ws.response, s.ws.body, retry.request, retry.response, retry.body),
    },
    hop: upstreamHop(s.ws),
    fix: `If ${who} should be allowed, bind a Role with rules: [{apiGroups: [""], resources: ["${res}"], verbs: ["get", "create"]}] (WebSocket needs both from 1.35, SPDY needs create); `
      + `check with \`${canI('get', res, ns, s.user || undefined)}\` and \`${canI('create', res, ns, s.user || undefined)}\`.`,
  };
}

