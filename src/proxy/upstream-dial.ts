/**
 * Dialling the API server: TCP, then CONNECT through the kubeconfig's proxy-url if any, then
 * TLS, all under one timeout, with every failure put in plain words as an UpstreamError.
 *
 * This follows kubectl's upgrade legs (protocol.md Part B §1): a fresh TCP (+TLS) connection
 * with no ALPN extension unless the caller asks for one, so the server speaks HTTP/1.1, and no
 * SNI to an IP address. Only http:// proxies are crossed (HTTP CONNECT, RFC 9110 §9.3.6); the
 * proxy's answer is read with the decoders' HTTP/1.1 head scanner.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Anomaly } from '../codec/anomaly.js';
import { Http1HeadDecoder, type HttpHead } from '../codec/http1-head.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import { UpstreamError, type UpstreamErrorCode } from './upstream.js';

export interface DialPlan {
  host: string;
  port: number;
  /** The API server as users know it, for messages. */
  display: string;
  /** null for an http:// server. */
  tls: tls.ConnectionOptions | null;
  proxy: URL | null;
  timeoutMs: number;
  /**
   * TLS session resumption: a session of an earlier dial to offer, and where to keep the ones
   * the server issues. A resumed handshake skips the certificate checks, so new sessions open
   * quickly even while the proxy is busy relaying others.
   */
  resume?: { session: Buffer | undefined; keep(session: Buffer): void };
}

type Phase = 'tcp' | 'proxy' | 'tls';

/** The TLS material a secure context is made of: the kubeconfig's CA and client certificate. */
type ContextMaterial = Pick<tls.ConnectionOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase'>;
const MATERIAL_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase'] as const;
/** Rotated certificates (an exec plugin's) leave old contexts behind: the newest few are kept. */
const MAX_CONTEXTS = 8;
const contexts: { material: ContextMaterial; context: tls.SecureContext }[] = [];

/**
 * One secure context per set of TLS material, made once and reused: `tls.connect` otherwise
 * makes one per connection (an OpenSSL context, the CA parsed into a fresh store), some 250 µs
 * of the relay's thread at every session start, while other sessions' bytes wait behind it.
 * The options that are the connection's own (servername, rejectUnauthorized, ALPN, the session
 * to resume) still go to `tls.connect`.
 */
export function secureContextFor(options: tls.ConnectionOptions): tls.SecureContext {
  const found = contexts.findIndex((c) => MATERIAL_KEYS.every((k) => sameMaterial(c.material[k], options[k])));
  if (found >= 0) {
    const hit = contexts.splice(found, 1)[0]!;
    contexts.push(hit);
    return hit.context;
  }
  const material: ContextMaterial = {};
  for (const k of MATERIAL_KEYS) if (options[k] !== undefined) (material as Record<string, unknown>)[k] = options[k];
  const context = tls.createSecureContext(material);
  contexts.push({ material, context });
  if (contexts.length > MAX_CONTEXTS) contexts.shift();
  return context;
}

/** The same PEM text, DER bytes or list of them; material is re-read per dial, so compared by value. */
function sameMaterial(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameMaterial(x, b[i]));
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return false;
}

const MAX_PROXY_RESPONSE_HEAD = 16 * 1024;
/** How much of the first line of a non-HTTP answer an error quotes. */
const QUOTED_LINE_CHARS = 80;

/** URL.hostname keeps the brackets of an IPv6 literal; sockets want it bare. */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export function dial(plan: DialPlan): Promise<Duplex> {
  return new Promise<Duplex>((resolvePromise, rejectPromise) => {
    let phase: Phase = 'tcp';
    let settled = false;
    let secure: tls.TLSSocket | null = null;
    const fail = (err: UpstreamError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure?.destroy();
      raw.destroy();
      rejectPromise(err);
    };
    // A dial in progress must not keep a stopping kubewire alive: unref until it succeeds.
    const timer = setTimeout(() => fail(timeoutError(plan, phase)), plan.timeoutMs);
    timer.unref();

    const raw = plan.proxy ? net.connect({ host: bareHost(plan.proxy), port: Number(plan.proxy.port) || 80 }) : net.connect({ host: plan.host, port: plan.port });
    raw.unref();
    // kubectl's SPDY writes are small frames; Nagle would hold them for the peer's delayed ACK.
    raw.setNoDelay(true);
    const onRawError = (e: Error): void => fail(phase === 'tls' ? tlsError(plan, e) : tcpError(plan, e));
    const onSecureError = (e: Error): void => fail(tlsError(plan, e));
    raw.on('error', onRawError);
    raw.once('connect', () => {
      if (!plan.proxy) return startTls();
      phase = 'proxy';
      proxyConnect(raw, plan, (err) => (err ? fail(err) : startTls()));
    });

    const startTls = (): void => {
      if (settled) return;
      if (!plan.tls) return finish(raw);
      phase = 'tls';
      const session = plan.resume?.session;
      secure = tls.connect({ ...plan.tls, secureContext: secureContextFor(plan.tls), socket: raw, host: plan.host, ...(session ? { session } : {}) });
      if (plan.resume) secure.on('session', (s: Buffer) => plan.resume!.keep(s));
      secure.unref();
      secure.on('error', onSecureError);
      secure.once('secureConnect', () => finish(secure!));
    };

    const finish = (s: net.Socket): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      raw.ref();
      s.ref();
      raw.removeListener('error', onRawError);
      if (s !== raw) {
        s.removeListener('error', onSecureError);
        // Errors of the socket under TLS surface on the TLS socket, where the caller listens.
        raw.on('error', (e) => s.destroy(e));
      }
      resolvePromise(s);
    };
  });
}

/**
 * Writes `CONNECT host:port` and waits for the proxy's answer: any 2xx opens the tunnel, and
 * the bytes after its head are the tunnel's (RFC 9110 §9.3.6). The head is read by the
 * decoders' Http1HeadDecoder, which reports a non-HTTP answer at its first wrong byte and, as
 * RFC 9112 §2.2 lets a recipient, takes a bare LF as a line end.
 */
function proxyConnect(socket: net.Socket, plan: DialPlan, done: (err: UpstreamError | null) => void): void {
  const proxy = plan.proxy!;
  const authority = `${net.isIPv6(plan.host) ? `[${plan.host}]` : plan.host}:${plan.port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username || proxy.password) {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}`);
  }
  socket.write(lines.join('\r\n') + '\r\n\r\n');

  const proxyName = `${proxy.protocol}//${proxy.host}`;
  const decoder = new Http1HeadDecoder('response', { maxHeadBytes: MAX_PROXY_RESPONSE_HEAD });
  // The first bytes of the answer, to quote its first line if it is not HTTP (one byte more
  // than is quoted, to see a CRLF that straddles the cut).
  let opening = Buffer.alloc(0);
  const notHttp = (startLine: string): UpstreamError =>
    new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} did not answer CONNECT with HTTP (${JSON.stringify(startLine.slice(0, QUOTED_LINE_CHARS))})`);

  const unreadable = (anomaly: Anomaly): UpstreamError => {
    if (anomaly.code === AnomalyCode.HttpHeadTooLarge) {
      return new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} sent a CONNECT response head over ${MAX_PROXY_RESPONSE_HEAD} bytes`);
    }
    const text = opening.toString('latin1');
    const crlf = text.indexOf('\r\n');
    return notHttp(crlf < 0 ? text : text.slice(0, crlf));
  };

  /** Checks the answer; on a 2xx puts the tunnel's first bytes back for the caller. */
  const tunnel = (head: HttpHead, rest: Buffer): UpstreamError | null => {
    // The scanner takes any HTTP/d.d; a CONNECT is answered in HTTP/1.0 or 1.1.
    if (head.version !== 'HTTP/1.0' && head.version !== 'HTTP/1.1') return notHttp(head.startLine);
    const status = head.status!;
    if (status < 200 || status > 299) {
      const hint = status === 407 ? '; check the user and password in proxy-url' : '';
      return new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} refused to tunnel to ${authority} (for ${plan.display}): ${status} ${head.reason ?? ''}`.trimEnd() + hint);
    }
    if (rest.length > 0) {
      // TLS takes the socket's handle and would never see bytes put back into the stream.
      if (plan.tls) return new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} sent data before the TLS handshake with ${plan.display}`);
      socket.unshift(rest);
    }
    return null;
  };

  // 'readable' and read(), not 'data': once the listener is gone the socket is neither flowing
  // nor paused, so the caller's first 'data' listener starts it, with unread bytes kept.
  const cleanup = (): void => {
    socket.removeListener('readable', onReadable);
    socket.removeListener('end', onEnd);
  };
  const onEnd = (): void => {
    cleanup();
    done(new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} closed the connection before answering CONNECT ${authority} (for ${plan.display})`));
  };
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) {
      if (opening.length <= QUOTED_LINE_CHARS) opening = Buffer.concat([opening, chunk], Math.min(opening.length + chunk.length, QUOTED_LINE_CHARS + 1));
      const outcome = decoder.push(chunk);
      if (outcome.kind === 'need-more') continue;
      cleanup();
      done(outcome.kind === 'error' ? unreadable(outcome.anomaly) : tunnel(outcome.head, outcome.rest));
      return;
    }
  };
  socket.on('readable', onReadable);
  socket.on('end', onEnd);
}

function timeoutError(plan: DialPlan, phase: Phase): UpstreamError {
  const seconds = `${plan.timeoutMs / 1000} s`;
  const during = phase === 'tcp' ? (plan.proxy ? `connecting to the proxy ${plan.proxy.host}` : 'connecting') : phase === 'proxy' ? 'waiting for the proxy to answer CONNECT' : 'during the TLS handshake';
  return new UpstreamError('KW_ERR_UPSTREAM_TIMEOUT', `cannot reach the API server ${plan.display}: no answer within ${seconds} (${during})`);
}

function tcpError(plan: DialPlan, e: Error): UpstreamError {
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? '';
  const host = plan.proxy ? bareHost(plan.proxy) : plan.host;
  let words: string;
  let kind: UpstreamErrorCode = 'KW_ERR_UPSTREAM_REFUSED';
  switch (code) {
    case 'ECONNREFUSED': words = 'connection refused'; break;
    case 'ECONNRESET': words = 'connection reset'; break;
    case 'EHOSTUNREACH': words = 'host unreachable'; break;
    case 'ENETUNREACH': words = 'network unreachable'; break;
    case 'ETIMEDOUT': words = 'connection timed out'; kind = 'KW_ERR_UPSTREAM_TIMEOUT'; break;
    case 'ENOTFOUND': words = `host name "${host}" not found`; kind = 'KW_ERR_UPSTREAM_DNS'; break;
    case 'EAI_AGAIN': words = `host name "${host}" could not be resolved (DNS failure)`; kind = 'KW_ERR_UPSTREAM_DNS'; break;
    default: words = err.message;
  }
  const suffix = code ? ` (${code})` : '';
  if (plan.proxy) {
    return new UpstreamError('KW_ERR_UPSTREAM_PROXY', `cannot reach the proxy ${plan.proxy.protocol}//${plan.proxy.host} for ${plan.display}: ${words}${suffix}`, e);
  }
  return new UpstreamError(kind, `cannot reach the API server ${plan.display}: ${words}${suffix}`, e);
}

const UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

function tlsError(plan: DialPlan, e: Error): UpstreamError {
  const err = e as NodeJS.ErrnoException & { reason?: string };
  const code = err.code ?? '';
  let words: string;
  if (UNKNOWN_AUTHORITY.has(code)) {
    words = `certificate signed by unknown authority (${code}); check certificate-authority in the kubeconfig`;
  } else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    words = `the server certificate ${code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not valid yet'} (${code})`;
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    words = `the server certificate is not valid for the name in use (${code}): ${err.reason ?? err.message}; check the server URL or set tls-server-name`;
  } else if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_HTTP_REQUEST') {
    words = `the server did not answer with TLS (${code}); if it serves plain HTTP, use an http:// server URL`;
  } else if (/ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|HANDSHAKE_FAILURE|UNKNOWN_CA|CERTIFICATE_UNKNOWN)/.test(code)) {
    words = `the server rejected the handshake (${code}); check client-certificate and client-key in the kubeconfig`;
  } else if (code === 'ECONNRESET' || code === 'EPIPE') {
    words = `the server closed the connection during the handshake (${code})`;
  } else {
    words = code ? `${err.message} (${code})` : err.message;
  }
  return new UpstreamError('KW_ERR_UPSTREAM_TLS', `TLS handshake with ${plan.display}: ${words}`, e);
}
