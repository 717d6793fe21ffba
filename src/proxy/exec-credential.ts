/**
 * Running an exec credential plugin (users[].user.exec) the way client-go runs it
 * (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins):
 * the command with its args, kubewire's environment plus the configured env, and
 * KUBERNETES_EXEC_INFO holding an ExecCredential of the configured apiVersion whose spec says
 * whether the plugin may be interactive and, with provideClusterInfo, describes the cluster.
 * The plugin prints an ExecCredential whose status holds a token and/or a client certificate
 * and key, and maybe an expirationTimestamp.
 *
 * The credential is kept until its expirationTimestamp, or without one until the API server
 * rejects it (invalidate(), on a 401), as client-go keeps it. Callers arriving while the plugin
 * runs share that one run.
 *
 * kubewire serves many connections at once, often under its own terminal view, so a plugin
 * never gets the terminal: stdin is closed, spec.interactive is false, and stderr is kept to
 * explain a failure rather than shown.
 */
import { spawn } from 'node:child_process';
import { describeFsError } from '../io/errors.js';
import type { ExecConfig } from '../kubeconfig/exec-config.js';

export interface ExecCredential {
  token: string | null;
  /** PEM. */
  clientCertificateData: string | null;
  /** PEM. */
  clientKeyData: string | null;
  /** Epoch ms; null when the plugin gave none. */
  expiresAt: number | null;
}

/** spec.cluster of KUBERNETES_EXEC_INFO, for provideClusterInfo: true. */
export interface ExecClusterInfo {
  server: string;
  tlsServerName?: string;
  insecureSkipTLSVerify: boolean;
  /** The CA bundle (PEM bytes), from certificate-authority-data or certificate-authority. */
  certificateAuthorityData: Buffer | null;
  proxyUrl?: string;
  /** The cluster's `client.authentication.k8s.io/exec` extension. */
  config?: unknown;
}

/** A plugin that could not be run or gave no usable credential; the message names it. */
export class ExecPluginError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'ExecPluginError';
  }
}

export class ExecPlugin {
  private cached: ExecCredential | null = null;
  private running: Promise<ExecCredential> | null = null;

  /** `clusterInfo` is asked for only with provideClusterInfo. */
  constructor(
    private readonly config: ExecConfig,
    private readonly clusterInfo: () => Promise<ExecClusterInfo>,
    private readonly now: () => number = Date.now,
  ) {}

  credential(): Promise<ExecCredential> {
    const cached = this.cached;
    if (cached && (cached.expiresAt === null || this.now() < cached.expiresAt)) return Promise.resolve(cached);
    this.cached = null;
    this.running ??= this.run()
      .then((c) => (this.cached = c))
      .finally(() => (this.running = null));
    return this.running;
  }

  /** Forgets the credential, so that the next connection runs the plugin again. */
  invalidate(): void {
    this.cached = null;
  }

  private get name(): string {
    return `exec credential plugin "${this.config.command}"`;
  }

  private async run(): Promise<ExecCredential> {
    const { config } = this;
    const spec: Record<string, unknown> = { interactive: false };
    if (config.provideClusterInfo) spec['cluster'] = clusterJson(await this.clusterInfo());
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const { name, value } of config.env) env[name] = value;
    env['KUBERNETES_EXEC_INFO'] = JSON.stringify({ apiVersion: config.apiVersion, kind: 'ExecCredential', spec });
    const { stdout, stderr, code, signal } = await this.spawn(env);
    if (code !== 0) {
      const said = stderr.trim();
      const how = signal ? `was killed by ${signal}` : 'failed';
      const hint = config.interactiveMode === 'Always' ? '; the kubeconfig sets interactiveMode: Always, but kubewire runs credential plugins without a terminal' : '';
      throw new ExecPluginError(`${this.name} ${how}${said ? `: ${said}` : signal ? '' : ` with exit status ${code} and nothing on stderr`}${hint}`);
    }
    return this.parse(stdout);
  }

  private spawn(env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string; code: number | null; signal: NodeJS.Signals | null }> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      const child = spawn(this.config.command, this.config.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        child.stdout.destroy();
        child.stderr.destroy();
        const hint = e.code === 'ENOENT' && this.config.installHint ? `; ${this.config.installHint.replace(/\s*\n\s*/g, ' ')}` : '';
        reject(new ExecPluginError(`${this.name} could not be started: ${describeFsError(e)} (${e.code}); check users[].user.exec.command${hint}`, e));
      });
      child.on('close', (code, signal) => {
        if (settled) return;
        settled = true;
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code, signal });
      });
    });
  }

  private parse(stdout: string): ExecCredential {
    let obj: unknown;
    try {
      obj = JSON.parse(stdout);
    } catch (e) {
      throw new ExecPluginError(`${this.name} did not print an ExecCredential as JSON: ${(e as Error).message}`, e);
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ExecPluginError(`${this.name} did not print an ExecCredential as JSON: expected an object`);
    const cred = obj as Record<string, unknown>;
    if (cred['kind'] !== undefined && cred['kind'] !== 'ExecCredential') {
      throw new ExecPluginError(`${this.name} printed a ${JSON.stringify(cred['kind'])}, not an ExecCredential`);
    }
    if (cred['apiVersion'] !== undefined && cred['apiVersion'] !== this.config.apiVersion) {
      throw new ExecPluginError(`${this.name} printed an ExecCredential of ${JSON.stringify(cred['apiVersion'])}, but the kubeconfig asks for ${this.config.apiVersion}`);
    }
    const status = cred['status'];
    if (!status || typeof status !== 'object') throw new ExecPluginError(`${this.name} printed an ExecCredential without status`);
    const s = status as Record<string, unknown>;
    const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
    const token = str(s['token']);
    const clientCertificateData = str(s['clientCertificateData']);
    const clientKeyData = str(s['clientKeyData']);
    if (!token && !clientCertificateData && !clientKeyData) {
      throw new ExecPluginError(`${this.name} printed an ExecCredential with neither a token nor a client certificate`);
    }
    if (Boolean(clientCertificateData) !== Boolean(clientKeyData)) {
      throw new ExecPluginError(`${this.name} printed an ExecCredential with a client ${clientCertificateData ? 'certificate but no key' : 'key but no certificate'}`);
    }
    let expiresAt: number | null = null;
    const expiration = s['expirationTimestamp'];
    if (expiration !== undefined && expiration !== null && expiration !== '') {
      expiresAt = typeof expiration === 'string' ? Date.parse(expiration) : NaN;
      if (Number.isNaN(expiresAt)) throw new ExecPluginError(`${this.name} printed an ExecCredential whose expirationTimestamp ${JSON.stringify(expiration)} is not an RFC 3339 time`);
    }
    return { token, clientCertificateData, clientKeyData, expiresAt };
  }
}

/** The Cluster object of client.authentication.k8s.io v1/v1beta1, with its JSON field names. */
function clusterJson(info: ExecClusterInfo): Record<string, unknown> {
  const out: Record<string, unknown> = { server: info.server };
  if (info.tlsServerName) out['tls-server-name'] = info.tlsServerName;
  if (info.insecureSkipTLSVerify) out['insecure-skip-tls-verify'] = true;
  if (info.certificateAuthorityData?.length) out['certificate-authority-data'] = info.certificateAuthorityData.toString('base64');
  if (info.proxyUrl) out['proxy-url'] = info.proxyUrl;
  if (info.config !== undefined) out['config'] = info.config;
  return out;
}
