/**
 * How `kubewire gateway` admits a client (`--identity`), and with which credential its requests
 * go upstream:
 * - `passthrough`: the client's own bearer token (OIDC, service account, exec plugin) goes
 *   upstream unchanged and the API server decides what it may do; kubewire holds no credential
 *   of its own. Who the token is comes from a SelfSubjectReview made with it.
 * - `impersonate`: the client proves who it is to kubewire, with a client certificate verified
 *   against `--client-ca` (CN the user name, O the groups, as the API server reads one) or a
 *   bearer token checked with a TokenReview; kubewire then calls the API server with its own
 *   credential plus Impersonate-User, Impersonate-Group, Impersonate-Uid and Impersonate-Extra-*.
 *
 * The identity is known before anything of the request is forwarded: impersonation needs it for
 * the request head, the audit record names the user from its first event, and a credential the
 * API server refuses is answered 401 here without a request upstream. Only a credential's first
 * request pays for the review (the cache, identity-cache.ts); a stream already open is never
 * held, since admission happens before its request goes out.
 *
 * In both modes a client's own Impersonate-* headers are refused (403, a Status kubectl prints):
 * the gateway records who acts, and that must be who authenticated.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { SessionUser } from '../events/types.js';
import { refused, UNAUTHORIZED, type Admission, type ClientAdmission } from '../proxy/client-admission.js';
import type { Upstream } from '../proxy/upstream.js';
import { IdentityCache } from './identity-cache.js';
import { selfSubjectReview, tokenReview, type UserLookup } from './user-review.js';

export type IdentityMode = 'passthrough' | 'impersonate';

export interface GatewayAdmissionOptions {
  mode: IdentityMode;
  /** Passthrough: TLS only, no credential. Impersonate: the gateway's own credential. */
  upstream: Upstream;
  /** Impersonate: client certificates are verified against it. */
  clientCa?: boolean;
  cache?: { maxEntries: number; ttlMs: number };
  reviewTimeoutMs?: number;
  /** Counts each lookup's result for the metrics. */
  onLookup?: (result: 'cached' | 'ok' | 'unauthorized' | 'error') => void;
}

export const DEFAULT_IDENTITY_CACHE = { maxEntries: 10_000, ttlMs: 60_000 };
const DEFAULT_REVIEW_TIMEOUT_MS = 5000;
const BEARER = /^bearer\s+(\S+)\s*$/i;

export class GatewayAdmission implements ClientAdmission {
  private readonly cache: IdentityCache<UserLookup>;

  constructor(private readonly opts: GatewayAdmissionOptions) {
    this.cache = new IdentityCache(opts.cache ?? DEFAULT_IDENTITY_CACHE);
  }

  admit(req: IncomingMessage): Admission | Promise<Admission> {
    const impersonation = impersonationHeader(req);
    if (impersonation) {
      return refused(403, 'Forbidden', `kubewire gateway does not pass ${impersonation} on: it records who acts, and that is who authenticated (drop --as and --as-group)`);
    }
    if (this.opts.mode === 'impersonate') {
      const cert = this.certificateUser(req);
      if (cert === 'unverified') return refused(401, 'Unauthorized', 'Unauthorized: the client certificate is not signed by the gateway\'s --client-ca');
      if (cert) return { ok: true, user: cert, credentials: impersonating(cert) };
    }
    const authorization = req.headers.authorization;
    const m = typeof authorization === 'string' ? BEARER.exec(authorization) : null;
    if (!m) return UNAUTHORIZED;
    return this.lookup(authorization!, m[1]!).then((found) => {
      if (!found.ok) return found.status === 401 ? UNAUTHORIZED : refused(503, 'ServiceUnavailable', `kubewire gateway cannot tell who you are: ${found.message}`);
      const credentials = this.opts.mode === 'passthrough' ? passingOn(authorization!) : impersonating(found.user);
      return { ok: true as const, user: found.user, credentials };
    });
  }

  private async lookup(authorization: string, token: string): Promise<UserLookup> {
    const timeout = this.opts.reviewTimeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS;
    let asked = false;
    const found = await this.cache.get(authorization, () => {
      asked = true;
      return this.opts.mode === 'passthrough' ? selfSubjectReview(this.opts.upstream, authorization, timeout) : tokenReview(this.opts.upstream, token, timeout);
    }, (r) => r.ok);
    this.opts.onLookup?.(!asked ? 'cached' : found.ok ? 'ok' : found.status === 401 ? 'unauthorized' : 'error');
    return found;
  }

  /** The verified client certificate's user; `unverified` for a certificate the CA did not sign; null for none. */
  private certificateUser(req: IncomingMessage): SessionUser | 'unverified' | null {
    if (!this.opts.clientCa) return null;
    const socket = req.socket as TLSSocket;
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : null;
    if (!peer || Object.keys(peer).length === 0) return null;
    if (!socket.authorized) return 'unverified';
    const subject = peer.subject as unknown as Record<string, string | string[]> | undefined;
    const cn = [subject?.['CN'] ?? []].flat()[0];
    if (!cn) return 'unverified';
    const groups = [subject?.['O'] ?? []].flat();
    return { username: cn, uid: null, groups: [...groups, 'system:authenticated'], extra: {}, source: 'client-certificate' };
  }
}

/** The first Impersonate-* header the client sent, in its own spelling, or null. */
export function impersonationHeader(req: IncomingMessage): string | null {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (/^impersonate-/i.test(raw[i]!)) return raw[i]!;
  return null;
}

/** Passthrough: the client's Authorization, nothing of kubewire's. */
function passingOn(authorization: string): (own: Record<string, string>) => Record<string, string> {
  return () => ({ Authorization: authorization });
}

/**
 * The gateway's own credential, acting as `user` (k8s.io/client-go transport.ImpersonationConfig:
 * one Impersonate-Group line per group, Impersonate-Extra-<key> with the key percent-encoded).
 */
export function impersonating(user: SessionUser): (own: Record<string, string>) => Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { 'Impersonate-User': user.username };
  const groups = user.groups.filter((g) => g !== 'system:authenticated');
  if (groups.length) headers['Impersonate-Group'] = groups;
  if (user.uid) headers['Impersonate-Uid'] = user.uid;
  for (const [key, values] of Object.entries(user.extra)) if (values.length) headers[`Impersonate-Extra-${encodeURIComponent(key)}`] = values;
  return (own) => ({ ...own, ...headers });
}
