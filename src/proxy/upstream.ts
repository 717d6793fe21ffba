/**
 * The API server kubewire forwards to, found the way kubectl finds it: `--kubeconfig` wins over
 * `KUBECONFIG` (a list of files, merged: the first file to define a name wins, and the first
 * non-empty current-context wins), which wins over ~/.kube/config; `--context` wins over
 * current-context. Parsing, TLS material and credentials (token, token-file, client certs,
 * basic auth, exec plugins, auth-providers, `as`) all come from @kubernetes/client-node; this
 * module only picks the files, explains what is wrong with them, and dials.
 *
 * Dialling follows kubectl's upgrade legs (protocol.md Part B §1): a fresh TCP (+TLS)
 * connection with no ALPN extension, so the server speaks HTTP/1.1, and no SNI to an IP
 * address. A `proxy-url` of the http:// kind is crossed with CONNECT written by hand.
 * Like kubectl, no user credentials are sent to a plain http:// server.
 */
import { readFileSync, accessSync, constants as fsConstants } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import net from 'node:net';
import { delimiter, dirname, isAbsolute, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node';
import { CliError, describeFsError } from '../io/errors.js';

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
  /** Fresh auth and TLS for one new connection; client-node caches exec credentials until their expirationTimestamp. */
  connectionOptions(): Promise<UpstreamConnectionOptions>;
  /**
   * A TCP (+TLS) connection for an upgrade leg, with no ALPN (HTTP/1.1), through proxy-url when
   * set. Pass the options already fetched for this connection to avoid evaluating credentials
   * twice. The caller must attach its own `error` handler. Rejects with UpstreamError.
   */
  connect(options?: UpstreamConnectionOptions): Promise<Duplex>;
  /** One keep-alive agent (ALPN http/1.1) whose every new socket is dialled like connect(). */
  agent(): Promise<http.Agent>;
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

export interface LoadUpstreamOptions {
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
  /** Overall limit for TCP connect, proxy CONNECT and TLS handshake. Default 10 s. */
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const MAX_PROXY_RESPONSE_HEAD = 16 * 1024;
/** Stands in for "no user" so client-node still applies the cluster's CA (it skips TLS options without a user). */
const ANONYMOUS_USER = '\u0000kubewire-anonymous';

type ClientNode = typeof import('@kubernetes/client-node');
type RawEntry = Record<string, unknown>;

interface LoadedFile {
  path: string;
  kc: KubeConfig;
  raw: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Finding and reading the files

function kubeconfigPaths(opts: LoadUpstreamOptions, env: NodeJS.ProcessEnv): string[] {
  if (opts.kubeconfig) {
    const file = resolve(opts.kubeconfig);
    if (!exists(file)) throw new CliError('KW_ERR_KUBECONFIG_NOT_FOUND', `the kubeconfig ${file} given with --kubeconfig does not exist`);
    return [file];
  }
  const list = env['KUBECONFIG'];
  if (list) {
    const files = [...new Set(list.split(delimiter).filter((f) => f !== '').map((f) => resolve(f)))];
    // kubectl skips KUBECONFIG entries that do not exist.
    const found = files.filter(exists);
    if (found.length === 0) {
      throw new CliError('KW_ERR_KUBECONFIG_NOT_FOUND', `no kubeconfig found: none of the files in KUBECONFIG exist (${files.join(', ') || 'the list is empty'}); fix KUBECONFIG or pass --kubeconfig <file>`);
    }
    return found;
  }
  const home = env['HOME'] || homedir();
  const file = resolve(home, '.kube', 'config');
  if (!exists(file)) {
    throw new CliError('KW_ERR_KUBECONFIG_NOT_FOUND', `no kubeconfig found: KUBECONFIG is not set and ${file} does not exist; pass --kubeconfig <file> or set KUBECONFIG`);
  }
  return [file];
}

function exists(file: string): boolean {
  try {
    accessSync(file, fsConstants.F_OK);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** What loadFromFile does, with the reading and the YAML errors told apart. */
function loadFile(lib: ClientNode, file: string): LoadedFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('KW_ERR_KUBECONFIG_UNREADABLE', `cannot read kubeconfig ${file}: ${describeFsError(e)}`);
  }
  const kc = new lib.KubeConfig();
  let raw: unknown = {};
  try {
    raw = lib.loadYaml(text);
  } catch (e) {
    // loadYaml refuses an empty document; kubectl reads it as an empty config.
    if ((e as Error).name === 'YAMLException') {
      // js-yaml's message carries a multi-line excerpt; one line is enough to find the spot.
      const y = e as Error & { reason?: string; mark?: { line: number; column: number } };
      const where = y.mark ? ` at line ${y.mark.line + 1}, column ${y.mark.column + 1}` : '';
      throw new CliError('KW_ERR_KUBECONFIG_PARSE', `kubeconfig ${file} is not valid YAML: ${y.reason ?? y.message.split('\n')[0]}${where}`);
    }
    return { path: file, kc, raw: {} };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CliError('KW_ERR_KUBECONFIG_PARSE', `kubeconfig ${file} is not a kubeconfig: expected a YAML mapping with clusters, users and contexts`);
  }
  try {
    // Filter, like kubectl, which only validates the entries in use; those are explained below.
    kc.loadFromString(text, { onInvalidEntry: 'filter' });
  } catch (e) {
    throw new CliError('KW_ERR_KUBECONFIG_PARSE', `kubeconfig ${file} cannot be loaded: ${(e as Error).message}`);
  }
  kc.makePathsAbsolute(dirname(file));
  const dir = dirname(file);
  for (const user of kc.users) {
    // client-go resolves an exec command with a path separator against the kubeconfig's folder.
    const exec = user.exec as { command?: unknown } | null | undefined;
    if (exec && typeof exec.command === 'string' && exec.command.includes(sep) && !isAbsolute(exec.command)) {
      exec.command = resolve(dir, exec.command);
    }
  }
  return { path: file, kc, raw: raw as Record<string, unknown> };
}

// ---------------------------------------------------------------------------------------------
// Merging and choosing the context

interface Merged {
  clusters: Map<string, { value: Cluster; file: string }>;
  users: Map<string, { value: User; file: string }>;
  contexts: Map<string, { value: Context; file: string }>;
  currentContext: string | null;
  currentContextFile: string | null;
}

function merge(files: LoadedFile[]): Merged {
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: null, currentContextFile: null };
  for (const f of files) {
    for (const c of f.kc.clusters) if (!m.clusters.has(c.name)) m.clusters.set(c.name, { value: c, file: f.path });
    for (const u of f.kc.users) if (!m.users.has(u.name)) m.users.set(u.name, { value: u, file: f.path });
    for (const c of f.kc.contexts) if (!m.contexts.has(c.name)) m.contexts.set(c.name, { value: c, file: f.path });
    const current = f.kc.getCurrentContext();
    if (!m.currentContext && typeof current === 'string' && current !== '') {
      m.currentContext = current;
      m.currentContextFile = f.path;
    }
  }
  return m;
}

/** The raw entry client-node dropped as invalid, with its file, to say why it is unusable. */
function rawEntry(files: LoadedFile[], list: 'clusters' | 'users' | 'contexts', name: string): { entry: RawEntry; file: string } | null {
  for (const f of files) {
    const items = f.raw[list];
    if (!Array.isArray(items)) continue;
    for (const item of items) {
      if (item && typeof item === 'object' && (item as RawEntry)['name'] === name) return { entry: item as RawEntry, file: f.path };
    }
  }
  return null;
}

function section(entry: RawEntry, key: string): RawEntry | null {
  const v = entry[key];
  return v && typeof v === 'object' ? (v as RawEntry) : null;
}

function known(kind: string, names: Iterable<string>): string {
  const list = [...names].map((n) => `"${n}"`);
  return list.length ? `known ${kind}: ${list.join(', ')}` : `the kubeconfig defines no ${kind}`;
}

function where(paths: string[]): string {
  return paths.length === 1 ? paths[0]! : `${paths.join(', ')} (merged from KUBECONFIG)`;
}

function selectContext(files: LoadedFile[], m: Merged, requested: string | undefined, paths: string[]): Context {
  const name = requested || m.currentContext;
  if (!name) {
    throw new CliError('KW_ERR_KUBECONFIG_NO_CONTEXT', `no current-context is set in ${where(paths)}; pass --context <name> (${known('contexts', m.contexts.keys())})`);
  }
  const found = m.contexts.get(name);
  if (found) return found.value;
  const dropped = rawEntry(files, 'contexts', name);
  if (dropped) {
    const ctx = section(dropped.entry, 'context');
    const why = ctx ? 'names no cluster' : 'has no context section';
    throw new CliError('KW_ERR_KUBECONFIG_INVALID', `context "${name}" in ${dropped.file} ${why}; set contexts[].context.cluster`);
  }
  const origin = requested ? `the context "${name}" given with --context` : `current-context "${name}" (set in ${m.currentContextFile})`;
  throw new CliError('KW_ERR_KUBECONFIG_UNKNOWN_CONTEXT', `${origin} is not defined in ${where(paths)}; ${known('contexts', m.contexts.keys())}`);
}

function selectCluster(files: LoadedFile[], m: Merged, ctx: Context, paths: string[]): Cluster {
  const found = m.clusters.get(ctx.cluster);
  if (found) return found.value;
  const dropped = rawEntry(files, 'clusters', ctx.cluster);
  if (dropped) {
    const body = section(dropped.entry, 'cluster');
    const why = body ? 'has no server' : 'has no cluster section (and so no server)';
    throw new CliError('KW_ERR_KUBECONFIG_NO_SERVER', `cluster "${ctx.cluster}" (used by context "${ctx.name}") in ${dropped.file} ${why}; set clusters[].cluster.server to the API server URL`);
  }
  throw new CliError('KW_ERR_KUBECONFIG_MISSING_CLUSTER', `context "${ctx.name}" names cluster "${ctx.cluster}", which is not defined in ${where(paths)}; ${known('clusters', m.clusters.keys())}`);
}

function selectUser(files: LoadedFile[], m: Merged, ctx: Context, paths: string[]): User | null {
  if (!ctx.user) return null;
  const found = m.users.get(ctx.user);
  if (found) return found.value;
  const dropped = rawEntry(files, 'users', ctx.user);
  const tokenFile = dropped ? section(dropped.entry, 'user')?.['token-file'] : undefined;
  if (dropped && typeof tokenFile === 'string') {
    let cause = 'it cannot be read';
    try {
      readFileSync(tokenFile);
    } catch (e) {
      cause = describeFsError(e);
    }
    throw new CliError('KW_ERR_KUBECONFIG_TOKEN_FILE', `token-file ${tokenFile} of user "${ctx.user}" in ${dropped.file}: ${cause} (a relative token-file is read from the current directory)`);
  }
  throw new CliError('KW_ERR_KUBECONFIG_MISSING_USER', `context "${ctx.name}" names user "${ctx.user}", which is not defined in ${where(paths)}; ${known('users', m.users.keys())}`);
}

function parseServer(cluster: Cluster, file: string): URL {
  // client-go reads a bare host:port as https.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(cluster.server) ? cluster.server : `https://${cluster.server}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError('KW_ERR_KUBECONFIG_BAD_SERVER', `cluster "${cluster.name}" in ${file} has server "${cluster.server}", which is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new CliError('KW_ERR_KUBECONFIG_BAD_SERVER', `cluster "${cluster.name}" in ${file} has server "${cluster.server}": only https:// and http:// are supported`);
  }
  return url;
}

function parseProxyUrl(cluster: Cluster, file: string): URL | null {
  if (!cluster.proxyUrl) return null;
  try {
    return new URL(cluster.proxyUrl);
  } catch {
    throw new CliError('KW_ERR_KUBECONFIG_BAD_PROXY', `cluster "${cluster.name}" in ${file} has proxy-url "${cluster.proxyUrl}", which is not a URL`);
  }
}

/** kubectl refuses to start when a referenced certificate or key file cannot be read; so do we. */
function checkFileReferences(cluster: Cluster, user: User | null, m: Merged): void {
  const refs: Array<[string | undefined, string, string]> = [[cluster.caFile, 'certificate-authority', `cluster "${cluster.name}" in ${m.clusters.get(cluster.name)?.file}`]];
  if (user) {
    const owner = `user "${user.name}" in ${m.users.get(user.name)?.file}`;
    refs.push([user.certFile, 'client-certificate', owner], [user.keyFile, 'client-key', owner]);
    const hasCert = Boolean(user.certFile || user.certData);
    const hasKey = Boolean(user.keyFile || user.keyData);
    if (hasCert !== hasKey) {
      throw new CliError('KW_ERR_KUBECONFIG_INVALID', `${owner} has a client ${hasCert ? 'certificate but no key' : 'key but no certificate'}; set both client-certificate(-data) and client-key(-data)`);
    }
  }
  for (const [file, field, owner] of refs) {
    if (!file) continue;
    try {
      readFileSync(file);
    } catch (e) {
      throw new CliError('KW_ERR_KUBECONFIG_FILE_REF', `${field} ${file} of ${owner} cannot be read: ${describeFsError(e)}`);
    }
  }
}

export async function loadUpstream(opts: LoadUpstreamOptions): Promise<Upstream> {
  const env = opts.env ?? process.env;
  const paths = kubeconfigPaths(opts, env);
  // Loaded on demand: the library takes most of a second to import.
  const lib = await import('@kubernetes/client-node');
  const files = paths.map((p) => loadFile(lib, p));
  const merged = merge(files);
  const ctx = selectContext(files, merged, opts.context, paths);
  const cluster = selectCluster(files, merged, ctx, paths);
  const user = selectUser(files, merged, ctx, paths);
  const clusterFile = merged.clusters.get(cluster.name)!.file;
  const server = parseServer(cluster, clusterFile);
  const proxyUrl = parseProxyUrl(cluster, clusterFile);
  if (server.protocol === 'https:') checkFileReferences(cluster, user, merged);

  const kc = new lib.KubeConfig();
  const effectiveUser: User = user ?? { name: ANONYMOUS_USER };
  kc.loadFromOptions({
    clusters: [cluster],
    users: [effectiveUser],
    contexts: [{ ...ctx, user: effectiveUser.name }],
    currentContext: ctx.name,
  });
  return new KubeconfigUpstream(kc, {
    server,
    contextName: ctx.name,
    clusterName: cluster.name,
    userName: user?.name ?? '',
    namespace: ctx.namespace ?? null,
    proxyUrl,
    kubeconfigPaths: paths,
    user,
    timeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  });
}

// ---------------------------------------------------------------------------------------------
// The upstream: credentials and dialling

interface UpstreamFacts {
  server: URL;
  contextName: string;
  clusterName: string;
  userName: string;
  namespace: string | null;
  proxyUrl: URL | null;
  kubeconfigPaths: string[];
  user: User | null;
  timeoutMs: number;
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
  private pending: Promise<UpstreamConnectionOptions> | null = null;
  private cachedAgent: http.Agent | null = null;

  constructor(private readonly kc: KubeConfig, private readonly facts: UpstreamFacts) {
    this.server = facts.server;
    this.contextName = facts.contextName;
    this.clusterName = facts.clusterName;
    this.userName = facts.userName;
    this.namespace = facts.namespace;
    this.proxyUrl = facts.proxyUrl;
    this.kubeconfigPaths = facts.kubeconfigPaths;
    this.display = displayUrl(facts.server);
  }

  describe(): string {
    return `${this.display} (context ${this.contextName})`;
  }

  connectionOptions(): Promise<UpstreamConnectionOptions> {
    // Callers arriving together share one evaluation, so an exec plugin runs once per burst.
    this.pending ??= this.evaluate().finally(() => (this.pending = null));
    return this.pending.then((o) => ({ headers: { ...o.headers }, tls: { ...o.tls } }));
  }

  async connect(options?: UpstreamConnectionOptions): Promise<Duplex> {
    this.checkProxy();
    const { tls: tlsOptions } = options ?? (await this.connectionOptions());
    return this.dial(tlsOptions, undefined);
  }

  async agent(): Promise<http.Agent> {
    this.checkProxy();
    if (!this.cachedAgent) {
      const open = async (): Promise<Duplex> => this.dial((await this.connectionOptions()).tls, ['http/1.1']);
      this.cachedAgent = this.server.protocol === 'https:' ? new DialingHttpsAgent(open) : new DialingHttpAgent(open);
    }
    return this.cachedAgent;
  }

  private async evaluate(): Promise<UpstreamConnectionOptions> {
    // kubectl sends no user credentials to a plain http:// server (protocol.md Part B §1).
    if (this.server.protocol === 'http:') return { headers: {}, tls: {} };
    const opts: https.RequestOptions = {};
    try {
      await this.kc.applyToHTTPSOptions(opts);
    } catch (e) {
      throw this.credentialError(e);
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(opts.headers ?? {})) {
      if (value === undefined) continue;
      const name = key.toLowerCase() === 'authorization' ? 'Authorization' : key;
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    // As applyToFetchOptions does: basic auth comes back as `auth`, not as a header.
    if (opts.auth) headers['Authorization'] = 'Basic ' + Buffer.from(opts.auth).toString('base64');
    // A token file usually ends with a newline, which client-node keeps and Node refuses in a header.
    if (headers['Authorization'] !== undefined) headers['Authorization'] = headers['Authorization'].trim();

    const tlsOptions: tls.ConnectionOptions = { rejectUnauthorized: opts.rejectUnauthorized !== false };
    if (opts.ca) tlsOptions.ca = opts.ca;
    if (opts.cert) tlsOptions.cert = opts.cert;
    if (opts.key) tlsOptions.key = opts.key;
    const host = bareHost(this.server);
    const servername = opts.servername || (net.isIP(host) ? undefined : host);
    if (servername) tlsOptions.servername = servername;
    return { headers, tls: tlsOptions };
  }

  private credentialError(e: unknown): UpstreamError {
    const err = e as NodeJS.ErrnoException;
    const who = `cannot get credentials for ${this.display} (user "${this.userName}")`;
    const exec = (this.facts.user?.exec ?? this.facts.user?.authProvider?.config?.exec) as { command?: string } | undefined;
    if (typeof err.path === 'string' && err.syscall !== undefined && !err.syscall.startsWith('spawn')) {
      return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: cannot read ${err.path}: ${describeFsError(err)}`, e);
    }
    if (exec) {
      const plugin = `exec credential plugin "${exec.command ?? ''}"`;
      if (err.syscall?.startsWith('spawn')) {
        return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${plugin} could not be started: ${describeFsError(err)} (${err.code}); check users[].user.exec.command`, e);
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
    return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${err.message ?? String(e)}`, e);
  }

  private checkProxy(): void {
    const proxy = this.proxyUrl;
    if (proxy && proxy.protocol !== 'http:') {
      throw new UpstreamError('KW_ERR_UPSTREAM_PROXY', `proxy-url ${proxy.protocol}//${proxy.host} for ${this.display} is not supported: kubewire only tunnels through http:// proxies (HTTP CONNECT)`);
    }
  }

  private dial(tlsOptions: tls.ConnectionOptions, alpn: string[] | undefined): Promise<Duplex> {
    const secure = this.server.protocol === 'https:';
    return dial({
      host: bareHost(this.server),
      port: Number(this.server.port) || (secure ? 443 : 80),
      display: this.display,
      tls: secure ? (alpn ? { ...tlsOptions, ALPNProtocols: alpn } : tlsOptions) : null,
      proxy: this.proxyUrl,
      timeoutMs: this.facts.timeoutMs,
    });
  }
}

/** Keep-alive agents whose sockets are dialled by kubewire (proxy, timeout, plain-words errors). */
class DialingHttpsAgent extends https.Agent {
  constructor(private readonly open: () => Promise<Duplex>) {
    super({ keepAlive: true });
  }

  override createConnection(_options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    this.open().then((s) => callback?.(null, s), (e: Error) => callback?.(e, undefined as unknown as Duplex));
    return undefined;
  }
}

class DialingHttpAgent extends http.Agent {
  constructor(private readonly open: () => Promise<Duplex>) {
    super({ keepAlive: true });
  }

  override createConnection(_options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    this.open().then((s) => callback?.(null, s), (e: Error) => callback?.(e, undefined as unknown as Duplex));
    return undefined;
  }
}

function displayUrl(url: URL): string {
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/** URL.hostname keeps the brackets of an IPv6 literal; sockets want it bare. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

// ---------------------------------------------------------------------------------------------
// Dialling: TCP, then CONNECT through the proxy if any, then TLS

interface DialPlan {
  host: string;
  port: number;
  display: string;
  tls: tls.ConnectionOptions | null;
  proxy: URL | null;
  timeoutMs: number;
}

type Phase = 'tcp' | 'proxy' | 'tls';

function dial(plan: DialPlan): Promise<Duplex> {
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
      secure = tls.connect({ ...plan.tls, socket: raw, host: plan.host });
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

/** Writes `CONNECT host:port` and waits for a 2xx head (RFC 9110 §9.3.6). */
function proxyConnect(socket: net.Socket, plan: DialPlan, done: (err: UpstreamError | null) => void): void {
  const proxy = plan.proxy!;
  const authority = `${net.isIPv6(plan.host) ? `[${plan.host}]` : plan.host}:${plan.port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username || proxy.password) {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}`);
  }
  socket.write(lines.join('\r\n') + '\r\n\r\n');

  // 'readable' and read(), not 'data': once the listener is gone the socket is neither flowing
  // nor paused, so the caller's first 'data' listener starts it, with unread bytes kept.
  const chunks: Buffer[] = [];
  let size = 0;
  const cleanup = (): void => {
    socket.removeListener('readable', onReadable);
    socket.removeListener('end', onEnd);
  };
  const proxyName = `${proxy.protocol}//${proxy.host}`;
  const onEnd = (): void => {
    cleanup();
    done(new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} closed the connection before answering CONNECT ${authority} (for ${plan.display})`));
  };
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) {
      chunks.push(chunk);
      size += chunk.length;
    }
    const buffer = Buffer.concat(chunks, size);
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) {
      if (size > MAX_PROXY_RESPONSE_HEAD) {
        cleanup();
        done(new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} sent a CONNECT response head over ${MAX_PROXY_RESPONSE_HEAD} bytes`));
      }
      return;
    }
    cleanup();
    const statusLine = buffer.subarray(0, buffer.indexOf('\r\n')).toString('latin1');
    const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
    if (!match) {
      done(new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} did not answer CONNECT with HTTP (${JSON.stringify(statusLine.slice(0, 80))})`));
      return;
    }
    const status = Number(match[1]);
    if (status < 200 || status > 299) {
      const hint = status === 407 ? '; check the user and password in proxy-url' : '';
      done(new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} refused to tunnel to ${authority} (for ${plan.display}): ${status} ${match[2] ?? ''}`.trimEnd() + hint));
      return;
    }
    const rest = buffer.subarray(end + 4);
    if (rest.length > 0) {
      // TLS takes the socket's handle and would never see bytes put back into the stream.
      if (plan.tls) {
        done(new UpstreamError('KW_ERR_UPSTREAM_PROXY', `the proxy ${proxyName} sent data before the TLS handshake with ${plan.display}`));
        return;
      }
      socket.unshift(rest);
    }
    done(null);
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
