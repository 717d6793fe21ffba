/**
 * Choosing the context, its cluster and its user from merged kubeconfig files, and checking
 * what kubectl checks before it connects: a server URL, a proxy-url, readable token, certificate
 * and key files, a usable exec section. `--context` wins over current-context. Unusable entries
 * are dropped when the files are read (kubeconfig-files.ts), so when a name is missing the raw
 * YAML is read again to say why that entry is unusable, instead of only that it is unknown.
 */
import { readFileSync } from 'node:fs';
import { CliError, describeFsError } from '../io/errors.js';
import type { Cluster, Context, LoadedFile, Merged, User } from './kubeconfig-files.js';

type RawEntry = Record<string, unknown>;

/** The raw entry dropped as unusable, with its file, to say why it is unusable. */
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

export function selectContext(files: LoadedFile[], m: Merged, requested: string | undefined, paths: string[]): Context {
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

export function selectCluster(files: LoadedFile[], m: Merged, ctx: Context, paths: string[]): Cluster {
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

export function selectUser(m: Merged, ctx: Context, paths: string[]): User | null {
  if (!ctx.user) return null;
  const found = m.users.get(ctx.user);
  if (!found) {
    throw new CliError('KW_ERR_KUBECONFIG_MISSING_USER', `context "${ctx.name}" names user "${ctx.user}", which is not defined in ${where(paths)}; ${known('users', m.users.keys())}`);
  }
  const user = found.value;
  // Read now, as kubectl reads it when it loads the kubeconfig; upstream-credentials.ts re-reads it once a minute.
  if (user.tokenFile && !user.token) {
    try {
      readFileSync(user.tokenFile);
    } catch (e) {
      throw new CliError('KW_ERR_KUBECONFIG_TOKEN_FILE', `token-file ${user.tokenFile} of user "${ctx.user}" in ${found.file}: ${describeFsError(e)} (a relative token-file is read from the kubeconfig's folder)`);
    }
  }
  return user;
}

export function parseServer(cluster: Cluster, file: string): URL {
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

export function parseProxyUrl(cluster: Cluster, file: string): URL | null {
  if (!cluster.proxyUrl) return null;
  try {
    return new URL(cluster.proxyUrl);
  } catch {
    throw new CliError('KW_ERR_KUBECONFIG_BAD_PROXY', `cluster "${cluster.name}" in ${file} has proxy-url "${cluster.proxyUrl}", which is not a URL`);
  }
}

/** kubectl refuses to start when a referenced certificate or key file cannot be read; so do we. */
export function checkFileReferences(cluster: Cluster, user: User | null, m: Merged): void {
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
