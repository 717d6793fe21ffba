/**
 * "Who are we" for the audit log: at the start of `--audit`, kubewire asks the cluster which user
 * its credentials authenticate as, so the log names the identity the API server will record,
 * not just a kubeconfig entry's name.
 *
 * The question is a SelfSubjectReview (KEP-3325, what `kubectl auth whoami` sends): a POST of
 * `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}` to
 * /apis/authentication.k8s.io/v1/selfsubjectreviews, answered with `status.userInfo`
 * (username, uid, groups, extra). It is GA since Kubernetes 1.28 and served as v1beta1 in 1.27,
 * so a 404 on v1 is retried on v1beta1, as kubectl does.
 *
 * When the cluster gives no answer (older cluster, 403, timeout, no connection), the identity
 * falls back to what the kubeconfig says: the user entry's name and the subject of the client
 * certificate presented, if any; username, uid and groups then stay empty rather than guessed,
 * and `reviewError` says in one line why. whoAmI never throws: an audit must start either way.
 *
 * The request goes through the upstream's own agent with its credentials, so proxy-url, exec
 * plugins and TLS behave exactly as for the traffic kubewire forwards. The credential headers
 * are secrets and never appear in a message.
 */
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AuditIdentity } from '../events/types.js';
import type { Upstream, UpstreamConnectionOptions } from '../proxy/upstream.js';
import { VERSION } from '../version.js';

export interface WhoAmIOptions {
  /** Limit for the whole review, both attempts included. Default 5000 ms. */
  timeoutMs?: number;
}

export type ClientCertificateInfo = NonNullable<AuditIdentity['clientCertificate']>;

/** The versions tried, in order: GA (1.28+), then beta (1.27). */
export const REVIEW_VERSIONS = ['v1', 'v1beta1'] as const;
export type ReviewVersion = (typeof REVIEW_VERSIONS)[number];

const DEFAULT_TIMEOUT_MS = 5000;
/** A SelfSubjectReview answer is well under a kilobyte; anything near this is not one. */
export const MAX_REVIEW_RESPONSE_BYTES = 1024 * 1024;
/** How much of a failure's text goes into reviewError. */
const MAX_REASON_CHARS = 300;

// ---------------------------------------------------------------------------------------------
// The sans-IO core: what to send, what an answer means, what a certificate says

export function reviewPath(version: ReviewVersion): string {
  return `/apis/authentication.k8s.io/${version}/selfsubjectreviews`;
}

export function reviewBody(version: ReviewVersion): string {
  return JSON.stringify({ apiVersion: `authentication.k8s.io/${version}`, kind: 'SelfSubjectReview' });
}

/** The user the cluster named, or why the answer names none. */
export type ReviewOutcome =
  | { ok: true; username: string | null; uid: string | null; groups: string[]; extra: Record<string, string[]> }
  /** `notServed`: a 404, so the next version is worth a try. */
  | { ok: false; notServed: boolean; error: string };

/** Reads one HTTP answer to a SelfSubjectReview POST. */
export function readReviewAnswer(status: number, body: string): ReviewOutcome {
  if (status === 404) return { ok: false, notServed: true, error: answeredWith(status, body) };
  if (status < 200 || status > 299) return { ok: false, notServed: false, error: answeredWith(status, body) };
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { ok: false, notServed: false, error: `the cluster answered ${status} with a body that is not JSON: ${excerpt(body)}` };
  }
  const userInfo = field(field(doc, 'status'), 'userInfo');
  if (typeof userInfo !== 'object' || userInfo === null || Array.isArray(userInfo)) {
    return { ok: false, notServed: false, error: `the cluster answered ${status} without status.userInfo: ${excerpt(body)}` };
  }
  const info = userInfo as Record<string, unknown>;
  // UserInfo fields are all omitempty (authentication/v1 types.go): absent means empty.
  const extra: Record<string, string[]> = {};
  if (typeof info['extra'] === 'object' && info['extra'] !== null && !Array.isArray(info['extra'])) {
    for (const [key, values] of Object.entries(info['extra'] as Record<string, unknown>)) extra[key] = strings(values);
  }
  return {
    ok: true,
    username: typeof info['username'] === 'string' && info['username'] !== '' ? info['username'] : null,
    uid: typeof info['uid'] === 'string' && info['uid'] !== '' ? info['uid'] : null,
    groups: strings(info['groups']),
    extra,
  };
}

/** `the cluster answered 403 Forbidden: <Status message>`, one line. */
function answeredWith(status: number, body: string): string {
  const head = `the cluster answered ${status} ${http.STATUS_CODES[status] ?? ''}`.trimEnd();
  let message: unknown;
  try {
    message = field(JSON.parse(body), 'message');
  } catch {
    message = undefined;
  }
  const text = typeof message === 'string' ? oneLine(message) : excerpt(body);
  return text ? `${head}: ${text}` : head;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Control characters and line breaks become spaces, so a message stays one line. */
function oneLine(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return flat.length > MAX_REASON_CHARS ? `${flat.slice(0, MAX_REASON_CHARS)}…` : flat;
}

function excerpt(body: string): string {
  return body.trim() === '' ? '' : JSON.stringify(oneLine(body));
}

/**
 * The first certificate of a PEM chain, described. Names are written as RFC 4514 §2.1 does
 * (and Go's pkix.Name.String(), so as Kubernetes tools print them): the last RDN of the
 * sequence first, so a subject stored as O=devs, CN=jane reads `CN=jane,O=devs`. Null when the
 * PEM holds no certificate Node can read.
 */
export function describeCertificate(pem: string | Buffer): ClientCertificateInfo | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return null;
  }
  return { subject: rfc4514(cert.subject), issuer: rfc4514(cert.issuer), serialNumber: cert.serialNumber, notAfter: isoDate(cert.validTo) };
}

/** Node prints a name one RDN a line, in sequence order, already escaped as RFC 2253 asks. */
function rfc4514(multiline: string): string {
  return multiline.split('\n').filter((rdn) => rdn !== '').reverse().join(',');
}

/** `Nov 22 13:44:43 2026 GMT` (OpenSSL's form) as ISO 8601; the text itself if it does not parse. */
function isoDate(text: string): string {
  const time = Date.parse(text);
  return Number.isNaN(time) ? text : new Date(time).toISOString();
}

/** The client certificate among the TLS options, if any (a Buffer when read from client-certificate). */
export function clientCertificateOf(cert: string | Buffer | Array<string | Buffer> | undefined): ClientCertificateInfo | null {
  const first = Array.isArray(cert) ? cert[0] : cert;
  return first === undefined ? null : describeCertificate(first);
}

/** The record: the cluster's answer when there is one, the kubeconfig's facts in any case. */
export function auditIdentity(outcome: ReviewOutcome, kubeconfigUser: string | null, clientCertificate: ClientCertificateInfo | null): AuditIdentity {
  if (outcome.ok) {
    const { username, uid, groups, extra } = outcome;
    return { source: 'SelfSubjectReview', username, uid, groups, extra, kubeconfigUser, clientCertificate, reviewError: null };
  }
  return { source: 'kubeconfig', username: null, uid: null, groups: [], extra: {}, kubeconfigUser, clientCertificate, reviewError: outcome.error };
}

// ---------------------------------------------------------------------------------------------
// The I/O shell

/** Asks the cluster who the upstream's credentials are; never throws. */
export async function whoAmI(upstream: Upstream, opts: WhoAmIOptions = {}): Promise<AuditIdentity> {
  const kubeconfigUser = upstream.userName === '' ? null : upstream.userName;
  const review = await selfSubjectReview(upstream, opts);
  return auditIdentity(review.outcome, kubeconfigUser, review.clientCertificate);
}

export interface SelfSubjectReviewOptions extends WhoAmIOptions {
  /** Ask with this Authorization header (a gateway client's, sent as it came) instead of the upstream's own credential. */
  authorization?: string;
}

export interface SelfSubjectReviewResult {
  outcome: ReviewOutcome;
  /** The API server answered 401: the credential asked with is not accepted. */
  unauthorized: boolean;
  /** The client certificate of the upstream's own credential, if it presents one. */
  clientCertificate: ClientCertificateInfo | null;
}

/**
 * The one SelfSubjectReview of kubewire (the audit's identity, the gateway's passthrough
 * users, the doctor's user name): v1, then v1beta1 on a 404, both within `timeoutMs`
 * (default 5 s, an exec plugin's time included). Never throws: a failure is an outcome.
 */
export async function selfSubjectReview(upstream: Upstream, opts: SelfSubjectReviewOptions = {}): Promise<SelfSubjectReviewResult> {
  let clientCertificate: ClientCertificateInfo | null = null;
  let unauthorized = false;
  const outcome = await withDeadline<ReviewOutcome>(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, async (signal, late) => {
    const own = await untilAborted(upstream.connectionOptions(), signal, late);
    const options: UpstreamConnectionOptions = opts.authorization === undefined ? own : { tls: own.tls, headers: { Authorization: opts.authorization } };
    if (opts.authorization === undefined) clientCertificate = clientCertificateOf(own.tls.cert);
    const agent = await untilAborted(upstream.agent(), signal, late);
    let outcome: ReviewOutcome = { ok: false, notServed: true, error: '' };
    const tried: string[] = [];
    for (const version of REVIEW_VERSIONS) {
      const answer = await post(upstream, agent, options, version, signal, late);
      unauthorized = answer.status === 401;
      outcome = readReviewAnswer(answer.status, answer.body);
      tried.push(version);
      if (outcome.ok || !outcome.notServed) break;
    }
    if (!outcome.ok && outcome.notServed) {
      outcome = { ...outcome, error: `${outcome.error} (at authentication.k8s.io ${tried.join(' and ')}: the cluster does not serve SelfSubjectReview, which needs Kubernetes 1.27 or later)` };
    }
    return outcome;
  }, (error) => ({ ok: false, notServed: false, error }));
  return { outcome, unauthorized, clientCertificate };
}

/**
 * `work` with an AbortSignal that fires after `timeoutMs` (its message `late`, to pass to
 * untilAborted and postJson); a throw or the deadline becomes `failed(one-line reason)`.
 */
export async function withDeadline<T>(timeoutMs: number, work: (signal: AbortSignal, late: string) => Promise<T>, failed: (reason: string) => T): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    return await work(deadline.signal, `no answer within ${seconds(timeoutMs)}`);
  } catch (e) {
    return failed(failureText(e));
  } finally {
    clearTimeout(timer);
  }
}

export interface Answer {
  status: number;
  body: string;
}

function post(upstream: Upstream, agent: http.Agent, options: UpstreamConnectionOptions, version: ReviewVersion, signal: AbortSignal, late: string): Promise<Answer> {
  return postJson(upstream, agent, options, reviewPath(version), reviewBody(version), signal, late);
}

/**
 * POSTs a small JSON object (a review) to `path` of the upstream with `options` (its TLS, and
 * the credential headers to ask with), through `agent`; rejects with a one-line reason on
 * `signal` (`late`) or a failure. The answer's body is limited to MAX_REVIEW_RESPONSE_BYTES.
 */
export function postJson(upstream: Upstream, agent: http.Agent, options: UpstreamConnectionOptions, path: string, body: string, signal: AbortSignal, late: string): Promise<Answer> {
  const secure = upstream.server.protocol === 'https:';
  // A server URL with a path prefix (a gateway in front of the API server) keeps it.
  const prefix = upstream.server.pathname.replace(/\/+$/, '');
  return new Promise<Answer>((resolve, reject) => {
    if (signal.aborted) return reject(new ReviewError(late));
    const request = (secure ? https.request : http.request)({
      // The TLS options are the agent's too; passing them keeps this request in the pool the
      // agent would pick for them, and the agent's dialler applies them.
      ...(secure ? options.tls : {}),
      protocol: upstream.server.protocol,
      host: upstream.server.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(upstream.server.port) || (secure ? 443 : 80),
      method: 'POST',
      path: prefix + path,
      agent,
      headers: {
        ...options.headers,
        Accept: 'application/json',
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(body)),
        'User-Agent': `kubewire/${VERSION}`,
      },
    });
    const onAbort = (): void => {
      request.destroy();
      reject(new ReviewError(late));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => signal.removeEventListener('abort', onAbort);
    request.once('error', (e) => {
      done();
      reject(e);
    });
    request.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REVIEW_RESPONSE_BYTES) {
          done();
          request.destroy();
          reject(new ReviewError(`the cluster answered ${res.statusCode ?? '?'} with a body over ${MAX_REVIEW_RESPONSE_BYTES / 1024 / 1024} MiB, which is no SelfSubjectReview`));
          return;
        }
        chunks.push(chunk);
      });
      res.once('end', () => {
        done();
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.once('error', (e) => {
        done();
        reject(e);
      });
    });
    request.end(body);
  });
}

/** A failure whose message is already the one-line reason. */
export class ReviewError extends Error {}

export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, late: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new ReviewError(late));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new ReviewError(late));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * One line for reviewError. UpstreamError messages (dialling, TLS, credentials) already say
 * where and why; bare socket errors are put into words like upstream-dial.ts does.
 */
export function failureText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof ReviewError) return e.message;
  switch (err?.code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ECONNRESET': return 'the connection was reset before the cluster answered';
    case 'EPIPE': return 'the connection was closed while sending the review';
    case 'ETIMEDOUT': return 'connection timed out';
  }
  return oneLine(err?.message ?? String(e)) || 'the review failed for an unknown reason';
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
