/**
 * The API server a kubeconfig points at, found the way kubectl finds it (kubeconfig-files.ts
 * for the files, select-context.ts for the context), as one KubeConfig holding just that
 * context. Parsing, TLS material and credentials (token, token-file, client certs, basic auth,
 * exec plugins, auth-providers, `as`) all come from @kubernetes/client-node; this module only
 * picks the files and explains what is wrong with them. Errors are CliErrors (exit code 2):
 * nothing has been dialled yet.
 */
import type { KubeConfig, User } from '@kubernetes/client-node';
import { kubeconfigPaths, loadFile, merge } from './kubeconfig-files.js';
import { checkFileReferences, parseProxyUrl, parseServer, selectCluster, selectContext, selectUser } from './select-context.js';

export interface KubeconfigLoadOptions {
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
}

export interface KubeconfigTarget {
  /** The chosen context alone, with its cluster and user, ready for applyToHTTPSOptions. */
  kc: KubeConfig;
  server: URL;
  contextName: string;
  clusterName: string;
  /** '' when the context names no user (anonymous). */
  userName: string;
  /** null when the context names no user. */
  user: User | null;
  namespace: string | null;
  proxyUrl: URL | null;
  kubeconfigPaths: string[];
}

/** Stands in for "no user" so client-node still applies the cluster's CA (it skips TLS options without a user). */
const ANONYMOUS_USER = '\u0000kubewire-anonymous';

export async function loadKubeconfig(opts: KubeconfigLoadOptions): Promise<KubeconfigTarget> {
  const env = opts.env ?? process.env;
  const paths = kubeconfigPaths(opts.kubeconfig, env);
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
  return {
    kc,
    server,
    contextName: ctx.name,
    clusterName: cluster.name,
    userName: user?.name ?? '',
    user,
    namespace: ctx.namespace ?? null,
    proxyUrl,
    kubeconfigPaths: paths,
  };
}
