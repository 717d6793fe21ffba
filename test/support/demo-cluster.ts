/** A demo cluster for a test file, with a kubeconfig and a private HOME for kubectl. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DemoCluster } from '../../src/demo/demo-cluster.js';

export interface TestCluster {
  cluster: DemoCluster;
  kubeconfig: string;
  home: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startTestCluster(options: { gateway?: string[]; tickMs?: number; users?: string[]; userGroups?: string[]; groups?: string[]; serverVersion?: string } = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'kubewire-test-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const cluster = await DemoCluster.start({
    gateway: options.gateway ?? [], kubeconfigPath: kubeconfig, tickMs: options.tickMs ?? 200, users: options.users ?? [], userGroups: options.userGroups ?? [], groups: options.groups ?? [],
    ...(options.serverVersion !== undefined ? { serverVersion: options.serverVersion } : {}),
  });
  const home = join(dir, 'home');
  return {
    cluster,
    kubeconfig,
    home,
    dir,
    stop: async () => {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
