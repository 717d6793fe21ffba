/**
 * `kubewire gateway --write-kubeconfig OUT`: what an administrator hands out. A copy of the
 * upstream kubeconfig in which the gateway's cluster points at the gateway (its URL and CA;
 * the upstream's CA, TLS name and proxy-url no longer apply), with the contexts of that
 * cluster and the user entries they name, each with its own credentials (tokens, exec plugins,
 * client certificates); users of other clusters' contexts, or of none, are not handed out. Relative file references are made absolute, so the copy works from anywhere.
 * With `--identity impersonate` the gateway's own user entry is left out: it is the gateway's
 * credential, not one to hand out.
 *
 * The files are read as kubectl merges them (the first to define a name wins); the copy is
 * written 0600, as it holds credentials.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { dump, load } from 'js-yaml';
import { writePrivateFile } from '../kubeconfig/write-kubeconfig.js';
import type { Upstream } from '../proxy/upstream.js';

type Named = { name?: unknown } & Record<string, unknown>;

const USER_FILES = ['client-certificate', 'client-key', 'tokenFile'];

export interface GatewayKubeconfigOptions {
  upstream: Upstream;
  server: string;
  caCertPem: string;
  /** Leave out the upstream's own user entry (impersonation: the gateway's credential). */
  withoutOwnUser: boolean;
}

export function gatewayKubeconfigText(opts: GatewayKubeconfigOptions, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string {
  const users = new Map<string, Named>();
  const contexts = new Map<string, Named>();
  for (const path of opts.upstream.kubeconfigPaths) {
    const doc = (load(read(path)) ?? {}) as Record<string, unknown>;
    const base = dirname(path);
    const each = (key: string, into: Map<string, Named>, fix?: (e: Named) => Named): void => {
      for (const e of (Array.isArray(doc[key]) ? doc[key] : []) as Named[]) {
        if (typeof e?.name === 'string' && !into.has(e.name)) into.set(e.name, fix ? fix(e) : e);
      }
    };
    each('users', users, (e) => ({ ...e, user: absolute(e['user'], base) }));
    each('contexts', contexts);
  }
  const clusterName = opts.upstream.clusterName;
  const ownUser = opts.withoutOwnUser ? opts.upstream.userName : null;
  const gatewayCluster = { name: clusterName, cluster: { server: opts.server, 'certificate-authority-data': Buffer.from(opts.caCertPem).toString('base64') } };
  const keptContexts = [...contexts.values()].filter((c) => {
    const ctx = c['context'] as { cluster?: unknown; user?: unknown } | undefined;
    return ctx?.cluster === clusterName && (ownUser === null || ctx?.user !== ownUser);
  });
  const named = new Set(keptContexts.map((c) => (c['context'] as { user?: unknown }).user));
  const keptUsers = [...users.values()].filter((u) => u.name !== ownUser && named.has(u.name));
  const current = keptContexts.some((c) => c.name === opts.upstream.contextName) ? opts.upstream.contextName : (keptContexts[0]?.name ?? '');
  return dump({ apiVersion: 'v1', kind: 'Config', clusters: [gatewayCluster], users: keptUsers, contexts: keptContexts, 'current-context': current, preferences: {} }, { lineWidth: -1, noRefs: true });
}

export async function writeGatewayKubeconfig(file: string, opts: GatewayKubeconfigOptions): Promise<void> {
  await writePrivateFile(file, gatewayKubeconfigText(opts));
}

/** A user entry with its file references made absolute against the file that held it. */
function absolute(user: unknown, base: string): unknown {
  if (typeof user !== 'object' || user === null) return user;
  const u = { ...(user as Record<string, unknown>) };
  for (const key of USER_FILES) if (typeof u[key] === 'string' && u[key] !== '' && !isAbsolute(u[key] as string)) u[key] = resolve(base, u[key] as string);
  return u;
}
