/**
 * Groups decide access through `kubewire gateway`, with real kubectl 1.33 against the demo
 * cluster: carol has no role of her own, only her groups, `ops` bound to admin and `dev` to view. Her exec works
 * in both identity modes (the groups from SelfSubjectReview, from TokenReview, and from her
 * client certificate's O attributes, sent on as Impersonate-Group) and is recorded under her with
 * her groups; with the binding removed she gets the API server's own 403. A client's own
 * Impersonate-Group is refused by the gateway, and directly against the cluster `--as carol
 * --as-group ops` is what RBAC makes it.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditSessionEvent } from '../../src/events/types.js';
import { readRecords } from '../support/audit-records.js';
import { clientCertificate } from '../support/client-cert.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, runKubectl } from '../support/kubectl.js';
import { startGateway, type GatewayProcess } from '../support/kubewire-gateway.js';

const found = availableKubectls(['1.33']);
const V = '1.33';
const FORBIDDEN = /Error from server \(Forbidden\): pods "web" is forbidden: User "carol" cannot (get|create) resource "pods\/exec" in API group "" in the namespace "default"/;

async function sessionsIn(dir: string): Promise<AuditSessionEvent[]> {
  const records = await readRecords(readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f)));
  return records.filter((r): r is typeof r & AuditSessionEvent => r.type === 'audit.session');
}

/** A GET to the gateway with `headers`; its status and the Status message. */
function rawGet(listen: string, headers: Record<string, string>): Promise<{ status: number; message: string }> {
  const url = new URL(listen);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: Number(url.port), path: '/api/v1/namespaces/default/pods', rejectUnauthorized: false, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, message: String((JSON.parse(text) as { message?: unknown }).message) }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe.skipIf(found.length === 0)('groups through kubewire gateway, with real kubectl', () => {
  let t: TestCluster;
  let carolToken: string;
  beforeAll(async () => {
    t = await startTestCluster({ users: ['carol=none'], userGroups: ['carol=ops,dev'], groups: ['ops=admin', 'dev=view'] });
    carolToken = t.cluster.users.find((u) => u.name === 'carol')!.token;
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** Runs `fn` with the ops binding removed (kubectl delete clusterrolebinding), then puts it back. */
  async function withoutBinding(fn: () => Promise<void>): Promise<void> {
    t.cluster.groupBindings.delete('ops');
    try {
      await fn();
    } finally {
      t.cluster.groupBindings.set('ops', 'admin');
    }
  }

  /** What both modes check: the exec by group, the 403 without it, and a client's Impersonate-Group refused. */
  async function checkThrough(gw: GatewayProcess, k: (context: string, args: string[]) => ReturnType<typeof runKubectl>, contexts: string[]): Promise<void> {
    for (const context of contexts) {
      const r = await k(context, ['exec', 'web', '-c', 'app', '--', 'echo', `${context} by group`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`${context} by group`);
    }
    await withoutBinding(async () => {
      for (const context of contexts) {
        const r = await k(context, ['exec', 'web', '-c', 'app', '--', 'echo', `${context} without the binding`]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(FORBIDDEN);
      }
    });
    const as = await k('carol', ['--as', 'carol', '--as-group', 'system:masters', 'get', 'pods']);
    expect(as.code).not.toBe(0);
    expect(as.stderr).toContain('kubewire gateway does not pass Impersonate-');
    // A group alone, no user: still refused by the gateway, never sent on (the demo shows it would be granted).
    for (const group of ['system:masters', 'ops']) {
      const raw = await rawGet(gw.ready.listen, { Authorization: `Bearer ${carolToken}`, 'Impersonate-Group': group });
      expect(raw).toEqual({ status: 403, message: expect.stringContaining('kubewire gateway does not pass Impersonate-Group on') });
    }
  }

  it('--identity passthrough: carol execs by her group, recorded with her groups; without the binding the API server\'s 403', async () => {
    const store = join(t.dir, 'store-passthrough');
    const kubeconfig = join(t.dir, 'team-passthrough.kubeconfig');
    const gw = await startGateway(['--upstream-kubeconfig', t.kubeconfig, '--store', store, '--name', 'gw-p', '--write-kubeconfig', kubeconfig], t.home);
    try {
      await checkThrough(gw, (context, args) => runKubectl(V, ['--context', context, ...args], { kubeconfig, home: t.home, timeoutMs: 30_000 }), ['carol']);
    } finally {
      await gw.stop();
    }
    const sessions = await sessionsIn(join(store, 'gw-p'));
    const exec = sessions.find((s) => s.operation === 'exec' && s.command.join(' ').includes('carol by group'));
    expect(exec?.user).toMatchObject({ username: 'carol', groups: ['ops', 'dev', 'system:authenticated'], source: 'SelfSubjectReview' });
    expect(exec?.exitCode).toBe(0);
  }, 120_000);

  it('--identity impersonate: by TokenReview and by the client certificate\'s O, sent on as Impersonate-Group', async () => {
    const store = join(t.dir, 'store-impersonate');
    const kubeconfig = join(t.dir, 'team-impersonate.kubeconfig');
    const cert = await clientCertificate('carol', ['ops', 'dev']);
    const caFile = join(t.dir, 'client-ca.pem');
    writeFileSync(caFile, cert.certPem);
    const gw = await startGateway(['--upstream-kubeconfig', t.kubeconfig, '--identity', 'impersonate', '--client-ca', caFile, '--store', store, '--name', 'gw-i', '--write-kubeconfig', kubeconfig], t.home);
    try {
      const doc = load(readFileSync(kubeconfig, 'utf8')) as { users: unknown[]; contexts: unknown[]; clusters: { name: string }[] };
      doc.users.push({ name: 'carol-cert', user: { 'client-certificate-data': Buffer.from(cert.certPem).toString('base64'), 'client-key-data': Buffer.from(cert.keyPem).toString('base64') } });
      doc.contexts.push({ name: 'carol-cert', context: { cluster: doc.clusters[0]!.name, user: 'carol-cert', namespace: 'default' } });
      const withCert = join(t.dir, 'team-impersonate-cert.kubeconfig');
      writeFileSync(withCert, dump(doc), { mode: 0o600 });
      await checkThrough(gw, (context, args) => runKubectl(V, ['--context', context, ...args], { kubeconfig: withCert, home: t.home, timeoutMs: 30_000 }), ['carol', 'carol-cert']);
    } finally {
      await gw.stop();
    }
    const sessions = await sessionsIn(join(store, 'gw-i'));
    const exec = (text: string) => sessions.find((s) => s.operation === 'exec' && s.command.join(' ').includes(text));
    expect(exec('carol by group')?.user).toMatchObject({ username: 'carol', groups: ['ops', 'dev', 'system:authenticated'], source: 'TokenReview' });
    expect(exec('carol-cert by group')?.user).toMatchObject({ username: 'carol', groups: ['ops', 'dev', 'system:authenticated'], source: 'client-certificate' });
    expect(exec('carol-cert by group')?.exitCode).toBe(0);
  }, 120_000);

  it('directly, as the admin: --as carol --as-group ops is what RBAC makes it', async () => {
    const k = (args: string[]) => runKubectl(V, args, { kubeconfig: t.kubeconfig, home: t.home, timeoutMs: 30_000 });
    const ops = await k(['--as', 'carol', '--as-group', 'ops', 'exec', 'web', '-c', 'app', '--', 'echo', 'as carol in ops']);
    expect(ops.code, ops.stderr).toBe(0);
    expect(ops.stdout).toContain('as carol in ops');
    // dev only views: kubectl gets the pod, the exec is refused.
    const dev = await k(['--as', 'carol', '--as-group', 'dev', 'exec', 'web', '-c', 'app', '--', 'true']);
    expect(dev.code).not.toBe(0);
    expect(dev.stderr).toMatch(FORBIDDEN);
    // Impersonating the name alone takes none of her token's groups: not even the pod's GET.
    const alone = await k(['--as', 'carol', 'exec', 'web', '-c', 'app', '--', 'true']);
    expect(alone.code).not.toBe(0);
    expect(alone.stderr).toContain('Error from server (Forbidden): pods "web" is forbidden: User "carol" cannot get resource "pods" in API group "" in the namespace "default"');
    const whoami = await k(['--as', 'carol', '--as-group', 'ops', 'auth', 'whoami', '-o', 'json']);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect((JSON.parse(whoami.stdout) as { status: { userInfo: unknown } }).status.userInfo).toMatchObject({ username: 'carol', groups: ['ops', 'system:authenticated'] });
    const canI = await k(['--context', 'carol', 'auth', 'can-i', 'create', 'pods', '--subresource=exec']);
    expect(canI.stdout.trim()).toBe('yes');
  }, 60_000);
});
