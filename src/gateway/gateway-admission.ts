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
 * the gateway records who acts, and that must be who authenticated. So is an identity whose
 * names hold control characters (identity-headers.ts), and a WebSocket bearer subprotocol never
 * goes upstream (websocket-bearer.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { SessionUser } from '../events/types.js';
import { refused, UNAUTHORIZED, type Admission, type Admitted, type ClientAdmission } from '../proxy/client-admission.js';
import type { Upstream } from '../proxy/upstream.js';
import { IdentityCache } from './identity-cache.js';
import { controlCharacterIn, headerKeyEscape, headerValue } from './identity-headers.js';
import { selfSubjectUser, tokenReview, type UserLookup } from './user-review.js';
import { takeBearerProtocol } from './websocket-bearer.js';

export type IdentityMode = 'passthrough' | 'impersonate';

export interface GatewayAdmissionOptions {
  mode: IdentityMode;
  /** Passthrough: TLS only, no credential. Impersonate: the gateway's own credential. */
  upstream: Upstream;
  /** Impersonate: client certificates are verified against it. */
  clientCa?: boolean;
  /** `ttlMs` by default IDENTITY_TTL_MS of the mode. */
  cache?: { maxEntries: number; ttlMs?: number };
  reviewTimeoutMs?: number;
  /** Counts each lookup's result for the metrics. */
  onLookup?: (result: 'cached' | 'ok' | 'unauthorized' | 'error') => void;
}

export const DEFAULT_IDENTITY_CACHE: { maxEntries: number; ttlMs?: number } = { maxEntries: 10_000 };
/**
 * How long a user found is remembered. Passthrough: the API server authenticates every request
 * anyway, the cache only names it. Impersonate: the cached TokenReview is the authentication,
 * so a revoked token is honoured at most this long (and never past its own `exp`).
 */
export const IDENTITY_TTL_MS: Record<IdentityMode, number> = { passthrough: 60_000, impersonate: 10_000 };
/** A refused or failed lookup is remembered this long, at most this many, so made-up tokens cannot multiply reviews. */
export const FAILED_LOOKUP_CACHE = { failureTtlMs: 5000, maxFailures: 1000 };
const DEFAULT_REVIEW_TIMEOUT_MS = 5000;
const BEARER = /^bearer\s+(\S+)\s*$/i;

export class GatewayAdmission implements ClientAdmission {
  private readonly cache: IdentityCache<UserLookup>;

  constructor(private readonly opts: GatewayAdmissionOptions) {
    const cache = opts.cache ?? DEFAULT_IDENTITY_CACHE;
    this.cache = new IdentityCache({ ...FAILED_LOOKUP_CACHE, maxEntries: cache.maxEntries, ttlMs: cache.ttlMs ?? IDENTITY_TTL_MS[opts.mode] });
  }

  admit(req: IncomingMessage): Admission | Promise<Admission> {
    const impersonation = impersonationHeader(req);
    if (impersonation) {
      return refused(403, 'Forbidden', `kubewire gateway does not pass ${impersonation} on: it records who acts, and that is who authenticated (drop --as and --as-group)`);
    }
    // Taken out whoever the client turns out to be; the credential when there is no header.
    const offered = takeBearerProtocol(req);
    if (this.opts.mode === 'impersonate') {
      const cert = this.certificateUser(req);
      if (cert === 'unverified') return refused(401, 'Unauthorized', 'Unauthorized: the client certificate is not signed by the gateway\'s --client-ca');
      if (cert) return admittedAs(cert, impersonating(cert));
    }
    const header = req.headers.authorization;
    const authorization = typeof header === 'string' ? header : offered !== null ? `Bearer ${offered}` : null;
    const m = authorization !== null ? BEARER.exec(authorization) : null;
    if (!m) return UNAUTHORIZED;
    return this.lookup(authorization!, m[1]!).then((found) => {
      if (!found.ok) return found.status === 401 ? UNAUTHORIZED : refused(503, 'ServiceUnavailable', `kubewire gateway cannot tell who you are: ${found.message}`);
      return admittedAs(found.user, this.opts.mode === 'passthrough' ? passingOn(authorization!) : impersonating(found.user));
    });
  }

  private async lookup(authorization: string, token: string): Promise<UserLookup> {
    const timeout = this.opts.reviewTimeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS;
    let asked = false;
    const found = await this.cache.get(authorization, () => {
      asked = true;
      return this.opts.mode === 'passthrough' ? selfSubjectUser(this.opts.upstream, authorization, timeout) : tokenReview(this.opts.upstream, token, timeout);
    }, (r) => (r.ok ? { ok: true, expiresAt: r.expiresAt ?? null } : { ok: false }));
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

/** Admitted as `user`, unless its names cannot go into a request header (or a log line). */
function admittedAs(user: SessionUser, credentials: NonNullable<Admitted['credentials']>): Admission {
  const bad = controlCharacterIn(user);
  if (bad) return refused(403, 'Forbidden', `kubewire gateway cannot act for this identity: ${bad} holds a control character, which cannot go into a request header`);
  return { ok: true, user, credentials };
}

/** Passthrough: the client's Authorization, nothing of kubewire's. */
function passingOn(authorization: string): (own: Record<string, string>) => Record<string, string> {
  return () => ({ Authorization: authorization });
}

/**
 * The gateway's own credential, acting as `user` (k8s.io/client-go transport.ImpersonationConfig:
 * one Impersonate-Group line per group, Impersonate-Extra-<key> with the key percent-encoded),
 * values as UTF-8 bytes (identity-headers.ts).
 */
export function impersonating(user: SessionUser): (own: Record<string, string>) => Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { 'Impersonate-User': headerValue(user.username) };
  const groups = user.groups.filter((g) => g !== 'system:authenticated');
  if (groups.length) headers['Impersonate-Group'] = groups.map(headerValue);
  if (user.uid) headers['Impersonate-Uid'] = headerValue(user.uid);
  for (const [key, values] of Object.entries(user.extra)) if (values.length) headers[`Impersonate-Extra-${headerKeyEscape(key)}`] = values.map(headerValue);
  return (own) => ({ ...own, ...headers });
}
