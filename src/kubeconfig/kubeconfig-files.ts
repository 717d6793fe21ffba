/**
 * Which kubeconfig files to read, reading them, and merging them, the way kubectl's loading
 * rules do: `--kubeconfig` wins over `KUBECONFIG` (a list of files; entries that do not exist
 * are skipped), which wins over ~/.kube/config. Merged, the first file to define a name wins,
 * and the first non-empty current-context wins. Relative file references are resolved against
 * the folder of the file that holds them, as kubectl resolves them. The YAML is read with
 * js-yaml; a missing file, an unreadable one and bad YAML are told apart, naming the file.
 *
 * This deliberately does not use @kubernetes/client-node: the entries are plain fields, and
 * that library takes most of a second and some 70 MiB to load.
 */
import { readFileSync, accessSync, constants as fsConstants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, resolve, sep } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { CliError, describeFsError } from '../io/errors.js';

export interface Cluster {
  name: string;
  /** As written, without a trailing slash. */
  server: string;
  caData?: string;
  /** Absolute. */
  caFile?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
  /** The `client.authentication.k8s.io/exec` entry of `extensions`, given to exec plugins with provideClusterInfo. */
  execExtension?: unknown;
}

export interface User {
  name: string;
  token?: string;
  /** Absolute. */
  tokenFile?: string;
  username?: string;
  password?: string;
  certData?: string;
  /** Absolute. */
  certFile?: string;
  keyData?: string;
  /** Absolute. */
  keyFile?: string;
  /** `as`: sent as Impersonate-User. */
  impersonateUser?: string;
  /** The exec section as written, with a command holding a path separator made absolute; checked when the user is chosen (exec-config.ts). */
  exec?: Record<string, unknown>;
  /** The auth-provider section as written (oidc, gcp, azure, …), evaluated by client-node. */
  authProvider?: { name?: unknown; config?: Record<string, unknown> } & Record<string, unknown>;
}

export interface Context {
  name: string;
  cluster: string;
  user?: string;
  namespace?: string;
}

export interface LoadedFile {
  path: string;
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string | null;
  /** The YAML as parsed, with the entries that were dropped as unusable: it tells why one is. */
  raw: Record<string, unknown>;
}

export interface Merged {
  clusters: Map<string, { value: Cluster; file: string }>;
  users: Map<string, { value: User; file: string }>;
  contexts: Map<string, { value: Context; file: string }>;
  currentContext: string | null;
  currentContextFile: string | null;
}

export function kubeconfigPaths(kubeconfig: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (kubeconfig) {
    const file = resolve(kubeconfig);
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

export function loadFile(file: string): LoadedFile {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('KW_ERR_KUBECONFIG_UNREADABLE', `cannot read kubeconfig ${file}: ${describeFsError(e)}`);
  }
  let raw: unknown;
  try {
    raw = loadYaml(source);
  } catch (e) {
    // js-yaml's message carries a multi-line excerpt; one line is enough to find the spot.
    const y = e as Error & { reason?: string; mark?: { line: number; column: number } };
    const where = y.mark ? ` at line ${y.mark.line + 1}, column ${y.mark.column + 1}` : '';
    throw new CliError('KW_ERR_KUBECONFIG_PARSE', `kubeconfig ${file} is not valid YAML: ${y.reason ?? y.message.split('\n')[0]}${where}`);
  }
  // kubectl reads an empty document (or one of comments only) as an empty config.
  if (!raw) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CliError('KW_ERR_KUBECONFIG_PARSE', `kubeconfig ${file} is not a kubeconfig: expected a YAML mapping with clusters, users and contexts`);
  }
  const doc = raw as Record<string, unknown>;
  const dir = dirname(file);
  return {
    path: file,
    // Unusable entries are dropped, like kubectl, which only validates the entries in use;
    // select-context.ts explains them when one of them is asked for.
    clusters: entries(doc['clusters'], 'cluster', (name, c) => clusterOf(name, c, dir)),
    users: entries(doc['users'], 'user', (name, u) => userOf(name, u ?? {}, dir), false),
    contexts: entries(doc['contexts'], 'context', contextOf),
    currentContext: text(doc['current-context']) || null,
    raw: doc,
  };
}

/**
 * A string field. kubectl's decoder refuses anything else; numbers and booleans are taken as
 * their text so a name such as `2024` still matches, and other values count as absent.
 */
export function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return undefined;
}

type Section = Record<string, unknown>;

function section(v: unknown): Section | null {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Section) : null;
}

/** The usable entries of `clusters`, `users` or `contexts`: named, with their section (unless optional). */
function entries<T>(list: unknown, key: string, build: (name: string, body: Section | null) => T | null, needsBody = true): T[] {
  if (!Array.isArray(list)) return [];
  const out: T[] = [];
  for (const item of list) {
    const entry = section(item);
    const name = entry ? text(entry['name']) : undefined;
    if (!entry || !name) continue;
    const body = section(entry[key]);
    if (!body && needsBody) continue;
    const value = build(name, body);
    if (value) out.push(value);
  }
  return out;
}

function absolute(dir: string, file: string | undefined): string | undefined {
  return file ? resolve(dir, file) : undefined;
}

function clusterOf(name: string, c: Section | null, dir: string): Cluster | null {
  const server = text(c?.['server']);
  if (!c || !server) return null;
  const cluster: Cluster = { name, server: server.replace(/\/$/, ''), skipTLSVerify: c['insecure-skip-tls-verify'] === true };
  const caData = text(c['certificate-authority-data']);
  const caFile = absolute(dir, text(c['certificate-authority']));
  const tlsServerName = text(c['tls-server-name']);
  const proxyUrl = text(c['proxy-url']);
  if (caData) cluster.caData = caData;
  if (caFile) cluster.caFile = caFile;
  if (tlsServerName) cluster.tlsServerName = tlsServerName;
  if (proxyUrl) cluster.proxyUrl = proxyUrl;
  if (Array.isArray(c['extensions'])) {
    for (const ext of c['extensions']) {
      const e = section(ext);
      if (e && e['name'] === 'client.authentication.k8s.io/exec') cluster.execExtension = e['extension'];
    }
  }
  return cluster;
}

function userOf(name: string, u: Section, dir: string): User {
  const user: User = { name };
  const fields: Array<[keyof User, string]> = [
    ['token', 'token'], ['username', 'username'], ['password', 'password'],
    ['certData', 'client-certificate-data'], ['keyData', 'client-key-data'], ['impersonateUser', 'as'],
  ];
  for (const [to, from] of fields) {
    const v = text(u[from]);
    if (v) (user as unknown as Record<string, string>)[to] = v;
  }
  const tokenFile = absolute(dir, text(u['token-file']));
  const certFile = absolute(dir, text(u['client-certificate']));
  const keyFile = absolute(dir, text(u['client-key']));
  if (tokenFile) user.tokenFile = tokenFile;
  if (certFile) user.certFile = certFile;
  if (keyFile) user.keyFile = keyFile;
  const exec = section(u['exec']);
  if (exec) {
    // client-go resolves an exec command with a path separator against the kubeconfig's folder.
    const command = exec['command'];
    user.exec = typeof command === 'string' && command.includes(sep) && !isAbsolute(command) ? { ...exec, command: resolve(dir, command) } : exec;
  }
  const authProvider = section(u['auth-provider']);
  if (authProvider) user.authProvider = authProvider as User['authProvider'];
  return user;
}

function contextOf(name: string, c: Section | null): Context | null {
  const cluster = text(c?.['cluster']);
  if (!c || !cluster) return null;
  const ctx: Context = { name, cluster };
  const user = text(c['user']);
  const namespace = text(c['namespace']);
  if (user) ctx.user = user;
  if (namespace) ctx.namespace = namespace;
  return ctx;
}

export function merge(files: LoadedFile[]): Merged {
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: null, currentContextFile: null };
  for (const f of files) {
    for (const c of f.clusters) if (!m.clusters.has(c.name)) m.clusters.set(c.name, { value: c, file: f.path });
    for (const u of f.users) if (!m.users.has(u.name)) m.users.set(u.name, { value: u, file: f.path });
    for (const c of f.contexts) if (!m.contexts.has(c.name)) m.contexts.set(c.name, { value: c, file: f.path });
    if (!m.currentContext && f.currentContext) {
      m.currentContext = f.currentContext;
      m.currentContextFile = f.path;
    }
  }
  return m;
}
