/**
 * Plain HTTP (discovery, get, watch, logs -f) through http-proxy, streamed with no buffering.
 * The client's Authorization (kubewire's own token) is replaced by the upstream's credentials;
 * every request is reported as conn.open, http.request, http.response and conn.close.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import httpProxy from 'http-proxy';
import { redactHeaders } from '../events/redact.js';
import type { EventBody, SessionUser } from '../events/types.js';
import type { RelayObserver } from '../observer/relay-observer.js';
import { k8sRequestInfo, splitTarget } from '../codec/k8s-request.js';
import { upstreamFailure } from './upstream-failure.js';
import { UpstreamError, type Upstream } from './upstream.js';

const RECENT_TIMEOUT_MS = 10_000;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
/** How much of a `/version` answer is kept: it is a few hundred bytes. */
const VERSION_BODY_BYTES = 4096;

/** The first bytes of a body, and how long it was. */
class BodyHead {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  size = 0;

  constructor(private readonly max: number) {}

  add(d: Buffer): void {
    this.size += d.length;
    if (this.kept >= this.max) return;
    const part = d.subarray(0, this.max - this.kept);
    this.chunks.push(part);
    this.kept += part.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
/** Discovery endpoints: /version, /api, /apis, /apis/GROUP[/VERSION], /api/v1, /openapi/…. */
const DISCOVERY_PATH = /^\/(version|api(\/v1)?|apis(\/[^/]+){0,2}|openapi(\/.*)?)\/?$/;

export interface ForwardContext {
  conn: string;
  session: string;
  /** Who the client is (`kubewire gateway`), for `conn.open`. */
  user?: SessionUser;
  /** The credential headers to send instead of the upstream's own (client-admission.ts). */
  credentials?: (own: Record<string, string>) => Record<string, string | string[]>;
}

export class HttpForwarder {
  private readonly proxy = httpProxy.createProxyServer({ changeOrigin: true, xfwd: false, ws: false, secure: true });
  private readonly responses = new WeakMap<IncomingMessage, (res: IncomingMessage) => void>();
  /** Each request's upstream request, to tell whether it went out on a reused socket. */
  private readonly upstreamRequests = new WeakMap<IncomingMessage, ClientRequest>();
  /** The last upstream timeout, answered at once for a while instead of waiting again. */
  private recentTimeout: { at: number; error: unknown } | null = null;

  constructor(private readonly upstream: Upstream, private readonly observer: RelayObserver) {
    // http-proxy emits 'error' on itself when no callback takes it; never let that crash us.
    this.proxy.on('error', () => {});
    this.proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) => this.responses.get(req)?.(proxyRes));
    this.proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => void this.upstreamRequests.set(req, proxyReq));
  }

  async forward(req: IncomingMessage, res: ServerResponse, ctx: ForwardContext): Promise<void> {
    const ids = { conn: ctx.conn, session: ctx.session };
    const emit = (body: EventBody): void => this.observer.publish(body, ids);
    const started = Date.now();
    const target = req.url ?? '/';
    emit({ type: 'conn.open', kind: 'http', client: `${req.socket.remoteAddress}:${req.socket.remotePort}`, upstream: this.upstream.describe(), ...(ctx.user ? { user: ctx.user } : {}) });
    emit({
      type: 'http.request', dir: 'c2s', offset: 0, method: req.method ?? 'GET', target, path: splitTarget(target).path,
      version: req.httpVersion, headers: redactHeaders(pairs(req.rawHeaders)), upgrade: null, offered: [],
      kubectlSession: header(req, 'kubectl-session'), kubectlCommand: header(req, 'kubectl-command'), userAgent: header(req, 'user-agent'),
      k8s: k8sRequestInfo(target),
    });
    const bytes = { c2s: 0, s2c: 0 };
    let finished = false;
    const finish = (closedBy: 'client' | 'upstream' | 'error', error: string | null): void => {
      if (finished) return;
      finished = true;
      emit({ type: 'conn.close', closedBy, bytes: { ...bytes }, durationMs: Date.now() - started, error });
    };
    res.on('finish', () => finish('upstream', null));
    res.on('close', () => finish('client', null));

    // kubectl retries discovery several times, each waiting for the dial timeout; while the
    // upstream was just found unresponsive, answer at once so the user hears it promptly.
    const recent = this.recentTimeout;
    if (recent && Date.now() - recent.at < RECENT_TIMEOUT_MS) {
      this.fail(req, res, recent.error, emit);
      finish('error', 'upstream timed out recently');
      return;
    }
    let options;
    try {
      options = await this.upstream.connectionOptions();
    } catch (e) {
      this.fail(req, res, e, emit);
      finish('error', (e as Error).message);
      return;
    }
    delete req.headers['authorization'];
    delete req.headers['proxy-authorization'];
    this.responses.set(req, (proxyRes) => {
      // As client-go: a rejected credential (an exec plugin's, say) is not offered again.
      if (proxyRes.statusCode === 401) this.upstream.credentialsRejected?.();
      // The API server's version, for the rules that depend on it: `/version` answers are small.
      const version = splitTarget(target).path === '/version' && proxyRes.statusCode === 200 ? new BodyHead(VERSION_BODY_BYTES) : null;
      proxyRes.on('data', (d: Buffer) => {
        bytes.s2c += d.length;
        version?.add(d);
      });
      if (version) {
        proxyRes.once('end', () => emit({
          type: 'http.body', dir: 's2c', offset: 0, size: version.size, contentType: header(proxyRes, 'content-type'), k8sStatus: null, text: version.text(),
        }));
      }
      emit({
        type: 'http.response', dir: 's2c', offset: 0, status: proxyRes.statusCode ?? 0, reason: proxyRes.statusMessage ?? '',
        version: proxyRes.httpVersion, headers: redactHeaders(pairs(proxyRes.rawHeaders)), protocol: null,
        auditId: header(proxyRes, 'audit-id'), server: header(proxyRes, 'server'), contentType: header(proxyRes, 'content-type'),
      });
    });
    const agent = await this.upstream.agent();
    const send = (retry: boolean): void => this.proxy.web(req, res, {
      target: this.upstream.server.href,
      agent,
      // Node sends a header given as an array as one line per value (Impersonate-Group).
      headers: (ctx.credentials ? ctx.credentials(options.headers) : options.headers) as Record<string, string>,
      // Upstream TLS is verified by the agent, with the kubeconfig's CA.
      secure: options.tls.rejectUnauthorized !== false,
    }, (err: Error) => {
      if (!retry && this.retryable(req, res, err)) return send(true);
      if (err instanceof UpstreamError && err.code === 'KW_ERR_UPSTREAM_TIMEOUT') this.recentTimeout = { at: Date.now(), error: err };
      this.fail(req, res, err, emit);
      finish('error', err.message);
    });
    send(false);
    // Counted once http-proxy has piped the body, so counting never starts the flow early.
    req.on('data', (d: Buffer) => (bytes.c2s += d.length));
  }

  close(): void {
    this.proxy.close();
  }

  /**
   * A kept-alive socket the server closed just as the request went out: nothing was answered,
   * so a request without a body that changes nothing is sent once more, on a new socket, as
   * Go's and Node's own clients do.
   */
  private retryable(req: IncomingMessage, res: ServerResponse, err: Error): boolean {
    const code = (err as NodeJS.ErrnoException).code;
    const bodiless = !req.headers['content-length'] || req.headers['content-length'] === '0';
    return IDEMPOTENT.has(req.method ?? '') && bodiless && !req.headers['transfer-encoding'] && !res.headersSent
      && (code === 'ECONNRESET' || code === 'EPIPE') && this.upstreamRequests.get(req)?.reusedSocket === true;
  }

  private fail(req: IncomingMessage, res: ServerResponse, e: unknown, emit: (b: EventBody) => void): void {
    const failure = upstreamFailure(this.upstream, e);
    emit({ type: 'proxy.error', code: failure.code, message: failure.message, upstream: this.upstream.describe(), status: res.headersSent ? null : 502 });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // kubectl's discovery client quotes a plain-text body ("an error on the server (…)") but
    // shows "unknown" for a Status it does not decode; everything else decodes the Status.
    const discovery = DISCOVERY_PATH.test(splitTarget(req.url ?? '/').path);
    const body = discovery ? `kubewire: ${failure.message}` : failure.statusBody();
    res.writeHead(502, { 'Content-Type': discovery ? 'text/plain; charset=utf-8' : 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

function header(msg: IncomingMessage, name: string): string | null {
  const v = msg.headers[name];
  return Array.isArray(v) ? v[0] ?? null : v ?? null;
}
