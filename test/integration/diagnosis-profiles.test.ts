/**
 * Findings from live sessions: real kubectl through `kubewire run` against the demo cluster,
 * with each gateway profile switched on in turn. Healthy sessions give no finding at all.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKubectls, WEBSOCKET_ENV as WS, SPDY_ENV as SPDY } from '../support/kubectl.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { runThroughKubewire } from '../support/kubewire-run.js';

const [v] = availableKubectls(['1.33']);

let t: TestCluster;
let n = 0;
beforeAll(async () => {
  t = await startTestCluster();
});
afterAll(async () => {
  await t?.stop();
});

async function findings(profiles: string[], args: string[], env: Record<string, string>): Promise<{ rules: string[]; stderr: string }> {
  t.cluster.profiles.set(profiles);
  const log = join(t.dir, `diag-${++n}.jsonl`);
  const r = await runThroughKubewire(v!, args, { kubeconfig: t.kubeconfig, home: t.home, log, env });
  const rules = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'finding').map((e) => e.rule as string);
  return { rules: [...new Set(rules)].sort(), stderr: r.stderr };
}

describe.skipIf(!v)('diagnosis of live sessions', () => {
  it('a healthy exec, cp-like stdin and exit code give no finding', async () => {
    expect((await findings([], ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo ok; exit 3'], WS)).rules).toEqual([]);
    expect((await findings([], ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], SPDY)).rules).toEqual([]);
  });

  it('no-websocket: websocket-fallback, printed at the end of the run', async () => {
    const r = await findings(['no-websocket'], ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], WS);
    expect(r.rules).toContain('websocket-fallback');
    expect(r.stderr).toMatch(/kubewire: ! \w+ websocket-fallback: /);
  });

  it('drop-status: exit-unknown (kubectl reports success)', async () => {
    expect((await findings(['drop-status'], ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'exit 3'], WS)).rules).toContain('exit-unknown');
  });

  it('no-close-frame: no-close-frame', async () => {
    expect((await findings(['no-close-frame'], ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], WS)).rules).toContain('no-close-frame');
  });

  it('no-stream-version: stream-version-missing', async () => {
    expect((await findings(['no-stream-version'], ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], SPDY)).rules).toContain('stream-version-missing');
  });

  it('strip-upgrade: upgrade-stripped', async () => {
    expect((await findings(['strip-upgrade'], ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], WS)).rules).toContain('upgrade-stripped');
  });

  it('no-spdy: the ALB-style 400 reads as stripped upgrade headers; with WebSocket all is well', async () => {
    // The profile answers as the API server does when the Upgrade headers were removed on the way.
    expect((await findings(['no-spdy'], ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], SPDY)).rules).toContain('upgrade-stripped');
    expect((await findings(['no-spdy'], ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], WS)).rules).toEqual([]);
  });

  it('no-pf-websocket: port-forward falls back (websocket-fallback)', async () => {
    t.cluster.profiles.set(['no-pf-websocket']);
    const log = join(t.dir, `diag-${++n}.jsonl`);
    const { startThroughKubewire } = await import('../support/kubewire-run.js');
    const k = startThroughKubewire(v!, ['port-forward', 'pod/web', ':80'], { kubeconfig: t.kubeconfig, home: t.home, log, env: WS });
    try {
      const m = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/);
      await fetch(`http://127.0.0.1:${m[1]}/`).then((r) => r.text());
    } finally {
      await k.stop();
    }
    const rules = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'finding').map((e) => e.rule);
    expect(rules).toContain('websocket-fallback');
  });
});
