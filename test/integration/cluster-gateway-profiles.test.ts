/**
 * Each gateway profile makes real kubectl (1.33) behave as the profile table promises.
 * Profiles are switched at run time on one cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKubectls, runKubectl, startKubectl, WEBSOCKET_ENV as WS, SPDY_ENV as SPDY } from '../support/kubectl.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';

const [v] = availableKubectls(['1.33']);

let t: TestCluster;
beforeAll(async () => {
  t = await startTestCluster();
});
afterAll(async () => {
  await t?.stop();
});

const run = (args: string[], env: Record<string, string>, timeoutMs = 30_000) => runKubectl(v!, args, { kubeconfig: t.kubeconfig, home: t.home, env, timeoutMs });

describe.skipIf(!v)('gateway profiles with real kubectl', () => {
  it('no-websocket: the WebSocket exec gets 403, kubectl silently falls back to SPDY', async () => {
    t.cluster.profiles.set(['no-websocket']);
    const r = await run(['exec', 'web', '-v=4', '--', 'sh', '-c', 'echo fell back; exit 3'], WS);
    expect(r.stdout).toBe('fell back\n');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/fallback/i);
  });

  it('no-pf-websocket: the tunnel gets 400, port-forward falls back to SPDY', async () => {
    t.cluster.profiles.set(['no-pf-websocket']);
    const k = startKubectl(v!, ['port-forward', 'pod/web', ':80', '-v=4'], { kubeconfig: t.kubeconfig, home: t.home, env: WS });
    try {
      const m = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/);
      expect(await (await fetch(`http://127.0.0.1:${m[1]}/`)).text()).toContain('kubewire demo: web');
      expect(k.errors()).toMatch(/query parameter "port" is required/);
    } finally {
      await k.stop();
    }
  });

  it('no-spdy: SPDY gets 400 Upgrade request required; WebSocket still works', async () => {
    t.cluster.profiles.set(['no-spdy']);
    const spdy = await run(['exec', 'web', '--', 'echo', 'hi'], SPDY);
    expect(spdy.code).toBe(1);
    expect(spdy.stderr).toContain('Upgrade request required');
    const ws = await run(['exec', 'web', '--', 'echo', 'hi'], WS);
    expect(ws.stdout).toBe('hi\n');
    expect(ws.code).toBe(0);
  });

  it('strip-upgrade: both upgrades fail with Upgrade request required', async () => {
    t.cluster.profiles.set(['strip-upgrade']);
    const r = await run(['exec', 'web', '--', 'echo', 'hi'], WS);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Upgrade request required');
  });

  it('drop-status: the exit code is lost and kubectl reports success', async () => {
    t.cluster.profiles.set(['drop-status']);
    for (const env of [WS, SPDY]) {
      const r = await run(['exec', 'web', '--', 'sh', '-c', 'echo x; exit 3'], env);
      expect(r.stdout).toBe('x\n');
      expect(r.code).toBe(0);
    }
  });

  it('no-close-frame: after the status TCP ends without a close frame; kubectl exits 1 with close 1006', async () => {
    t.cluster.profiles.set(['no-close-frame']);
    const r = await run(['exec', 'web', '--', 'echo', 'hi'], WS);
    expect(r.stdout).toBe('hi\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('1006');
  });

  it('no-stream-version: the SPDY 101 lacks X-Stream-Protocol-Version; exit codes are lost', async () => {
    t.cluster.profiles.set(['no-stream-version']);
    const r = await run(['exec', 'web', '--', 'sh', '-c', 'echo v1; exit 3'], SPDY);
    expect(r.stdout).toBe('v1\n');
    // v1 has no exit codes: kubectl exits 0, or 1 with "Error executing remote command: <status
    // text>" when the error stream's end wins its race with stdout's (client-go v1.go).
    expect([0, 1]).toContain(r.code);
  });

  it('idle-timeout=N: a quiet connection is cut with no close frame', async () => {
    t.cluster.profiles.set(['idle-timeout=1']);
    const r = await run(['exec', 'web', '--', 'sh', '-c', 'sleep 3; echo late'], WS);
    expect(r.stdout).not.toContain('late');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1006|unexpected EOF|connection reset/);
  });

  it('rejects unknown profiles with a clear message', () => {
    expect(() => t.cluster.profiles.set(['no-such'])).toThrow(/unknown gateway profile "no-such"; known: no-websocket/);
  });
});
