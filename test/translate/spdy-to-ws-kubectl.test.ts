/**
 * `--translate spdy-to-ws` with real kubectl (1.27, 1.28, 1.29, 1.33) forced onto SPDY, through
 * `kubewire run` and `kubewire proxy`, in front of a demo cluster whose gateway refuses SPDY
 * (`no-spdy`, as an AWS ALB does) and of a real Apache with `upgrade=websocket`. Results are
 * compared with a direct WebSocket run of kubectl 1.33 against a cluster without the gateway,
 * and without --translate the same commands fail as they do today.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { echoPattern, echoRoundTrip } from '../support/echo-port.js';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, kubectlEnv, kubectlPath, runKubectl, SPDY_ENV, WEBSOCKET_ENV, withoutReaderRace } from '../support/kubectl.js';
import { KUBEWIRE_BIN, kubectlPart, runThroughKubewire, startThroughKubewire } from '../support/kubewire-run.js';
import { startProxyProcess, stopStartedProxies } from '../support/kubewire-proxy.js';
import { gatewayBinary, startApache, writeUpstreamKubeconfig } from '../support/gateways.js';
import { EVENT_SCHEMA } from '../../src/events/schema.js';
import { loggedEvents, type LoggedEvent } from '../support/translated-log.js';
import { ttyResizeThroughRun } from '../support/pty-kubectl.js';

// ajv is CommonJS: under NodeNext the default import is the module object for TypeScript.
const Ajv = Ajv2020 as unknown as typeof Ajv2020.default;
const validate = new Ajv({ strict: true, allErrors: true }).compile(EVENT_SCHEMA);

const versions = availableKubectls(['1.27', '1.28', '1.29', '1.33']);
const [direct] = availableKubectls(['1.33']);
const TRANSLATE = ['--translate', 'spdy-to-ws'];
const OUT_ERR_EXIT = ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'];

let gated: TestCluster;
let open: TestCluster;
let n = 0;
beforeAll(async () => {
  if (versions.length === 0) return;
  [gated, open] = await Promise.all([startTestCluster({ gateway: ['no-spdy'] }), startTestCluster()]);
});
afterAll(async () => {
  await stopStartedProxies();
  await Promise.all([gated?.stop(), open?.stop()]);
});
const logFile = (): string => join(gated.dir, `translate-${++n}.jsonl`);

const events = loggedEvents;

function translate(v: string, args: string[], extra: { input?: string | Buffer; flags?: string[]; timeoutMs?: number } = {}) {
  const log = logFile();
  return runThroughKubewire(v, args, { kubeconfig: gated.kubeconfig, home: gated.home, log, env: SPDY_ENV, flags: extra.flags ?? TRANSLATE, ...(extra.input !== undefined ? { input: extra.input } : {}), timeoutMs: extra.timeoutMs ?? 30_000 }).then((r) => ({ ...r, log, kubectlErr: kubectlPart(r.stderr) }));
}

describe.skipIf(versions.length === 0 || !direct)('kubectl over SPDY through --translate spdy-to-ws to a cluster that refuses SPDY', () => {
  it('without --translate the SPDY exec and port-forward are refused, as today', async () => {
    for (const v of versions) {
      const r = await translate(v, OUT_ERR_EXIT, { flags: [] });
      expect(r.code, `${v}: ${r.stderr}`).toBe(1);
      expect(r.kubectlErr).toContain('Upgrade request required');
      expect(r.stdout).toBe('');
      // The diagnosis names the fix.
      const finding = events(r.log).find((e) => e.type === 'finding' && (e as { rule?: string }).rule === 'upgrade-stripped') as { fix?: string } | undefined;
      expect(finding?.fix).toContain('kubewire run --translate spdy-to-ws -- kubectl exec');
    }
    const k = startThroughKubewire(versions[0]!, ['port-forward', 'pod/web', ':80'], { kubeconfig: gated.kubeconfig, home: gated.home, log: logFile(), env: SPDY_ENV });
    try {
      await k.waitFor(/error upgrading connection: Upgrade request required/);
    } finally {
      await k.stop();
    }
  });

  it('kubewire proxy --translate spdy-to-ws serves several kubectl commands, and a long one keeps both legs alive past the 5 s pings', async () => {
    const log = logFile();
    const p = await startProxyProcess({ kubeconfig: gated.kubeconfig, log, writeKubeconfig: join(gated.dir, `proxy-${++n}.kubeconfig`), home: gated.home, extraArgs: TRANSLATE });
    try {
      const run = (v: string, args: string[]) => runKubectl(v, args, { kubeconfig: p.kubeconfig, home: gated.home, env: SPDY_ENV });
      const all = await Promise.all(versions.map((v) => run(v, ['exec', 'web', '-c', 'app', '--', 'sh', '-c', `echo ${v}; exit 4`])));
      expect(all.map((r) => [r.code, r.stdout])).toEqual(versions.map((v) => [4, `${v}\n`]));
      const slow = await run(versions[versions.length - 1]!, ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo start; sleep 7; echo done']);
      expect([slow.code, slow.stdout, slow.stderr]).toEqual([0, 'start\ndone\n', '']);
    } finally {
      await p.stop();
    }
    expect(p.stdout()).toMatch(/spdy v4\.channel\.k8s\.io exit 4 .*\(translated to websocket v5\.channel\.k8s\.io upstream\)/);
    // During the sleep kubewire pinged the WebSocket leg and the server answered; kubectl's own
    // SPDY pings were answered on the client leg.
    const all = events(log) as (LoggedEvent & { dir?: string; kind?: string })[];
    const legs = (leg: string) => new Set(all.filter((e) => e.translated?.leg === leg).map((e) => e.conn));
    const [up, down] = [legs('upstream'), legs('client')];
    const frames = all.filter((e) => e.type === 'ws.frame' && up.has(e.conn));
    expect(frames.some((e) => e.kind === 'ping' && e.dir === 'c2s')).toBe(true);
    expect(frames.some((e) => e.kind === 'pong' && e.dir === 's2c')).toBe(true);
    const pings = all.filter((e) => e.type === 'spdy.frame' && down.has(e.conn) && (e as { frame?: string }).frame === 'PING');
    expect(pings.map((e) => e.dir)).toEqual(expect.arrayContaining(['c2s', 's2c']));
  });

  for (const v of versions) {
    describe(`kubectl ${v}`, () => {
      it('exec: stdout, stderr and exit 3, as a direct WebSocket exec gives them; both legs logged', async () => {
        const want = await runKubectl(direct!, OUT_ERR_EXIT, { kubeconfig: open.kubeconfig, home: open.home, env: WEBSOCKET_ENV });
        expect(want.code).toBe(3);
        const r = await translate(v, OUT_ERR_EXIT);
        expect(r.code, r.stderr).toBe(want.code);
        expect(r.stdout).toBe(want.stdout);
        expect(withoutReaderRace(r.kubectlErr)).toBe(withoutReaderRace(want.stderr));
        expect(r.stdout).toBe('out\n');
        expect(r.kubectlErr).toContain('err\n');

        const opens = events(r.log).filter((e) => e.type === 'conn.open' && e.translated);
        expect(opens.map((e) => e.translated!.leg).sort()).toEqual(['client', 'upstream']);
        const [client, upstream] = ['client', 'upstream'].map((leg) => opens.find((e) => e.translated!.leg === leg)!);
        expect(client!.translated).toMatchObject({ from: 'spdy', to: 'websocket', peer: upstream!.conn });
        expect(upstream!.session).toBe(client!.session);
        const answers = events(r.log).filter((e) => e.type === 'upgrade.response');
        expect(answers.find((e) => e.conn === client!.conn)).toMatchObject({ status: 101, protocol: 'v4.channel.k8s.io' });
        expect(answers.find((e) => e.conn === upstream!.conn)).toMatchObject({ status: 101, protocol: 'v5.channel.k8s.io' });
        // kubewire's own line names what kubectl spoke and what went upstream.
        expect(r.stderr).toMatch(/kubewire: .*exec default\/web\/app .* spdy v4\.channel\.k8s\.io exit 3 .*\(translated to websocket v5\.channel\.k8s\.io upstream\)/);
        const invalid = events(r.log).find((e) => !validate(e));
        expect(invalid, JSON.stringify(validate.errors)).toBeUndefined();
      });

      it('exec -i cat: 1 MiB of stdin comes back byte for byte, and the end of stdin ends cat', async () => {
        const input = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < input.length; i++) input[i] = (i * 31 + (i >> 10)) & 0xff;
        const r = await translate(v, ['exec', '-i', 'web', '-c', 'app', '--', 'cat'], { input });
        expect(r.code, r.kubectlErr).toBe(0);
        expect(r.stdoutBytes.length).toBe(input.length);
        expect(r.stdoutBytes.equals(input)).toBe(true);
      });

      it('exec -i cat with --payload full: every stdin byte recorded on both legs', async () => {
        const input = Buffer.alloc(512 * 1024, 0x5a);
        const r = await translate(v, ['exec', '-i', 'web', '-c', 'app', '--', 'cat'], { input, flags: [...TRANSLATE, '--payload', 'full'] });
        expect(r.code, r.kubectlErr).toBe(0);
        expect(r.stdoutBytes.equals(input)).toBe(true);
        const stdin = events(r.log).filter((e) => e.type === 'k8s.data' && (e as { stream?: string }).stream === 'stdin') as unknown as { conn: string; size: number }[];
        // Both legs recorded all of it: the client's SPDY stdin and the WebSocket channel 0.
        const perConn = new Map<string, number>();
        for (const e of stdin) perConn.set(e.conn, (perConn.get(e.conn) ?? 0) + e.size);
        expect([...perConn.values()]).toEqual([input.length, input.length]);
      });

      it('cp of 1 MiB in and out', async () => {
        const data = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
        const src = join(gated.dir, `cp-${v}.bin`);
        writeFileSync(src, data);
        const up = await translate(v, ['cp', '-c', 'app', src, `web:/tmp/cp-${v}.bin`], { timeoutMs: 60_000 });
        expect(up.code, up.kubectlErr).toBe(0);
        const back = join(gated.dir, `cp-${v}-back.bin`);
        const down = await translate(v, ['cp', '-c', 'app', `web:/tmp/cp-${v}.bin`, back], { timeoutMs: 60_000 });
        expect(down.code, down.kubectlErr).toBe(0);
        expect(readFileSync(back).equals(data)).toBe(true);
      });

      it('attach -i: the pod\'s output, and stdin reaches it', async () => {
        const log = logFile();
        const k = startThroughKubewire(v, ['attach', '-i', 'worker'], { kubeconfig: gated.kubeconfig, home: gated.home, log, env: SPDY_ENV, flags: TRANSLATE });
        try {
          await k.waitFor(/tick/);
          k.child.stdin.write('hello through translation\n');
          await k.waitFor(/echo: hello through translation/);
        } finally {
          await k.stop();
        }
      });

      it("exec into a missing container: the upstream's own refusal, as kubectl prints it", async () => {
        const args = ['exec', 'web', '-c', 'nope', '--', 'true'];
        const want = await runKubectl(direct!, args, { kubeconfig: open.kubeconfig, home: open.home, env: SPDY_ENV });
        const r = await translate(v, args);
        expect(r.code).toBe(1);
        expect(withoutReaderRace(r.kubectlErr)).toBe(withoutReaderRace(want.stderr));
        expect(r.kubectlErr).toContain('Error from server (BadRequest): container nope is not valid for pod web');
      });

      it('port-forward over SPDY carried in the tunnel: two HTTP fetches on concurrent connections, both legs logged', async () => {
        const log = logFile();
        const k = startThroughKubewire(v, ['port-forward', 'pod/web', ':80'], { kubeconfig: gated.kubeconfig, home: gated.home, log, env: SPDY_ENV, flags: TRANSLATE });
        try {
          const m = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/);
          const bodies = await Promise.all([1, 2].map(() => fetch(`http://127.0.0.1:${m[1]}/`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text())));
          for (const body of bodies) expect(body).toContain('kubewire demo: web');
        } finally {
          expect(await k.stop()).toBe(0);
        }
        const opens = events(log).filter((e) => e.type === 'conn.open' && e.translated);
        expect(opens).toHaveLength(2);
        const up = events(log).find((e) => e.type === 'upgrade.response' && e.conn === opens.find((o) => o.translated!.leg === 'upstream')!.conn);
        expect(up).toMatchObject({ status: 101, protocol: 'SPDY/3.1+portforward.k8s.io' });
      });

      it('port-forward to an echo port: 256 KiB sent, the same 256 KiB back, then the half-close', async () => {
        const k = startThroughKubewire(v, ['port-forward', 'pod/worker', ':7'], { kubeconfig: gated.kubeconfig, home: gated.home, log: logFile(), env: SPDY_ENV, flags: TRANSLATE });
        try {
          const m = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 7/);
          const sent = echoPattern();
          const back = await echoRoundTrip(Number(m[1]), sent);
          expect(back.equals(sent)).toBe(true);
        } finally {
          expect(await k.stop()).toBe(0);
        }
      });

      it('exec -it under a pty with a resize: the size reaches the pod, the exit code comes back', async () => {
        const log = logFile();
        await ttyResizeThroughRun(KUBEWIRE_BIN, ['--kubeconfig', gated.kubeconfig, '--log', log, ...TRANSLATE], v, kubectlEnv({ kubeconfig: gated.kubeconfig, home: gated.home, env: SPDY_ENV }));
      });
    });
  }
});

const apache = gatewayBinary('apache2');
describe.skipIf(versions.length === 0 || !apache)('through a real Apache mod_proxy_wstunnel with upgrade=websocket, which refuses SPDY', () => {
  it(`kubectl ${versions[0]} over SPDY: exec with its exit code, exec -i cat of 1 MiB and a port-forward fetch work once translated`, async () => {
    const v = versions[0]!;
    const gw = await startApache(apache!, { upstream: open.cluster.url, upgrade: 'websocket' });
    try {
      const kubeconfig = join(open.dir, `apache-${++n}.kubeconfig`);
      writeUpstreamKubeconfig(kubeconfig, { server: `https://127.0.0.1:${gw.port}`, caCertPem: gw.tls.caCertPem, token: open.cluster.token });
      const via = (args: string[], flags: string[], input?: Buffer) =>
        runThroughKubewire(v, args, { kubeconfig, home: open.home, log: join(open.dir, `apache-${++n}.jsonl`), env: SPDY_ENV, flags, ...(input ? { input } : {}) });
      const refused = await via(OUT_ERR_EXIT, []);
      expect(kubectlPart(refused.stderr)).toMatch(/Upgrade request required/i);
      expect(refused.stderr).toMatch(/(spdy-unsupported|upgrade-stripped): .*kubewire run --translate spdy-to-ws -- kubectl exec/);
      const r = await via(OUT_ERR_EXIT, TRANSLATE);
      expect([r.code, r.stdout, kubectlPart(r.stderr)], gw.output()).toEqual([3, 'out\n', 'err\ncommand terminated with exit code 3\n']);
      const input = Buffer.alloc(1024 * 1024, 0x33);
      const cat = await via(['exec', '-i', 'web', '-c', 'app', '--', 'cat'], TRANSLATE, input);
      expect(cat.code).toBe(0);
      expect(cat.stdoutBytes.equals(input)).toBe(true);
      const k = startThroughKubewire(v, ['port-forward', 'pod/web', ':80'], { kubeconfig, home: open.home, log: join(open.dir, `apache-${++n}.jsonl`), env: SPDY_ENV, flags: TRANSLATE });
      try {
        const m = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/);
        expect(await fetch(`http://127.0.0.1:${m[1]}/`, { signal: AbortSignal.timeout(10_000) }).then((x) => x.text())).toContain('kubewire demo: web');
      } finally {
        await k.stop();
      }
      expect(gw.output()).toMatch(/"GET \/api\/v1\/namespaces\/default\/pods\/web\/exec\?[^"]*" 101 /);
      expect(gw.output()).toMatch(/"GET \/api\/v1\/namespaces\/default\/pods\/web\/portforward[^"]*" 101 /);
    } finally {
      await gw.stop();
    }
  });
});
