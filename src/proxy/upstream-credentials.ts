/**
 * Auth and TLS for one upstream connection, from the kubeconfig's chosen cluster and user, as
 * kubectl evaluates them: the CA (data or file), insecure-skip-tls-verify, tls-server-name,
 * a client certificate and key (data or files), Impersonate-User (`as`), and one of basic
 * auth, a token, a token file (re-read once a minute, as client-go does, so a rotated token is
 * picked up), an exec plugin (exec-credential.ts) or an auth-provider (auth-provider.ts, the
 * one part evaluated by @kubernetes/client-node, imported only then). Failures become
 * KW_ERR_UPSTREAM_AUTH errors naming the file or the plugin at fault. Like kubectl, no user
 * credentials are sent to a plain http:// server (protocol.md Part B §1).
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type tls from 'node:tls';
import { describeFsError } from '../io/errors.js';
import type { KubeconfigTarget } from '../kubeconfig/load-kubeconfig.js';
import { AuthProviderCredentials } from './auth-provider.js';
import { ExecPlugin, ExecPluginError, type ExecClusterInfo } from './exec-credential.js';
import { UpstreamError, type UpstreamConnectionOptions } from './upstream.js';
import { bareHost } from './upstream-dial.js';

/** client-go re-reads a token file this often. */
const TOKEN_FILE_TTL_MS = 60_000;

export class UpstreamCredentials {
  private readonly exec: ExecPlugin | null;
  private readonly authProvider: AuthProviderCredentials | null;
  private tokenFile: { token: string; readAt: number } | null = null;

  /** `display` names the API server in messages. */
  constructor(private readonly target: KubeconfigTarget, private readonly display: string, private readonly now: () => number = Date.now) {
    const user = target.user;
    // As client-go: a token, basic auth or a client certificate in the kubeconfig is used
    // as it is, and the exec plugin is not run.
    const staticAuth = Boolean(user && (user.token || user.tokenFile || user.username || user.certData || user.certFile));
    this.exec = target.exec && !staticAuth ? new ExecPlugin(target.exec, () => this.clusterInfo(), now) : null;
    this.authProvider = user?.authProvider && !target.exec && !user.token && !user.tokenFile && !user.username ? new AuthProviderCredentials(target.cluster, user) : null;
  }

  /** Rejects with UpstreamError. */
  async evaluate(): Promise<UpstreamConnectionOptions> {
    if (this.target.server.protocol === 'http:') return { headers: {}, tls: {} };
    try {
      return await this.evaluateHttps();
    } catch (e) {
      throw this.error(e);
    }
  }

  /** The API server answered 401: the next connection gets a fresh exec credential and re-reads the token file. */
  rejected(): void {
    this.exec?.invalidate();
    this.tokenFile = null;
  }

  private async evaluateHttps(): Promise<UpstreamConnectionOptions> {
    const { cluster, user } = this.target;
    const headers: Record<string, string> = {};
    const tlsOptions: tls.ConnectionOptions = { rejectUnauthorized: !cluster.skipTLSVerify };
    const ca = await material(cluster.caData, cluster.caFile);
    if (ca) tlsOptions.ca = ca;
    if (user) {
      const cert = await material(user.certData, user.certFile);
      const key = await material(user.keyData, user.keyFile);
      if (cert) tlsOptions.cert = cert;
      if (key) tlsOptions.key = key;
      if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
      const authorization = await this.authorization(tlsOptions);
      // A token file usually ends with a newline, which Node refuses in a header.
      if (authorization) headers['Authorization'] = authorization.trim();
    }
    const host = bareHost(this.target.server);
    // RFC 6066 §3: SNI carries DNS names only, never an IP address literal.
    const servername = cluster.tlsServerName || (net.isIP(host) ? undefined : host);
    if (servername) tlsOptions.servername = servername;
    return { headers, tls: tlsOptions };
  }

  /** The Authorization header; an exec plugin's client certificate goes into `tlsOptions`. */
  private async authorization(tlsOptions: tls.ConnectionOptions): Promise<string | null> {
    const user = this.target.user!;
    if (user.username) return 'Basic ' + Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64');
    if (user.token) return `Bearer ${user.token}`;
    if (user.tokenFile) return `Bearer ${await this.fileToken(user.tokenFile)}`;
    if (this.exec) {
      const cred = await this.exec.credential();
      if (cred.clientCertificateData && cred.clientKeyData) {
        tlsOptions.cert = cred.clientCertificateData;
        tlsOptions.key = cred.clientKeyData;
      }
      return cred.token ? `Bearer ${cred.token}` : null;
    }
    if (this.authProvider) return this.authProvider.authorization();
    return null;
  }

  private async fileToken(file: string): Promise<string> {
    const cached = this.tokenFile;
    if (cached && this.now() - cached.readAt < TOKEN_FILE_TTL_MS) return cached.token;
    let token: string;
    try {
      token = (await readFile(file, 'utf8')).trim();
      if (token === '') throw new TokenFileEmpty(file);
    } catch (e) {
      // As client-go: a token that was read stays in use while the file cannot be read.
      if (cached) return cached.token;
      throw e;
    }
    this.tokenFile = { token, readAt: this.now() };
    return token;
  }

  private async clusterInfo(): Promise<ExecClusterInfo> {
    const { cluster } = this.target;
    return {
      server: cluster.server,
      ...(cluster.tlsServerName ? { tlsServerName: cluster.tlsServerName } : {}),
      insecureSkipTLSVerify: cluster.skipTLSVerify,
      certificateAuthorityData: await material(cluster.caData, cluster.caFile),
      ...(cluster.proxyUrl ? { proxyUrl: cluster.proxyUrl } : {}),
      ...(cluster.execExtension !== undefined ? { config: cluster.execExtension } : {}),
    };
  }

  private error(e: unknown): UpstreamError {
    const { target, display } = this;
    const who = `cannot get credentials for ${display} (user "${target.userName}")`;
    const err = e as NodeJS.ErrnoException;
    if (e instanceof ExecPluginError) return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${e.message}`, e);
    if (e instanceof TokenFileEmpty) return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${e.message}`, e);
    if (typeof err.path === 'string' && err.syscall !== undefined && !err.syscall.startsWith('spawn')) {
      return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: cannot read ${err.path}: ${describeFsError(err)}`, e);
    }
    return authProviderError(target, who, e);
  }
}

class TokenFileEmpty extends Error {
  constructor(file: string) {
    super(`token-file ${file} is empty`);
  }
}

/** Data (base64) wins over a file, as in client-go. */
async function material(data: string | undefined, file: string | undefined): Promise<Buffer | null> {
  if (data) return Buffer.from(data, 'base64');
  if (file) return readFile(file);
  return null;
}

/** What client-node's auth-providers throw: its exec form spawns a command, the others say what failed. */
function authProviderError(target: KubeconfigTarget, who: string, e: unknown): UpstreamError {
  const err = e as NodeJS.ErrnoException;
  const exec = target.user?.authProvider?.config?.['exec'] as { command?: string } | undefined;
  if (exec) {
    const plugin = `exec credential plugin "${exec.command ?? ''}"`;
    if (err.syscall?.startsWith('spawn')) {
      return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${plugin} could not be started: ${describeFsError(err)} (${err.code}); check users[].user.auth-provider.config.exec.command`, e);
    }
    if (e instanceof SyntaxError) {
      return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${plugin} did not print an ExecCredential as JSON: ${e.message}`, e);
    }
    if (e instanceof TypeError) {
      return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${plugin} printed an ExecCredential without status`, e);
    }
    const stderr = (err.message ?? '').trim();
    return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${plugin} failed${stderr ? `: ${stderr}` : ' with a non-zero exit status and no output'}`, e);
  }
  return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${err?.message ?? String(e)}`, e);
}
