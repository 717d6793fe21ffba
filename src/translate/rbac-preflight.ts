/**
 * RBAC before translating. Translating changes the verb the API server authorizes
 * (protocol.md A §4, §5): a SPDY upgrade is a POST, checked as `create`; a WebSocket upgrade is
 * a GET, checked as `get` (and from 1.35 as `create` too). So a session kubectl would have been
 * allowed can be refused once translated: a role with only `create` passes SPDY and fails the
 * WebSocket GET that `spdy-to-ws` sends; a role with only `get` (through 1.34) passes WebSocket
 * and fails the SPDY POST of `ws-to-spdy`. The API server's bare 403 would then name a verb the
 * user never asked for.
 *
 * Before the first translated session for a credential, subresource and namespace, kubewire
 * asks a SelfSubjectAccessReview for the verb the translated request needs, with the same
 * credential. A "no" answers the client with a 403 Status that says which verb is missing and
 * why (kubectl prints it as `Error from server (Forbidden): …`). A review that cannot be made
 * (an old server, a timeout) decides nothing: the API server still authorizes the request.
 * Answers are kept for a minute, for at most MAX_KEPT keys, by a hash of the credential.
 */
import { createHash } from 'node:crypto';
import { postJson, untilAborted } from '../audit/identity.js';
import type { UpstreamConnectionOptions, Upstream } from '../proxy/upstream.js';

export type StreamSubresource = 'exec' | 'attach' | 'portforward';

/** How long an answer is kept, and for how many credential/subresource/namespace keys. */
export const KEEP_MS = 60_000;
export const MAX_KEPT = 1000;
/** A review slower than this decides nothing. */
export const REVIEW_TIMEOUT_MS = 3000;

const SSAR_PATH = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

export interface PreflightRequest {
  /** The verb the translated request is authorized as. */
  verb: 'get' | 'create';
  subresource: StreamSubresource;
  namespace: string;
  pod: string;
  /** How the session is carried: the flag value, for the message. */
  translation: 'spdy-to-ws' | 'ws-to-spdy';
}

/** Asks once: true (allowed), false (refused), or null (no answer). */
export type AccessReview = (req: PreflightRequest, options: UpstreamConnectionOptions) => Promise<boolean | null>;

export class RbacPreflight {
  /** The answer (or the review under way: a burst of sessions asks once) by key, and when it was asked. */
  private readonly kept = new Map<string, { allowed: Promise<boolean | null>; at: number }>();

  constructor(private readonly review: AccessReview, private readonly now: () => number = Date.now) {}

  static forUpstream(upstream: Upstream): RbacPreflight {
    return new RbacPreflight((req, options) => reviewAccess(upstream, req, options));
  }

  /** The 403 Status body for the client when the translated request would be refused; else null. */
  async refusal(req: PreflightRequest, options: UpstreamConnectionOptions): Promise<string | null> {
    const key = keyOf(req, options);
    let entry = this.kept.get(key);
    if (!entry || this.now() - entry.at > KEEP_MS) {
      entry = { allowed: this.review(req, options).catch(() => null), at: this.now() };
      this.kept.delete(key);
      if (this.kept.size >= MAX_KEPT) this.kept.delete(this.kept.keys().next().value!);
      this.kept.set(key, entry);
    }
    return (await entry.allowed) === false ? refusalBody(req) : null;
  }
}

/** The credential's hash (never the credential itself), the verb, the subresource, the namespace. */
function keyOf(req: PreflightRequest, options: UpstreamConnectionOptions): string {
  const credential = createHash('sha256').update(JSON.stringify(Object.entries(options.headers).sort())).digest('base64url');
  return `${credential} ${req.verb} ${req.subresource} ${req.namespace}`;
}

export function refusalBody(req: PreflightRequest): string {
  const res = `pods/${req.subresource}`;
  const carried = req.verb === 'get'
    ? `kubewire --translate ${req.translation} carries this ${req.subresource} upstream over WebSocket, a GET the API server authorizes as "get" (and as "create" from 1.35)`
    : `kubewire --translate ${req.translation} carries this ${req.subresource} upstream over SPDY, a POST the API server authorizes as "create"`;
  const message = `pods "${req.pod}" is forbidden: ${carried}, and a SelfSubjectAccessReview says this user cannot ${req.verb} resource "${res}" in the namespace "${req.namespace}": `
    + `add "${req.verb}" to the Role (verbs: ["get", "create"] on ${res}), or run without --translate`;
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Forbidden', details: { name: req.pod, kind: 'pods' }, code: 403 });
}

/** One SelfSubjectAccessReview with the session's own credential. */
async function reviewAccess(upstream: Upstream, req: PreflightRequest, options: UpstreamConnectionOptions): Promise<boolean | null> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REVIEW_TIMEOUT_MS);
  const late = `no SelfSubjectAccessReview answer within ${REVIEW_TIMEOUT_MS} ms`;
  try {
    const agent = await untilAborted(upstream.agent(), controller.signal, late);
    const body = JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { namespace: req.namespace, verb: req.verb, resource: 'pods', subresource: req.subresource, name: req.pod } },
    });
    const answer = await postJson(upstream, agent, options, SSAR_PATH, body, controller.signal, late);
    if (answer.status !== 200 && answer.status !== 201) return null;
    const allowed = (JSON.parse(answer.body) as { status?: { allowed?: unknown } }).status?.allowed;
    return typeof allowed === 'boolean' ? allowed : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}
