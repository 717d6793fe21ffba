/**
 * The doctor's RBAC checks: a SelfSubjectAccessReview for `get` and for `create` on
 * `pods/exec`, `pods/attach` and `pods/portforward`, and the verdict in plain words. The two
 * transports are authorized by their method (protocol.md A §4, §5): a SPDY upgrade is a POST,
 * checked as `create`; a WebSocket upgrade is a GET, checked as `get`, and from 1.35
 * (AuthorizePodWebsocketUpgradeCreatePermission, on by default) as `create` too.
 */
import { selfSubjectReview } from '../audit/identity.js';
import type { DiagnosedFinding } from '../diagnose/engine.js';
import { canI } from '../diagnose/rules/forbidden.js';
import type { Upstream } from '../proxy/upstream.js';
import type { CheckOutcome, Verdict } from './checks.js';
import { restCall } from './rest-check.js';

const SUBRESOURCES = ['exec', 'attach', 'portforward'] as const;
type Subresource = (typeof SUBRESOURCES)[number];

/** The first minor version whose WebSocket upgrades need `create` as well as `get`. */
const CREATE_FROM_MINOR = 35;
/** The first minor version whose kubectl and API server use WebSocket for exec/attach (1.31 for port-forward). */
const WEBSOCKET_FROM_MINOR: Record<Subresource, number> = { exec: 30, attach: 30, portforward: 31 };

type Answer = boolean | string;

/** Whether the user may `verb` the subresource: true/false, or why the review failed. */
async function review(u: Upstream, namespace: string, verb: string, sub: Subresource): Promise<Answer> {
  try {
    const r = await restCall(u, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { namespace, verb, resource: 'pods', subresource: sub } },
    });
    if (r.status !== 201 && r.status !== 200) return `the review answered ${r.status}`;
    const allowed = (JSON.parse(r.body) as { status?: { allowed?: unknown } }).status?.allowed;
    return allowed === true;
  } catch (e) {
    return `the review failed: ${(e as Error).message}`;
  }
}

/** The user's name as the API server knows it (SelfSubjectReview), else the kubeconfig's. */
async function whoAmI(u: Upstream): Promise<string> {
  // An older API server, a refusal or no answer in time: the kubeconfig's name will do.
  const { outcome } = await selfSubjectReview(u);
  return outcome.ok && outcome.username !== null ? outcome.username : u.userName;
}

interface Judged {
  verdict: Verdict;
  detail: string;
  /** The verb that is missing for WebSocket, when one is (rbac-verb-split's case). */
  missing: 'get' | 'create' | null;
}

/** The verdict for one subresource, in the words a user needs. */
export function judgeVerbs(sub: Subresource, get: boolean, create: boolean, minor: number | null): Judged {
  const res = `pods/${sub}`;
  const op = sub === 'exec' ? 'WebSocket exec' : sub === 'attach' ? 'WebSocket attach' : 'the WebSocket port-forward tunnel';
  const v = minor === null ? 'this server' : `1.${minor}`;
  const wsFrom = WEBSOCKET_FROM_MINOR[sub];
  const wsUsed = minor === null || minor >= wsFrom;
  const needsCreate = minor !== null && minor >= CREATE_FROM_MINOR;
  if (get && create) return { verdict: 'pass', detail: `get and create on ${res}: WebSocket (get${needsCreate ? ' and create' : ''}) and SPDY (create) are both allowed`, missing: null };
  if (!get && !create) return { verdict: 'fail', detail: `neither get nor create on ${res}: every ${sub} is refused, over either transport`, missing: null };
  if (create) {
    // No get: the WebSocket GET is refused, SPDY (a POST) is allowed.
    if (!wsUsed) return { verdict: 'warn', detail: `create only on ${res}: fine over SPDY, which kubectl uses for ${sub} on ${v}; WebSocket (from 1.${wsFrom}) also needs get`, missing: 'get' };
    const need = needsCreate ? `${op} needs get and create from 1.${CREATE_FROM_MINOR}` : `${op} is a GET, checked as get`;
    return { verdict: 'warn', detail: `${need}: this user has create only, so kubectl will fall back to SPDY (it fails where only WebSocket gets through, and clients without a SPDY fallback fail)`, missing: 'get' };
  }
  // get only: SPDY (create) is refused; WebSocket needs create from 1.35.
  if (needsCreate) return { verdict: 'fail', detail: `${op} needs get and create from 1.${CREATE_FROM_MINOR}: this user has get only, so WebSocket is refused, and SPDY (a POST, checked as create) too: no transport gets through`, missing: 'create' };
  if (!wsUsed) return { verdict: 'fail', detail: `get only on ${res}: kubectl uses SPDY for ${sub} on ${v}, a POST checked as create, which is refused`, missing: 'create' };
  return { verdict: 'warn', detail: `get only on ${res}: ${op} works on ${v}, but SPDY (create) is refused, so there is no fallback, and from 1.${CREATE_FROM_MINOR} WebSocket needs create too`, missing: 'create' };
}

export async function runAccessChecks(u: Upstream, namespace: string, minor: number | null, nextConn: () => string): Promise<CheckOutcome[]> {
  const user = await whoAmI(u);
  const out: CheckOutcome[] = [];
  for (const sub of SUBRESOURCES) {
    const id = `rbac-${sub}`;
    const name = `RBAC get+create pods/${sub}`;
    const [get, create] = await Promise.all([review(u, namespace, 'get', sub), review(u, namespace, 'create', sub)]);
    if (typeof get === 'string' || typeof create === 'string') {
      const why = typeof get === 'string' ? get : (create as string);
      out.push({ check: { id, name, verdict: 'skip', detail: `cannot ask the API server (SelfSubjectAccessReview): ${why}`, data: { namespace } }, findings: [] });
      continue;
    }
    const j = judgeVerbs(sub, get, create, minor);
    const conn = nextConn();
    const findings = j.missing && j.verdict !== 'pass' ? [verbFinding(sub, j, user, namespace, minor, conn)] : [];
    out.push({ check: { id, name, verdict: j.verdict, detail: j.detail, data: { namespace, user, get, create } }, findings });
  }
  return out;
}

/** What rbac-verb-split says about a refused WebSocket upgrade, said ahead from the review. */
function verbFinding(sub: Subresource, j: Judged, user: string, namespace: string, minor: number | null, conn: string): DiagnosedFinding {
  const res = `pods/${sub}`;
  const verb = j.missing!;
  return {
    type: 'finding',
    rule: 'rbac-verb-split',
    severity: j.verdict === 'fail' ? 'error' : 'warn',
    title: `RBAC: ${user || 'the user'} lacks "${verb}" on ${res}: WebSocket needs both get and create`,
    explanation: `SelfSubjectAccessReview on ${res} in ${namespace}${minor !== null ? ` (API server 1.${minor})` : ''}: ${j.detail}.`,
    evidence: { facts: [`get ${res}: ${verb === 'get' ? 'no' : 'yes'}`, `create ${res}: ${verb === 'create' ? 'no' : 'yes'}`], seqs: [] },
    hop: { where: 'kubewire↔upstream', answeredBy: 'api-server', why: 'the API server answered the SelfSubjectAccessReview' },
    fix: `Add "${verb}" to the Role bound to ${user ? `"${user}"` : 'the user'}, so that it reads: rules: [{apiGroups: [""], resources: ["${res}"], verbs: ["get", "create"]}]; `
      + `check with \`${canI('get', res, namespace, user || undefined)}\` and \`${canI('create', res, namespace, user || undefined)}\`.`,
    conn,
  };
}
