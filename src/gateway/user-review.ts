/**
 * Who a gateway client is, asked of the API server:
 * - passthrough: a `SelfSubjectReview` made with the client's own Authorization header (what
 *   `kubectl auth whoami` sends; src/audit/identity.ts's, v1 then v1beta1 on a 404);
 * - impersonation: a `TokenReview` (authentication.k8s.io/v1) of the client's bearer token,
 *   made with the gateway's own credential, which needs `create` on `tokenreviews`.
 *
 * The answer is a user or why there is none, in one line that never holds the token: a
 * TokenReview's answer repeats `spec.token`, so its body never goes into a message.
 */
import { postJson, selfSubjectReview, untilAborted, withDeadline } from '../audit/identity.js';
import type { SessionUser } from '../events/types.js';
import type { Upstream } from '../proxy/upstream.js';

export type UserLookup =
  /** `expiresAt`: when the credential itself expires (a JWT's `exp`), if it says; epoch ms. */
  | { ok: true; user: SessionUser; expiresAt?: number }
  /** 401: the credential was not accepted; 503: the API server could not be asked. */
  | { ok: false; status: 401 | 503; message: string };

const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

/** SelfSubjectReview with `authorization` (the client's header, sent as it came). */
export async function selfSubjectUser(upstream: Upstream, authorization: string, timeoutMs: number): Promise<UserLookup> {
  const { outcome, unauthorized: refused } = await selfSubjectReview(upstream, { authorization, timeoutMs });
  if (refused) return unauthorized();
  if (!outcome.ok) return { ok: false, status: 503, message: `SelfSubjectReview: ${outcome.error}` };
  if (outcome.username === null) return { ok: false, status: 503, message: 'the SelfSubjectReview named no user' };
  return { ok: true, user: { username: outcome.username, uid: outcome.uid, groups: outcome.groups, extra: outcome.extra, source: 'SelfSubjectReview' } };
}

/** TokenReview of `token`, asked with the upstream's own credential. */
export async function tokenReview(upstream: Upstream, token: string, timeoutMs: number): Promise<UserLookup> {
  return withDeadline<UserLookup>(timeoutMs, async (signal, late) => {
    const options = await untilAborted(upstream.connectionOptions(), signal, late);
    const agent = await untilAborted(upstream.agent(), signal, late);
    const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
    const answer = await postJson(upstream, agent, options, TOKEN_REVIEW_PATH, body, signal, late);
    if (answer.status < 200 || answer.status > 299) {
      return { ok: false, status: 503, message: `the TokenReview was answered ${answer.status}${answer.status === 403 ? ': the gateway\'s credential needs "create" on tokenreviews' : ''}` };
    }
    const found = readTokenReview(answer.body);
    const expiresAt = jwtExpiry(token);
    return found.ok && expiresAt !== null ? { ...found, expiresAt } : found;
  }, (message) => ({ ok: false, status: 503, message }));
}

/**
 * A JWT's `exp` (RFC 7519 §4.1.4) in epoch ms, else null. Read only to remember the review no
 * longer than the token lives: the TokenReview has authenticated it, and a wrong `exp` can
 * only shorten that.
 */
export function jwtExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const exp = (JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
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
