/**
 * `kubewire cluster`: the demo cluster on its own, for trying kubectl against it, reproducing
 * gateway failures, and as the upstream of `kubewire proxy`.
 */
import { join } from 'node:path';
import { DemoCluster, parseGroupSpec, parseServerVersion, parseUserSpec, withUserGroups } from '../demo/demo-cluster.js';
import { GatewayProfiles } from '../demo/gateway-profiles.js';
import { CliError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { parseListen } from './listen-address.js';
import { waitForSignal } from './signals.js';
import { stateDir } from './state-dir.js';

export interface ClusterOptions {
  listen: string;
  writeKubeconfig?: string;
  gateway: string[];
  user?: string[];
  userGroups?: string[];
  group?: string[];
  serverVersion?: string;
}

export async function runCluster(opts: ClusterOptions, out: Output, err: Output): Promise<number> {
  const listen = parseListen(opts.listen);
  try {
    new GatewayProfiles(opts.gateway);
  } catch (e) {
    throw new CliError('KW_ERR_BAD_GATEWAY_PROFILE', (e as Error).message);
  }
  try {
    withUserGroups((opts.user ?? []).map(parseUserSpec), opts.userGroups ?? []);
    for (const g of opts.group ?? []) parseGroupSpec(g);
    if (opts.serverVersion !== undefined) parseServerVersion(opts.serverVersion);
  } catch (e) {
    throw new CliError('KW_ERR_BAD_CLUSTER_OPTION', (e as Error).message);
  }
  if (!listen.loopback) {
    err.line(`kubewire: warning: listening on ${listen.host}, not loopback: anyone who can reach it and has the token can run commands on this machine`);
  }
  let cluster: DemoCluster;
  try {
    cluster = await DemoCluster.start({ host: listen.host, port: listen.port, gateway: opts.gateway, users: opts.user ?? [], userGroups: opts.userGroups ?? [], groups: opts.group ?? [], ...(opts.serverVersion !== undefined ? { serverVersion: opts.serverVersion } : {}) });
  } catch (e) {
    throw new CliError('KW_ERR_CLUSTER_START', `cannot start the demo cluster on ${opts.listen}: ${(e as Error).message}`, 1);
  }
  const kubeconfig = opts.writeKubeconfig ?? join(stateDir(), `cluster-${cluster.port}.kubeconfig`);
  try {
    await cluster.writeKubeconfig(kubeconfig);
  } catch (e) {
    await cluster.stop();
    throw new CliError('KW_ERR_KUBECONFIG_WRITE', `cannot write the kubeconfig ${kubeconfig}: ${(e as Error).message}`, 1);
  }
  out.line(`kubewire demo cluster listening on ${cluster.url}`);
  out.line(`kubeconfig written to ${kubeconfig} (mode 0600)`);
  out.line(`gateway profiles: ${cluster.profiles.list().join(', ') || 'none'}`);
  out.line(`server version: ${cluster.version?.gitVersion ?? 'v1.33.1'}`);
  if (cluster.users.length) out.line(`users (each a context of its name): ${cluster.users.map((u) => `${u.name} (${[u.role, ...u.groups.map((g) => `group ${g}`)].join(', ')})`).join(', ')}`);
  if (cluster.groupBindings.size) out.line(`group bindings: ${[...cluster.groupBindings].map(([g, role]) => `${g}=${role}`).join(', ')}`);
  out.line('');
  out.line(`  export KUBECONFIG=${kubeconfig}`);
  for (const line of [
    'kubectl get pods',
    'kubectl exec web -- echo hello',
    'kubectl exec -it web -c app -- sh',
    'kubectl cp ./some-file web:/tmp/some-file',
    'kubectl port-forward pod/web 8080:80',
    'kubectl attach -it worker',
    'kubectl logs -f web -c app',
  ]) out.line(`  ${line}`);
  out.line('');
  out.line('Press Ctrl-C to stop.');
  await waitForSignal();
  await cluster.stop();
  return 0;
}
