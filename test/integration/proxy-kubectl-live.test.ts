/**
 * Long-running and interactive kubectl commands through `kubewire run`: a tty session with a
 * resize, port-forward with an HTTP fetch, attach, logs -f and get -w. kubectl keeps the
 * terminal; ^C reaches it as it would in a shell.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKubectls, kubectlEnv, kubectlPath } from '../support/kubectl.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { KUBEWIRE_BIN, startThroughKubewire, summaries } from '../support/kubewire-run.js';
import { ttyResizeThroughRun } from '../support/pty-kubectl.js';

const versions = availableKubectls(['1.27', '1.30', '1.31', '1.33']);

let t: TestCluster;
let n = 0;
beforeAll(async () => {
  t = await startTestCluster({ tickMs: 200 });
});
afterAll(async () => {
  await t?.stop();
});
const logFile = (): string => join(t.dir, `live-${++n}.jsonl`);

describe.skipIf(versions.length === 0)('interactive and long-running kubectl through kubewire run', () => {
  for (const v of versions) {
    describe(`kubectl ${v}`, () => {
      it('exec -it with a resize: the exit code passes through, the summary has the resizes', async () => {
        const log = logFile();
        await ttyResizeThroughRun(KUBEWIRE_BIN, ['--kubeconfig', t.kubeconfig, '--log', log], v, kubectlEnv({ kubeconfig: t.kubeconfig, home: t.home }));
        const [s] = summaries(log).filter((x) => x.response.status === 101);
        expect(s).toMatchObject({ exitCode: 5 });
        expect(s!.resizes[0]).toEqual([80, 24]);
        expect(s!.resizes).toContainEqual([100, 30]);
      });

      it('port-forward, then an HTTP fetch through it', async () => {
        const log = logFile();
        const k = startThroughKubewire(v, ['port-forward', 'pod/web', ':80'], { kubeconfig: t.kubeconfig, home: t.home, log });
        try {
          const m = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/);
          const res = await fetch(`http://127.0.0.1:${m[1]}/`);
          expect(await res.text()).toContain('kubewire demo: web');
        } finally {
          expect(await k.stop()).toBe(0);
        }
        const pf = summaries(log).filter((x) => x.request.operation === 'portforward' && x.response.status === 101);
        expect(pf).toHaveLength(1);
        // kubectl 1.31+ tunnels port-forward through WebSocket by default; older ones use SPDY.
        expect(pf[0]!.transport).toBe(v === '1.31' || v === '1.33' ? 'websocket+spdy' : 'spdy');
        expect(pf[0]!.portForward.some((e) => e.port === 80 && e.s2c.bytes > 0)).toBe(true);
      });

      it('attach -i', async () => {
        const k = startThroughKubewire(v, ['attach', '-i', 'worker'], { kubeconfig: t.kubeconfig, home: t.home, log: logFile() });
        try {
          await k.waitFor(/tick/);
          k.child.stdin.write('hello through kubewire\n');
          await k.waitFor(/echo: hello through kubewire/);
        } finally {
          await k.stop();
        }
      });

      it('logs -f', async () => {
        const k = startThroughKubewire(v, ['logs', '-f', 'web', '-c', 'app'], { kubeconfig: t.kubeconfig, home: t.home, log: logFile() });
        try {
          const first = await k.waitFor(/tick (\d+)/);
          await k.waitFor(new RegExp(`tick ${Number(first[1]) + 2}\\b`));
        } finally {
          await k.stop();
        }
      });

      it('get pods -w shows a few events', async () => {
        const k = startThroughKubewire(v, ['get', 'pods', '-w'], { kubeconfig: t.kubeconfig, home: t.home, log: logFile() });
        try {
          await k.waitFor(/(worker[^\n]*\n[\s\S]*){3}/, 20_000);
        } finally {
          await k.stop();
        }
      });
    });
  }
});
