/**
 * The Upstream a kubeconfig describes. loadUpstream reads the kubeconfig as kubectl would
 * (src/kubeconfig) and fails with a CliError before anything listens; the Upstream then
 * evaluates credentials for each connection (upstream-credentials.ts) and dials with them
 * (upstream-dial.ts, upstream-agent.ts), failing with UpstreamErrors.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { loadKubeconfig, type KubeconfigLoadOptions, type KubeconfigTarget } from '../kubeconfig/load-kubeconfig.js';
import { UpstreamError, type Upstream, type UpstreamConnectionOptions } from './upstream.js';
import { dialingAgent } from './upstream-agent.js';
import { UpstreamCredentials } from './upstream-credentials.js';
import { bareHost, dial } from './upstream-dial.js';

export interface LoadUpstreamOptions extends KubeconfigLoadOptions {
  /** Overall limit for TCP connect, proxy CONNECT and TLS handshake. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Use the cluster entry only (server, CA, TLS name, proxy-url) and none of the user's
   * credentials: `kubewire gateway --identity passthrough` forwards each client's own token.
   */
  withoutCredentials?: boolean;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export async function loadUpstream(opts: LoadUpstreamOptions): Promise<Upstream> {
  const target = await loadKubeconfig(opts);
  return new KubeconfigUpstream(opts.withoutCredentials ? { ...target, user: null, exec: null } : target, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
}

class KubeconfigUpstream implements Upstream {
  readonly server: URL;
  readonly contextName: string;
  readonly clusterName: string;
  readonly userName: string;
  readonly namespace: string | null;
  readonly proxyUrl: URL | null;
  readonly kubeconfigPaths: string[];
  private readonly display: string;
  private readonly credentials: UpstreamCredentials;
  private pending: Promise<UpstreamConnectionOptions> | null = null;
  private cachedAgent: http.Agent | null = null;

  /** The last TLS session per client identity and ALPN offer (upstream-dial.ts). */
  private readonly tlsSessions = new Map<string, Buffer>();

  constructor(target: KubeconfigTarget, private readonly timeoutMs: number) {
    this.server = target.server;
    this.contextName = target.contextName;
    this.clusterName = target.clusterName;
    this.userName = target.userName;
    this.namespace = target.namespace;
    this.proxyUrl = target.proxyUrl;
    this.kubeconfigPaths = target.kubeconfigPaths;
    this.display = displayUrl(target.server);
    this.credentials = new UpstreamCredentials(target, this.display);
  }

  describe(): string {
    return `${this.display} (context ${this.contextName})`;
  }

  connectionOptions(): Promise<UpstreamConnectionOptions> {
    // Callers arriving together share one evaluation, so an exec plugin runs once per burst.
    this.pending ??= this.credentials.evaluate().finally(() => (this.pending = null));
    return this.pending.then((o) => ({ headers: { ...o.headers }, tls: { ...o.tls } }));
  }

  credentialsRejected(): void {
    this.credentials.rejected();
  }

  async connect(options?: UpstreamConnectionOptions): Promise<Duplex> {
    this.checkProxy();
    const { tls: tlsOptions } = options ?? (await this.connectionOptions());
    return this.dial(tlsOptions, undefined);
  }

  async agent(): Promise<http.Agent> {
    this.checkProxy();
    this.cachedAgent ??= dialingAgent(this.server.protocol === 'https:', async () => this.dial((await this.connectionOptions()).tls, ['http/1.1']));
    return this.cachedAgent;
  }

  async probe(timeoutMs: number): Promise<string | null> {
    try {
      this.checkProxy();
      const socket = await dial({ host: bareHost(this.server), port: this.port(), display: this.display, tls: null, proxy: this.proxyUrl, timeoutMs });
      socket.destroy();
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }

  private port(): number {
    return Number(this.server.port) || (this.server.protocol === 'https:' ? 443 : 80);
  }

  private checkProxy(): void {
    const proxy = this.proxyUrl;
    if (proxy && proxy.protocol !== 'http:') {
      throw new UpstreamError('KW_ERR_UPSTREAM_PROXY', `proxy-url ${proxy.protocol}//${proxy.host} for ${this.display} is not supported: kubewire only tunnels through http:// proxies (HTTP CONNECT)`);
    }
  }

  private keepSession(key: string, session: Buffer): void {
    this.tlsSessions.delete(key);
    this.tlsSessions.set(key, session);
    // Rotated certificates leave old entries behind: keep the newest few.
    if (this.tlsSessions.size > MAX_TLS_SESSIONS) this.tlsSessions.delete(this.tlsSessions.keys().next().value!);
  }

  private dial(tlsOptions: tls.ConnectionOptions, alpn: string[] | undefined): Promise<Duplex> {
    const secure = this.server.protocol === 'https:';
    // A session is resumed only with the client certificate it was made with (an exec plugin
    // may rotate it), and only for the same ALPN offer.
    const key = `${alpn?.join(',') ?? ''}\n${String(tlsOptions.cert ?? '')}\n${String(tlsOptions.pfx ?? '')}`;
    const kept = this.tlsSessions.get(key);
    return dial({
      resume: { session: kept, keep: (session) => this.keepSession(key, session) },
      host: bareHost(this.server),
      port: this.port(),
      display: this.display,
      tls: secure ? (alpn ? { ...tlsOptions, ALPNProtocols: alpn } : tlsOptions) : null,
      proxy: this.proxyUrl,
      timeoutMs: this.timeoutMs,
    });
  }
}

const MAX_TLS_SESSIONS = 8;

function displayUrl(url: URL): string {
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.protocol}//${url.host}${path}`;
}
