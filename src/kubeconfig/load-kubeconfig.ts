/**
 * The API server a kubeconfig points at, found the way kubectl finds it (kubeconfig-files.ts
 * for the files, select-context.ts for the context, exec-config.ts for an exec plugin): the
 * chosen context with its cluster and user, as plain fields. Credentials are evaluated per
 * connection by src/proxy/upstream-credentials.ts. Errors are CliErrors (exit code 2): nothing
 * has been dialled yet.
 */
import { execConfig, type ExecConfig } from './exec-config.js';
import { kubeconfigPaths, loadFile, merge, type Cluster, type User } from './kubeconfig-files.js';
import { checkFileReferences, parseProxyUrl, parseServer, selectCluster, selectContext, selectUser } from './select-context.js';

export type { Cluster, User } from './kubeconfig-files.js';

export interface KubeconfigLoadOptions {
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
}

export interface KubeconfigTarget {
  server: URL;
  contextName: string;
  clusterName: string;
  cluster: Cluster;
  /** '' when the context names no user (anonymous). */
  userName: string;
  /** null when the context names no user. */
  user: User | null;
  /** The user's exec plugin, checked; null without one. */
  exec: ExecConfig | null;
  namespace: string | null;
  proxyUrl: URL | null;
  kubeconfigPaths: string[];
}

export async function loadKubeconfig(opts: KubeconfigLoadOptions): Promise<KubeconfigTarget> {
  const env = opts.env ?? process.env;
  const paths = kubeconfigPaths(opts.kubeconfig, env);
  const files = paths.map((p) => loadFile(p));
  const merged = merge(files);
  const ctx = selectContext(files, merged, opts.context, paths);
  const cluster = selectCluster(files, merged, ctx, paths);
  const user = selectUser(merged, ctx, paths);
  const clusterFile = merged.clusters.get(cluster.name)!.file;
  const server = parseServer(cluster, clusterFile);
  const proxyUrl = parseProxyUrl(cluster, clusterFile);
  if (server.protocol === 'https:') checkFileReferences(cluster, user, merged);
  const exec = user ? execConfig(user, merged.users.get(user.name)!.file) : null;
  return {
    server,
    contextName: ctx.name,
    clusterName: cluster.name,
    cluster,
    userName: user?.name ?? '',
    user,
    exec,
    namespace: ctx.namespace ?? null,
    proxyUrl,
    kubeconfigPaths: paths,
  };
}
