/**
 * The rules for 1.34–1.36 clusters and for clients beyond kubectl, end to end: real kubectl (and
 * @kubernetes/client-node, which has no SPDY) through `kubewire run` against the demo cluster
 * with the matching user role, server version or gateway profile. Each rule fires where its
 * failure is, and only there.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKubectls, kubectlPath, runKubectl, WEBSOCKET_ENV as WS } from '../support/kubectl.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { kubectlPart, runCommandThroughKubewire } from '../support/kubewire-run.js';
import { REPO_ROOT } from '../support/vectors.js';

const [v] = availableKubectls(['1.33']);

let t: TestCluster;
let n = 0;
beforeAll(async () => {
  t = await startTestCluster({ serverVersion: '1.35', users: ['getter=exec-get-only', 'creator=exec-create-only'] });
});
afterAll(async () => {
  await t?.stop();
});

interface Run {
  rules: string[];
  code: number | null;
  stderr: string;
  findings: { rule: string; severity: string; title: string }[];
}

async function run(command: string, args: string[], options: { profiles?: string[]; context?: string; env?: Record<string, string> } = {}): Promise<Run> {
  t.cluster.profiles.set(options.profiles ?? []);
  const log = join(t.dir, `issue-${++n}.jsonl`);
  const r = await runCommandThroughKubewire(command, args, {
    kubeconfig: t.kubeconfig, home: t.home, log, env: { ...WS, ...options.env }, flags: options.context ? ['--context', options.context] : [],
  });
  const findings = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'finding');
  return { rules: [...new Set(findings.map((f) => f.rule as string))].sort(), code: r.code, stderr: r.stderr, findings };
}

describe.skipIf(!v)('the new rules with real kubectl through kubewire, demo cluster 1.35', () => {
  it('exec-create-only: the WebSocket GET is refused for get, kubectl falls back to SPDY silently: rbac-verb-split alone', async () => {
    const r = await run(kubectlPath(v!), ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], { context: 'creator' });
    expect(r.code).toBe(0);
    expect(r.rules).toEqual(['rbac-verb-split']);
    expect(r.findings[0]).toMatchObject({ severity: 'warn', title: 'RBAC: creator lacks "get" on pods/exec: WebSocket needs both get and create' });
    expect(r.stderr).toMatch(/kubewire: ! warn rbac-verb-split: /);
  });

  it('exec-get-only on 1.35: WebSocket needs create too, and SPDY is refused as well: rbac-verb-split alone', async () => {
    const r = await run(kubectlPath(v!), ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], { context: 'getter' });
    expect(r.code).toBe(1);
    expect(kubectlPart(r.stderr)).toContain('User "getter" cannot create resource "pods/exec" in API group "" in the namespace "default"');
    expect(r.rules).toEqual(['rbac-verb-split']);
    expect(r.findings[0]?.title).toBe('RBAC: getter lacks "create" on pods/exec: WebSocket needs both get and create');
  });

  it('runtime-http: a 101, then the runtime\'s InternalError: runtime-streaming alone', async () => {
    const r = await run(kubectlPath(v!), ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], { profiles: ['runtime-http'] });
    expect(r.code).toBe(1);
    expect(kubectlPart(r.stderr)).toContain('http: server gave HTTP response to HTTPS client');
    expect(r.rules).toEqual(['runtime-streaming']);
  });

  it('drop-status: kubectl reports success, the exit status is unknown: exit-unknown alone', async () => {
    const r = await run(kubectlPath(v!), ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'exit 3'], { profiles: ['drop-status'] });
    expect(r.code).toBe(0);
    expect(r.rules).toEqual(['exit-unknown']);
  });

  it('kubectl auth whoami and auth can-i answer per user, as RBAC does', async () => {
    const canI = async (context: string, verb: string): Promise<string> => (await runKubectl(v!, ['--context', context, 'auth', 'can-i', verb, 'pods', '--subresource=exec'], { kubeconfig: t.kubeconfig, home: t.home })).stdout.trim();
    expect([await canI('getter', 'get'), await canI('getter', 'create'), await canI('creator', 'get'), await canI('creator', 'create')]).toEqual(['yes', 'no', 'no', 'yes']);
    const who = await runKubectl(v!, ['--context', 'creator', 'auth', 'whoami', '-o', 'json'], { kubeconfig: t.kubeconfig, home: t.home });
    expect(JSON.parse(who.stdout).status.userInfo.username).toBe('creator');
  });

  it('a healthy admin exec gives no finding', async () => {
    const r = await run(kubectlPath(v!), ['exec', 'web', '-c', 'app', '--', 'echo', 'ok']);
    expect(r.code).toBe(0);
    expect(r.rules).toEqual([]);
  });
});

describe('no-fallback with @kubernetes/client-node, which speaks only WebSocket', () => {
  const clientNode = pathToFileURL(join(REPO_ROOT, 'node_modules', '@kubernetes', 'client-node', 'dist', 'index.js')).href;
  /** A client-node exec of `echo ok` in web/app; prints what it got and exits 0 on a Success status. */
  function script(): string {
    const file = join(t.dir, 'client-node-exec.mjs');
    writeFileSync(file, `
import { PassThrough } from 'node:stream';
const k8s = await import(${JSON.stringify(clientNode)});
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const out = new PassThrough();
let text = '';
out.on('data', (d) => (text += d));
const timer = setTimeout(() => { console.error('timeout'); process.exit(3); }, 10000);
try {
  const ws = await new k8s.Exec(kc).exec('default', 'web', 'app', ['echo', 'ok'], out, process.stderr, null, false, (status) => {
    clearTimeout(timer);
    process.stdout.write(text);
    process.exit(status.status === 'Success' ? 0 : 1);
  });
  ws.on('close', () => setTimeout(() => { process.stdout.write(text); process.exit(text ? 0 : 4); }, 200));
} catch (e) {
  clearTimeout(timer);
  console.error('exec failed:', e?.message ?? e);
  process.exit(2);
}
`);
    return file;
  }

  it('a WebSocket refusal with no SPDY attempt: no-fallback; the same exec on a healthy path: no finding', async () => {
    const file = script();
    const healthy = await run(process.execPath, [file]);
    expect(healthy.code).toBe(0);
    expect(healthy.rules).toEqual([]);
    const refused = await run(process.execPath, [file], { profiles: ['no-websocket'] });
    expect(refused.code).not.toBe(0);
    expect(refused.rules).toEqual(['no-fallback']);
    expect(refused.findings[0]?.title).toBe('WebSocket refused (403) and the client made no SPDY attempt');
  });
});
