/**
 * The API server kubewire forwards to, as the proxy server, the HTTP forwarder, the upgrade
 * tunnel, doctor and the audit identity lookup use it: fresh auth and TLS per connection,
 * upgrade legs dialled by kubewire, and one keep-alive agent for plain requests. loadUpstream
 * (kubeconfig-upstream.ts) builds it from the kubeconfig. Failing to reach it is an
 * UpstreamError, which upstream-failure.ts turns into the 502 that kubectl is answered with.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';

export interface UpstreamConnectionOptions {
  /** Headers the upstream needs on every request/upgrade: Authorization (bearer/basic), Impersonate-* if configured. Never logged. */
  headers: Record<string, string>;
  /** TLS options for tls.connect / https.request: ca, cert, key, rejectUnauthorized, servername (when the host is a DNS name). ALPNProtocols is never set to h2. */
  tls: tls.ConnectionOptions;
}

export interface Upstream {
  readonly server: URL;
  readonly contextName: string;
  readonly clusterName: string;
  /** '' when the context names no user (anonymous). */
  readonly userName: string;
  readonly namespace: string | null;
  readonly proxyUrl: URL | null;
  readonly kubeconfigPaths: string[];
  describe(): string;
  /** Fresh auth and TLS for one new connection; an exec plugin's credential is kept until it expires or is rejected. */
  connectionOptions(): Promise<UpstreamConnectionOptions>;
  /** The API server answered 401 to credentials from connectionOptions(): drop any kept credential, as client-go does. */
  credentialsRejected?(): void;
  /**
   * A TCP (+TLS) connection for an upgrade leg, with no ALPN (HTTP/1.1), through proxy-url when
   * set. Pass the options already fetched for this connection to avoid evaluating credentials
   * twice. The caller must attach its own `error` handler. Rejects with UpstreamError.
   */
  connect(options?: UpstreamConnectionOptions): Promise<Duplex>;
  /** One keep-alive agent (ALPN http/1.1) whose every new socket is dialled like connect(). */
  agent(): Promise<http.Agent>;
  /**
   * Whether the API server (or the proxy-url before it) takes a TCP connection within
   * `timeoutMs`: null if it does, else why not, in plain words. No credentials are evaluated
   * (no exec plugin runs) and nothing is sent to the API server.
   */
  probe?(timeoutMs: number): Promise<string | null>;
}

export type UpstreamErrorCode =
  | 'KW_ERR_UPSTREAM_REFUSED'
  | 'KW_ERR_UPSTREAM_TLS'
  | 'KW_ERR_UPSTREAM_TIMEOUT'
  | 'KW_ERR_UPSTREAM_DNS'
  | 'KW_ERR_UPSTREAM_PROXY'
  | 'KW_ERR_UPSTREAM_AUTH';

export class UpstreamError extends Error {
  constructor(readonly code: `KW_ERR_${string}`, message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'UpstreamError';
  }
}
