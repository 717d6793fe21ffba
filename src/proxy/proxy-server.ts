/**
 * The proxy: an HTTPS listener on loopback for kubectl, with a CA and a bearer token of its
 * own (kubectl only sends tokens over TLS), in front of the upstream from the user's
 * kubeconfig. Requests without the token get 401; the token is never forwarded, and the
 * upstream credentials are applied instead, so no other local user can borrow them.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EventBody, SessionUser } from '../events/types.js';
import { rawResponseHead } from '../http/raw-response.js';
import { writeKubeconfig } from '../kubeconfig/write-kubeconfig.js';
import type { RelayObserver } from '../observer/relay-observer.js';
import { KubectlSessionTracker } from '../session/connection-ids.js';
import { createDemoTls } from '../tls/local-ca.js';
import { statusBody, UNAUTHORIZED, type Admission, type Admitted, type ClientAdmission } from './client-admission.js';
import { answerClientError, answerPlainHttp, HANDSHAKE_TIMEOUT_MS } from './listener-answers.js';
import { HttpForwarder } from './http-forwarder.js';
import { tunnelUpgrade } from './upgrade-tunnel.js';
import type { TransportVerdicts } from '../translate/auto-verdicts.js';
import { translationOf, type TranslateMode } from '../translate/mode.js';
import type { translateSpdyToWs } from '../translate/spdy-to-ws.js';
import type { translateWsToSpdy } from '../translate/ws-to-spdy.js';
import type { RbacPreflight } from '../translate/rbac-preflight.js';
import type { Upstream } from './upstream.js';

export interface ProxyOptions {
  upstream: Upstream;
  /** Takes a copy of everything relayed (src/observer). */
  observer: RelayObserver;
  host: string;
  port: number;
  /**
   * Asked before each new request or upgrade: a reason to refuse it (the audit log cannot be
   * written, or its recorder stopped, and `--audit-fail closed`), answered with a Status 503,
   * or null to serve it.
   */
  refusal?: () => string | null;
  /** The server's timeouts; SERVER_TIMEOUTS unless a test needs them short. */
  timeouts?: ServerTimeouts;
  /** `--translate`: upgrades answered by kubewire and carried over another transport (src/translate). */
  translate?: TranslateMode;
  /** Who may use the proxy and how their requests go upstream; the holder of `token` by default. */
  admission?: ClientAdmission;
  /**
   * The certificate it serves: the given one, or (by default) one for loopback from a CA made at
   * start, with `names` (DNS names or IP addresses) added to its subject alternative names.
   * `clientCaPem`: ask for client certificates and verify them against it (the admission decides
   * what an unverified or missing one means).
   */
  tls?: { certPem: string; keyPem: string; caCertPem: string | null } | { names: string[] };
  clientCaPem?: string;
  /** `--translate auto`: what this upstream was seen to refuse. */
  verdicts?: TransportVerdicts;
}

export interface ServerTimeouts {
  /** A request head must be complete within this long (408 otherwise). */
  headersMs: number;
  /** A whole request, body included (a streamed answer, such as a watch, is not limited). */
  requestMs: number;
  /** How often Node checks the two. */
  checkMs: number;
}

export const SERVER_TIMEOUTS: ServerTimeouts = { headersMs: 30_000, requestMs: 300_000, checkMs: 1000 };

/**
 * A Status 503 as the API server writes one; kubectl prints its message. No Retry-After:
 * client-go would retry the request silently, for up to ten times that long.
 */
function unavailable(message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'ServiceUnavailable', code: 503 });
}

export class KubewireProxy {
  readonly token = randomBytes(32).toString('base64url');
  url = '';
  caCertPem = '';
  connections = 0;
  private server: Server | null = null;
  private forwarder: HttpForwarder | null = null;
  private readonly sockets = new Set<Duplex>();
  private readonly tracker = new KubectlSessionTracker();
  private readonly tokenDigest = digest(`Bearer ${this.token}`);
  private readonly admission: ClientAdmission;

  private constructor(private readonly opts: ProxyOptions, private readonly translators: Translators | null) {
    this.admission = opts.admission ?? { admit: (req) => (this.authorized(req) ? OWN_CREDENTIALS : UNAUTHORIZED) };
  }

  static async start(opts: ProxyOptions): Promise<KubewireProxy> {
    const proxy = new KubewireProxy(opts, opts.translate && opts.translate !== 'off' ? await loadTranslators(opts.upstream) : null);
    await proxy.listen();
    return proxy;
  }

  private async listen(): Promise<void> {
    const given = this.opts.tls;
    const tls = given && 'certPem' in given ? given : await createDemoTls(given?.names ?? []);
    this.caCertPem = tls.caCertPem ?? '';
    this.forwarder = new HttpForwarder(this.opts.upstream, this.opts.observer);
    // HTTP/1.1 only: upgrades need it, and kubectl falls back to it for REST.
    const clientCa = this.opts.clientCaPem ? { requestCert: true, rejectUnauthorized: false, ca: this.opts.clientCaPem } : {};
    const server = createServer({ cert: tls.certPem, key: tls.keyPem, ...clientCa, ALPNProtocols: ['http/1.1'], handshakeTimeout: HANDSHAKE_TIMEOUT_MS, connectionsCheckingInterval: (this.opts.timeouts ?? SERVER_TIMEOUTS).checkMs });
    server.on('request', (req, res) => this.onRequest(req, res));
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    server.on('connection', (s: Duplex) => this.track(s));
    server.on('secureConnection', (s: Duplex) => this.track(s));
    server.on('tlsClientError', answerPlainHttp);
    server.on('clientError', answerClientError);
    // Explicit, so a head that never completes is answered within about HEADERS_TIMEOUT_MS
    // (Node checks every 30 s by default: a partial head lived 81 s).
    const timeouts = this.opts.timeouts ?? SERVER_TIMEOUTS;
    server.headersTimeout = timeouts.headersMs;
    server.requestTimeout = timeouts.requestMs;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no listen address');
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `https://${host}:${addr.port}`;
  }

  /** Client connections open now (TCP, before and after TLS). */
  get openConnections(): number {
    return this.sockets.size;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** A kubeconfig for clients: the original context name and namespace, pointing at the proxy. */
  async writeKubeconfig(path: string): Promise<void> {
    const up = this.opts.upstream;
    await writeKubeconfig(path, { server: this.url, caCertPem: this.caCertPem, token: this.token, name: up.contextName, ...(up.namespace ? { namespace: up.namespace } : {}) });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.forwarder?.close();
    // close() stops accepting but waits for open connections, so end those first: each side
    // gets a FIN, and whatever has not closed a moment later is destroyed.
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const s of this.sockets) s.end();
    await new Promise((r) => setTimeout(r, this.sockets.size ? 200 : 0));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Ends every open connection at once (both directions), as when the audit log fails closed. */
  endOpenConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** The reason to refuse `req`, reported as an event, or null. */
  private refused(req: IncomingMessage, admission: Admitted): string | null {
    const reason = this.opts.refusal?.() ?? null;
    if (reason) {
      const body: EventBody = { type: 'proxy.error', code: 'KW_ERR_AUDIT_REFUSED', message: `refused ${req.method} ${req.url}: ${reason}`, upstream: null, status: 503 };
      // Its owner's session only: another user's Kubectl-Session header does not reach into it.
      this.opts.observer.publish(body, { session: this.tracker.sessionOf(req, 'refused', admission.user?.username) });
    }
    return reason;
  }

  private track(s: Duplex): void {
    this.sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => this.sockets.delete(s));
  }

  private authorized(req: IncomingMessage): boolean {
    const got = req.headers.authorization;
    return typeof got === 'string' && timingSafeEqual(digest(got), this.tokenDigest);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    admitThen(this.admission, req, (admission) => {
      if (!admission.ok) {
        res.writeHead(admission.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(admission.body) });
        res.end(admission.body);
        return;
      }
      const refusal = this.refused(req, admission);
      if (refusal) {
        const body = unavailable(refusal);
        res.writeHead(503, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      const conn = this.tracker.requestId();
      this.connections++;
      const session = this.tracker.sessionOf(req, conn, admission.user?.username);
      // Nothing of one request may end the process: a failure is answered 502 and reported.
      this.forwarder!.forward(req, res, { conn, session, ...admitted(admission) }).catch((e: unknown) => {
        const message = `kubewire could not forward ${req.method} ${req.url}: ${(e as Error)?.message ?? String(e)}`;
        this.opts.observer.publish({ type: 'proxy.error', code: 'KW_ERR_PROXY_INTERNAL', message, upstream: this.opts.upstream.describe(), status: res.headersSent ? null : 502 }, { conn, session });
        if (res.headersSent) return void res.destroy();
        const body = statusBody(502, 'InternalError', message);
        res.writeHead(502, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    // A FIN that arrives while the client is admitted must leave its side open for the answer.
    (socket as Duplex & { allowHalfOpen: boolean }).allowHalfOpen = true;
    admitThen(this.admission, req, (admission) => {
      if (!admission.ok) {
        socket.end(rawResponseHead(admission.status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(admission.body)), Connection: 'close' }) + admission.body);
        return;
      }
      const refusal = this.refused(req, admission);
      if (refusal) {
        const body = unavailable(refusal);
        socket.end(rawResponseHead(503, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' }) + body);
        return;
      }
      const conn = this.tracker.connId();
      this.connections++;
      // A gateway's client was admitted for this request only (upgrade-tunnel.ts).
      const ctx = { upstream: this.opts.upstream, observer: this.opts.observer, conn, session: this.tracker.sessionOf(req, conn, admission.user?.username), admitted: this.opts.admission !== undefined, ...admitted(admission) };
      // Translation speaks upstream with kubewire's own credential: never for a gateway's clients,
      // whose own credentials (or impersonation) must carry every request.
      const translation = this.opts.admission ? null : translationOf(this.opts.translate, req, this.opts.verdicts);
      const t = this.translators;
      if (translation === 'spdy-to-ws' && t) void t.spdyToWs(req, socket, head, { ...ctx, upstreamConn: this.tracker.connId(), preflight: t.preflight });
      else if (translation === 'ws-to-spdy' && t) void t.wsToSpdy(req, socket, head, { ...ctx, upstreamConn: this.tracker.connId(), preflight: t.preflight });
      else void tunnelUpgrade(req, socket, head, ctx);
    });
  }
}

/**
 * The translation bridges (src/translate), loaded only with `--translate`: they bring the SPDY
 * and WebSocket codecs, zlib in JavaScript (pako) and the session facts onto the relay's thread,
 * which a proxy that relays byte-exactly never runs (its observer decodes on its own thread).
 * Translated sessions ask RBAC first for the verb they will be authorized as (`preflight`).
 */
interface Translators {
  spdyToWs: typeof translateSpdyToWs;
  wsToSpdy: typeof translateWsToSpdy;
  preflight: RbacPreflight;
}

async function loadTranslators(upstream: Upstream): Promise<Translators> {
  const [{ translateSpdyToWs: spdyToWs }, { translateWsToSpdy: wsToSpdy }, { RbacPreflight: Preflight }] = await Promise.all([
    import('../translate/spdy-to-ws.js'), import('../translate/ws-to-spdy.js'), import('../translate/rbac-preflight.js'),
  ]);
  return { spdyToWs, wsToSpdy, preflight: Preflight.forUpstream(upstream) };
}

/** The holder of the proxy's own token: the kubeconfig's credential goes upstream. */
const OWN_CREDENTIALS: Admitted = { ok: true, user: null, credentials: null };

/** At once when the admission is (the proxy's own token), else once it is known. */
function admitThen(admission: ClientAdmission, req: IncomingMessage, then: (a: Admission) => void): void {
  const a = admission.admit(req);
  if (a instanceof Promise) void a.then(then, () => then(UNAUTHORIZED));
  else then(a);
}

/** What an admitted request carries into the relay: who, and the credential swap. */
function admitted(a: Admitted): { user?: SessionUser; credentials?: NonNullable<Admitted['credentials']> } {
  return { ...(a.user ? { user: a.user } : {}), ...(a.credentials ? { credentials: a.credentials } : {}) };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
