/**
 * Sessions of real kubectl (1.33) through a real `kubewire proxy` in front of the demo cluster,
 * one proxy per command, with the gateway profiles switched on in turn: what `kubewire summary
 * --sessions` prints of its log, and the session's state. The expected values follow from the
 * profile table (src/demo/gateway-profiles.ts) and what kubectl does about each answer.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionLine } from '../../src/cli/session-lines.js';
import { runSummary } from '../../src/cli/summary-command.js';
import type { SessionStory } from '../../src/session/session-facts.js';
import { SessionModel } from '../../src/session/session-model.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { readEvents } from '../support/event-log.js';
import { availableKubectls, runKubectl, startKubectl, type KubectlResult, WEBSOCKET_ENV as WS, SPDY_ENV as SPDY } from '../support/kubectl.js';
import { startProxyProcess, stopStartedProxies } from '../support/kubewire-proxy.js';
import { Lines } from '../support/lines-output.js';

const [v] = availableKubectls(['1.33']);

let t: TestCluster;
let n = 0;
beforeAll(async () => {
  t = await startTestCluster();
});
afterAll(async () => {
  await stopStartedProxies();
  await t?.stop();
});

interface Observed {
  line: SessionLine;
  story: SessionStory;
  /** The upgrades' roles and statuses, in order (plain requests are all `request`). */
  upgrades: [string, number | null][];
}

/** Runs one kubectl command through its own `kubewire proxy`, stops the proxy, and reads the session back. */
async function session(profiles: string[], command: (kubeconfig: string) => Promise<unknown>): Promise<Observed> {
  t.cluster.profiles.set(profiles);
  const dir = mkdtempSync(join(t.dir, `session-${++n}-`));
  const log = join(dir, 'kubewire.jsonl');
  const p = await startProxyProcess({ kubeconfig: t.kubeconfig, log, writeKubeconfig: join(dir, 'kubeconfig'), home: t.home });
  try {
    await command(p.kubeconfig);
  } finally {
    expect((await p.stop('SIGTERM')).code).toBe(0);
  }
  const out = new Lines();
  const err = new Lines();
  expect(await runSummary({ file: log, sessions: true }, out, err)).toBe(0);
  expect(err.lines).toEqual([]);
  expect(out.lines, 'one kubectl command, one line').toHaveLength(1);
  const line = JSON.parse(out.lines[0]!) as SessionLine;
  const model = new SessionModel();
  for (const e of readEvents(log)) model.ingest(e);
  model.finish();
  const story = model.get(line.session)!.story();
  for (const c of line.connections) if (c.transport === 'http') expect(c.role).toBe('request');
  return { line, story, upgrades: line.connections.filter((c) => c.transport !== 'http').map((c) => [c.role, c.status]) };
}

/** kubectl exec web ARGS, which must exit with `rc` (or one of them). */
const exec = (args: string[], env: Record<string, string>, rc: number | number[]) => async (kubeconfig: string): Promise<KubectlResult> => {
  const r = await runKubectl(v!, ['exec', 'web', ...args], { kubeconfig, home: t.home, env });
  expect([rc].flat(), r.stderr).toContain(r.code);
  return r;
};

const WEB_APP = { namespace: 'default', pod: 'web', container: 'app' };

describe.skipIf(!v)('sessions of real kubectl through kubewire proxy, per gateway profile', () => {
  it('a healthy WebSocket exec: one stream after the pod GET, the command\'s exit code', async () => {
    const s = await session([], exec(['-c', 'app', '--', 'sh', '-c', 'echo ok; exit 3'], WS, 3));
    expect(s.line).toMatchObject({
      verb: 'exec', target: { ...WEB_APP, command: ['sh', '-c', 'echo ok; exit 3'], tty: false },
      transport: 'websocket', protocol: 'v5.channel.k8s.io', fallback: null, exitCode: 3,
    });
    expect(s.upgrades).toEqual([['stream', 101]]);
    expect(s.story.state).toBe('done');
  });

  it('no-websocket: the empty 403 (the kubelet\'s x/net refusal) and the SPDY fallback make one session', async () => {
    const s = await session(['no-websocket'], exec(['-c', 'app', '--', 'sh', '-c', 'exit 3'], WS, 3));
    expect(s.line).toMatchObject({
      verb: 'exec', transport: 'spdy', protocol: 'v4.channel.k8s.io',
      fallback: { status: 403, reason: '403 Forbidden', answeredBy: 'kubelet' }, exitCode: 3,
    });
    expect(s.upgrades).toEqual([['attempt', 403], ['fallback', 101]]);
    expect(s.story.state).toBe('done');
  });

  it('no-pf-websocket: the tunnel gets the kubelet\'s 400 and port-forward falls back to SPDY', async () => {
    const s = await session(['no-pf-websocket'], async (kubeconfig) => {
      const k = startKubectl(v!, ['port-forward', 'pod/web', ':80'], { kubeconfig, home: t.home, env: WS });
      try {
        const m = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/);
        expect(await (await fetch(`http://127.0.0.1:${m[1]}/`)).text()).toContain('kubewire demo: web');
      } finally {
        await k.stop();
      }
    });
    expect(s.line).toMatchObject({
      verb: 'port-forward', target: { namespace: 'default', pod: 'web', container: null, command: [] },
      transport: 'spdy', protocol: 'portforward.k8s.io',
      fallback: { status: 400, reason: '400 Bad Request', answeredBy: 'kubelet' }, exitCode: null,
    });
    expect(s.upgrades).toEqual([['attempt', 400], ['fallback', 101]]);
  });

  it('no-spdy: a SPDY-only kubectl is refused and nothing falls back; over WebSocket all is well', async () => {
    const spdy = await session(['no-spdy'], exec(['-c', 'app', '--', 'echo', 'hi'], SPDY, 1));
    expect(spdy.line).toMatchObject({ verb: 'exec', transport: null, fallback: null, exitCode: null });
    expect(spdy.upgrades).toEqual([['attempt', 400]]);
    expect(spdy.story).toMatchObject({ state: 'failed', failure: 'upgrade refused: 400 Bad Request: Upgrade request required' });

    const ws = await session(['no-spdy'], exec(['-c', 'app', '--', 'echo', 'hi'], WS, 0));
    expect(ws.line).toMatchObject({ transport: 'websocket', fallback: null, exitCode: 0 });
    expect(ws.upgrades).toEqual([['stream', 101]]);
  });

  it('strip-upgrade: a hop dropped the upgrade headers; kubectl fell back and SPDY was refused the same way', async () => {
    const s = await session(['strip-upgrade'], exec(['-c', 'app', '--', 'echo', 'hi'], WS, 1));
    expect(s.line).toMatchObject({ verb: 'exec', transport: null, fallback: { status: 400, reason: '400 Bad Request' }, exitCode: null });
    expect(s.upgrades).toEqual([['attempt', 400], ['attempt', 400]]);
    expect(s.story).toMatchObject({ state: 'failed', failure: 'every upgrade refused, last: 400 Bad Request: Upgrade request required' });
  });

  it('drop-status: kubectl reports success, the session has no exit code and failed', async () => {
    const s = await session(['drop-status'], exec(['-c', 'app', '--', 'sh', '-c', 'exit 3'], WS, 0));
    expect(s.line).toMatchObject({ verb: 'exec', transport: 'websocket', fallback: null, exitCode: null });
    expect(s.upgrades).toEqual([['stream', 101]]);
    expect(s.story).toMatchObject({ state: 'failed', failure: 'the stream ended without a status: the exit code is unknown' });
  });

  it('no-stream-version: kubectl reads v1 and loses the exit code; the status on the wire still has it', async () => {
    // v1 has no exit codes: kubectl exits 0, or 1 when the error stream's end wins its race with
    // stdout's (client-go v1.go), as in cluster-gateway-profiles.test.ts.
    const s = await session(['no-stream-version'], exec(['-c', 'app', '--', 'sh', '-c', 'echo v1; exit 3'], SPDY, [0, 1]));
    expect(s.line).toMatchObject({ verb: 'exec', transport: 'spdy', protocol: null, fallback: null, exitCode: 3 });
    expect(s.upgrades).toEqual([['stream', 101]]);
  });

  it('cp into the pod: the test -d probe and the tar are one cp session with the tar\'s exit code', async () => {
    const src = join(t.dir, `cp-src-${++n}.txt`);
    writeFileSync(src, 'copied\n');
    const s = await session([], async (kubeconfig) => {
      const r = await runKubectl(v!, ['cp', src, 'web:/tmp/copied.txt', '-c', 'app'], { kubeconfig, home: t.home, env: WS });
      expect(r.code, r.stderr).toBe(0);
    });
    expect(s.line).toMatchObject({
      verb: 'cp', target: { ...WEB_APP, command: ['tar', '-xmf', '-', '-C', '/tmp'] }, transport: 'websocket', fallback: null, exitCode: 0,
    });
    expect(s.upgrades).toEqual([['request', 101], ['stream', 101]]);
  });

  describe('a wrong container name', () => {
    const MESSAGE = 'container nosuch is not valid for pod web';

    it('over WebSocket: the API server refuses both upgrades with the same Status, which is no fallback', async () => {
      let r: KubectlResult | undefined;
      const s = await session([], async (kubeconfig) => (r = await exec(['-c', 'nosuch', '--', 'echo', 'hi'], WS, 1)(kubeconfig)));
      expect(r!.stderr).toContain(`Error from server (BadRequest): ${MESSAGE}`);
      expect(s.line).toMatchObject({ verb: 'exec', target: { ...WEB_APP, container: 'nosuch' }, transport: null, fallback: null, exitCode: null });
      expect(s.upgrades).toEqual([['attempt', 400], ['attempt', 400]]);
      expect(s.story).toMatchObject({ state: 'failed', failure: `every upgrade refused, last: 400 Bad Request: ${MESSAGE}` });
    });

    it('over SPDY: the one upgrade is refused with that Status', async () => {
      let r: KubectlResult | undefined;
      const s = await session([], async (kubeconfig) => (r = await exec(['-c', 'nosuch', '--', 'echo', 'hi'], SPDY, 1)(kubeconfig)));
      expect(r!.stderr).toContain(`Error from server (BadRequest): ${MESSAGE}`);
      expect(s.line).toMatchObject({ verb: 'exec', fallback: null, exitCode: null });
      expect(s.upgrades).toEqual([['attempt', 400]]);
      expect(s.story).toMatchObject({ state: 'failed', failure: `upgrade refused: 400 Bad Request: ${MESSAGE}` });
    });
  });
});
