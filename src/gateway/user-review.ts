/**
 * Who a gateway client is, asked of the API server:
 * - passthrough: a `SelfSubjectReview` made with the client's own Authorization header (what
 *   `kubectl auth whoami` sends; v1, then v1beta1 on a 404, as src/audit/identity.ts does);
 * - impersonation: a `TokenReview` (authentication.k8s.io/v1) of the client's bearer token,
 *   made with the gateway's own credential, which needs `create` on `tokenreviews`.
 *
 * The answer is a user or why there is none, in one line that never holds the token: a
 * TokenReview's answer repeats `spec.token`, so its body never goes into a message.
 */
import { failureText, postJson, readReviewAnswer, REVIEW_VERSIONS, reviewBody, reviewPath, ReviewError, untilAborted } from '../audit/identity.js';
import type { SessionUser } from '../events/types.js';
import type { Upstream, UpstreamConnectionOptions } from '../proxy/upstream.js';

export type UserLookup =
  | { ok: true; user: SessionUser }
  /** 401: the credential was not accepted; 503: the API server could not be asked. */
  | { ok: false; status: 401 | 503; message: string };

const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

/** SelfSubjectReview with `authorization` (the client's header, sent as it came). */
export async function selfSubjectReview(upstream: Upstream, authorization: string, timeoutMs: number): Promise<UserLookup> {
  return withDeadline(timeoutMs, async (signal, late) => {
    const own = await untilAborted(upstream.connectionOptions(), signal, late);
    const options: UpstreamConnectionOptions = { tls: own.tls, headers: { Authorization: authorization } };
    const agent = await untilAborted(upstream.agent(), signal, late);
    for (const version of REVIEW_VERSIONS) {
      const answer = await postJson(upstream, agent, options, reviewPath(version), reviewBody(version), signal, late);
      if (answer.status === 401) return unauthorized();
      const outcome = readReviewAnswer(answer.status, answer.body);
      if (outcome.ok) {
        if (outcome.username === null) return { ok: false, status: 503, message: 'the SelfSubjectReview named no user' };
        return { ok: true, user: { username: outcome.username, uid: outcome.uid, groups: outcome.groups, extra: outcome.extra, source: 'SelfSubjectReview' } };
      }
      if (!outcome.notServed) return { ok: false, status: 503, message: `SelfSubjectReview: ${outcome.error}` };
    }
    return { ok: false, status: 503, message: 'the cluster does not serve SelfSubjectReview, which needs Kubernetes 1.27 or later' };
  });
}

/** TokenReview of `token`, asked with the upstream's own credential. */
export async function tokenReview(upstream: Upstream, token: string, timeoutMs: number): Promise<UserLookup> {
  return withDeadline(timeoutMs, async (signal, late) => {
    const options = await untilAborted(upstream.connectionOptions(), signal, late);
    const agent = await untilAborted(upstream.agent(), signal, late);
    const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
    const answer = await postJson(upstream, agent, options, TOKEN_REVIEW_PATH, body, signal, late);
    if (answer.status < 200 || answer.status > 299) {
      return { ok: false, status: 503, message: `the TokenReview was answered ${answer.status}${answer.status === 403 ? ': the gateway\'s credential needs "create" on tokenreviews' : ''}` };
    }
    return readTokenReview(answer.body);
  });
}

/** A TokenReview's status: the user when authenticated, else 401. The body is never quoted. */
export function readTokenReview(body: string): UserLookup {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { ok: false, status: 503, message: 'the TokenReview answer is not JSON' };
  }
  const status = (doc as { status?: { authenticated?: unknown; user?: Record<string, unknown> } } | null)?.status;
  if (status?.authenticated !== true || typeof status.user?.['username'] !== 'string' || status.user['username'] === '') return unauthorized();
  const u = status.user;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const extra: Record<string, string[]> = {};
  if (typeof u['extra'] === 'object' && u['extra'] !== null) for (const [k, v] of Object.entries(u['extra'] as Record<string, unknown>)) extra[k] = strings(v);
  return { ok: true, user: { username: u['username'] as string, uid: typeof u['uid'] === 'string' && u['uid'] !== '' ? u['uid'] : null, groups: strings(u['groups']), extra, source: 'TokenReview' } };
}

function unauthorized(): UserLookup {
  return { ok: false, status: 401, message: 'Unauthorized' };
}

async function withDeadline(timeoutMs: number, work: (signal: AbortSignal, late: string) => Promise<UserLookup>): Promise<UserLookup> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    return await work(deadline.signal, `no answer within ${timeoutMs / 1000} s`);
  } catch (e) {
    return { ok: false, status: 503, message: e instanceof ReviewError ? e.message : failureText(e) };
  } finally {
    clearTimeout(timer);
  }
}
