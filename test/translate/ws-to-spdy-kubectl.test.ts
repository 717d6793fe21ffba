/**
 * `--translate ws-to-spdy` with real kubectl 1.33 on WebSocket, in the chain
 *
 *   kubectl 1.33 (WebSocket) → Apache mod_proxy_wstunnel `upgrade=websocket` (refuses SPDY, so
 *   kubectl's own fallback cannot help) → `kubewire proxy --translate ws-to-spdy` → a demo
 *   cluster that serves streaming only over SPDY (`no-websocket`, `no-pf-websocket`).
 *
 * Every verb gives the stdout, stderr and exit code it gives against a cluster without the
 * gateway profiles; without --translate the same chain fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { echoPattern, echoRoundTrip } from '../support/echo-port.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, runKubectl, startKubectl, WEBSOCKET_ENV, withoutReaderRace } from '../support/kubectl.js';
import { startProxyProcess, stopStartedProxies, type ProxyProcess } from '../support/kubewire-proxy.js';
import { gatewayBinary, startApache, writeUpstreamKubeconfig, type Gateway, type GatewayTls } from '../support/gateways.js';
import { spawnKubectlInPty } from '../support/pty-kubectl.js';
import { expectValidLog, readEvents, waitUntil } from '../support/event-log.js';
import { runCli } from '../support/cli.js';
import { waitForText } from '../support/wait.js';
import { feed } from '../ui/event-fixtures.js';
import { SessionStore } from '../../ui/store/session-store.js';
import { columnWidths, rowCells } from '../../ui/format/row-format.js';
import { summaryLine } from '../../ui/format/detail-format.js';
import { loggedEvents, type LoggedEvent } from '../support/translated-log.js';

const [v] = availableKubectls(['1.33']);
const apache = gatewayBinary('apache2');
const OUT_ERR_EXIT = ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'];

let spdyOnly: TestCluster;
let open: TestCluster;
let n = 0;

interface Chain {
  proxy: ProxyProcess;
  gw: Gateway & { tls: GatewayTls };
  kubeconfig: string;
  log: string;
}

/** The chain kubectl → Apache → kubewire proxy (with `flags`) → the SPDY-only cluster. */
async function chain(flags: string[]): Promise<Chain> {
  const log = join(spdyOnly.dir, `ws-to-spdy-${++n}.jsonl`);
  const proxy = await startProxyProcess({ kubeconfig: spdyOnly.kubeconfig, log, writeKubeconfig: join(spdyOnly.dir, `proxy-${n}.kubeconfig`), home: spdyOnly.home, extraArgs: flags });
  const token = /token: "?([^"\s]+)"?/.exec(readFileSync(proxy.kubeconfig, 'utf8'))?.[1];
  if (!token) throw new Error(`no token in ${proxy.kubeconfig}`);
  const gw = await startApache(apache!, { upstream: proxy.url, upgrade: 'websocket' });
  const kubeconfig = join(spdyOnly.dir, `apache-${n}.kubeconfig`);
  writeUpstreamKubeconfig(kubeconfig, { server: `https://127.0.0.1:${gw.port}`, caCertPem: gw.tls.caCertPem, token });
  return { proxy, gw, kubeconfig, log };
}

async function stopChain(c: Chain | undefined): Promise<void> {
  if (!c) return;
  await c.gw.stop();
  await c.proxy.stop();
}

const events = loggedEvents;

/**
 * The events of the translated session in `log` whose client leg asked for `marker` (a piece of
 * its decoded request target), once both of its legs are closed. The log is written off the
 * relay thread and a moment after the events (the relay's batches, the log's linger), so right
 * after kubectl exits it may not hold this command's session yet, and may still be taking the
 * one before: the last session in the log is not always this command's.
 */
function translatedSessionOf(log: string, marker: string): Promise<LoggedEvent[]> {
  return waitUntil(`both legs of the translated session of ${marker} closed`, () => {
    const all = events(log) as (LoggedEvent & { target?: string })[];
    const request = all.filter((e) => e.type === 'upgrade.request' && e.target !== undefined && decodeURIComponent(e.target.replace(/\+/g, ' ')).includes(marker)).pop();
    const mine = request ? all.filter((e) => e.session === request.session) : [];
    const legs = mine.filter((e) => e.type === 'conn.open' && e.translated).map((e) => e.conn);
    const closed = mine.filter((e) => e.type === 'conn.close' && legs.includes(e.conn));
    return legs.length === 2 && closed.length === 2 ? mine : undefined;
  }, 10_000);
}

beforeAll(async () => {
  if (!v || !apache) return;
  [spdyOnly, open] = await Promise.all([startTestCluster({ gateway: ['no-websocket', 'no-pf-websocket'] }), startTestCluster()]);
});
afterAll(async () => {
  await stopStartedProxies();
  await Promise.all([spdyOnly?.stop(), open?.stop()]);
});

describe.skipIf(!v || !apache)('kubectl 1.33 over WebSocket, a gateway that refuses SPDY, kubewire proxy --translate ws-to-spdy, a cluster that streams only over SPDY', () => {
  let c: Chain | undefined;
  beforeAll(async () => {
    if (!v || !apache) return;
    c = await chain(['--translate', 'ws-to-spdy']);
  });
  afterAll(async () => {
    await stopChain(c);
  });
  const run = (args: string[], input?: Buffer | string, timeoutMs = 30_000) => runKubectl(v!, args, { kubeconfig: c!.kubeconfig, home: spdyOnly.home, env: WEBSOCKET_ENV, timeoutMs, ...(input !== undefined ? { input } : {}) });
  const direct = (args: string[]) => runKubectl(v!, args, { kubeconfig: open.kubeconfig, home: open.home, env: WEBSOCKET_ENV });

  it('without --translate the chain refuses both transports', async () => {
    const plain = await chain([]);
    try {
      const r = await runKubectl(v!, OUT_ERR_EXIT, { kubeconfig: plain.kubeconfig, home: spdyOnly.home, env: WEBSOCKET_ENV });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      // The cluster refused the WebSocket (403, as an API server without the translator), and
      // Apache did not carry kubectl's SPDY retry as an upgrade: the cluster answers the bare
      // POST with `Upgrade request required`, or Apache, when it gave up on the upstream first,
      // with its own 502 page.
      expect(r.stderr).toMatch(/Upgrade request required|unable to upgrade connection: .*502 Proxy Error/s);
      await waitUntil('the cluster\'s 403 logged', () => events(plain.log).find((e) => e.type === 'upgrade.response' && e.status === 403), 10_000);
    } finally {
      await stopChain(plain);
    }
  });

  it('--audit: the session record is the client leg, with the upstream leg under translated; stdin on both legs', async () => {
    const audited = await chain(['--translate', 'ws-to-spdy', '--audit']);
    try {
      const r = await runKubectl(v!, ['exec', '-i', 'web', '-c', 'app', '--', 'cat'], { kubeconfig: audited.kubeconfig, home: spdyOnly.home, env: WEBSOCKET_ENV, input: 'typed by the user\n' });
      expect([r.code, r.stdout]).toEqual([0, 'typed by the user\n']);
    } finally {
      await stopChain(audited);
    }
    // Every line of the audit log is a valid event, the new record field included.
    const all = expectValidLog(audited.log) as unknown as (LoggedEvent & { stream?: string; size?: number; transport?: string; bytes?: { c2s: number; s2c: number }; translated?: unknown })[];
    const record = all.find((e) => e.type === 'audit.session' && e.translated);
    const legs = all.filter((e) => e.type === 'conn.open' && e.translated && e.session === record?.session);
    const upstream = legs.find((e) => e.translated!.leg === 'upstream')!;
    expect(record).toMatchObject({ transport: 'websocket', protocol: 'v5.channel.k8s.io', exitCode: 0, translated: { from: 'websocket', to: 'spdy', upstream: upstream.conn, protocol: 'v4.channel.k8s.io' } });
    const up = (record!.translated as unknown as { bytes: { c2s: number; s2c: number } }).bytes;
    expect(up.c2s).toBeGreaterThan(0);
    expect(up.s2c).toBeGreaterThan(0);
    // What the user typed, on the client leg, and what the cluster received, on the upstream leg.
    const stdin = all.filter((e) => e.type === 'k8s.data' && e.stream === 'stdin' && legs.some((l) => l.conn === e.conn));
    expect(new Set(stdin.map((e) => e.conn)).size).toBe(2);
    for (const conn of legs.map((l) => l.conn)) expect(stdin.filter((e) => e.conn === conn).reduce((n, e) => n + e.size!, 0)).toBe('typed by the user\n'.length);
  });

  it('exec: stdout, stderr and exit 3 as a direct exec gives them; both legs logged as one session', async () => {
    const want = await direct(OUT_ERR_EXIT);
    expect(want.code).toBe(3);
    const r = await run(OUT_ERR_EXIT);
    expect([r.code, r.stdout, withoutReaderRace(r.stderr)], c!.gw.output()).toEqual([want.code, want.stdout, withoutReaderRace(want.stderr)]);
    const all = await translatedSessionOf(c!.log, 'exit 3');
    const opens = all.filter((e) => e.type === 'conn.open' && e.translated);
    const client = opens.find((e) => e.translated!.leg === 'client')!;
    const upstream = opens.find((e) => e.translated!.leg === 'upstream')!;
    expect(client.translated).toMatchObject({ from: 'websocket', to: 'spdy', peer: upstream.conn });
    expect(upstream.session).toBe(client.session);
    const answers = all.filter((e) => e.type === 'upgrade.response');
    expect(answers.find((e) => e.conn === client.conn)).toMatchObject({ status: 101, protocol: 'v5.channel.k8s.io' });
    expect(answers.find((e) => e.conn === upstream.conn)).toMatchObject({ status: 101, protocol: 'v4.channel.k8s.io' });
    // kubewire's console line, `summary --sessions` and the TUI's row name the translation.
    // (the line is printed once the session settles, a little after kubectl's exit).
    await waitForText(() => c!.proxy.stdout(), /websocket v5\.channel\.k8s\.io exit 3 .*\(translated to spdy v4\.channel\.k8s\.io upstream\)/, 15_000);
    const summary = runCli(['summary', '--sessions', c!.log]);
    const line = summary.stdout.trim().split('\n').map((l) => JSON.parse(l) as { session: string; exitCode: number | null; translation: unknown }).find((l) => l.session === client.session);
    expect(line).toMatchObject({ exitCode: 3, translation: { from: 'websocket', to: 'spdy', upstream: upstream.conn, protocol: 'v4.channel.k8s.io' } });
    const store = new SessionStore();
    feed(store, readEvents(c!.log));
    store.flush();
    const row = store.getSnapshot().rows.find((r) => r.id === client.session)!;
    expect(row.translatedTo).toBe('spdy v4.channel.k8s.io');
    expect(rowCells(row, columnWidths(160)).fallback.trim()).toBe('⇄spdy');
    expect(summaryLine(row)).toContain('⇄ translated to spdy v4.channel.k8s.io upstream');
  });

  it('exec -i cat: 1 MiB of stdin back byte for byte, and the end of stdin (FF 00 → FIN) ends cat', async () => {
    const input = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = (i * 31 + (i >> 10)) & 0xff;
    const r = await run(['exec', '-i', 'web', '-c', 'app', '--', 'cat'], input);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes.equals(input)).toBe(true);
  });

  it('a long exec keeps both legs alive: pings answered and sent on the WebSocket leg, SPDY pings upstream', async () => {
    const r = await run(['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo start; sleep 7; echo done']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'start\ndone\n', '']);
    const all = (await translatedSessionOf(c!.log, 'sleep 7')) as (LoggedEvent & { dir?: string; kind?: string; frame?: string })[];
    const leg = (name: string) => all.find((e) => e.type === 'conn.open' && e.translated?.leg === name)!.conn;
    const [client, upstream] = [leg('client'), leg('upstream')];
    const wsFrames = all.filter((e) => e.type === 'ws.frame' && e.conn === client).map((e) => `${e.kind} ${e.dir}`);
    // kubectl's 5 s pings answered here, and kubewire's own pings answered by kubectl.
    expect(wsFrames).toEqual(expect.arrayContaining(['ping c2s', 'pong s2c', 'ping s2c', 'pong c2s']));
    const spdyPings = all.filter((e) => e.type === 'spdy.frame' && e.conn === upstream && e.frame === 'PING').map((e) => e.dir);
    expect(spdyPings).toEqual(expect.arrayContaining(['c2s', 's2c']));
  });

  it('cp of 1 MiB in and out', async () => {
    const data = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    const src = join(spdyOnly.dir, 'cp.bin');
    writeFileSync(src, data);
    const up = await run(['cp', '-c', 'app', src, 'web:/tmp/cp.bin'], undefined, 60_000);
    expect(up.code, up.stderr).toBe(0);
    const back = join(spdyOnly.dir, 'cp-back.bin');
    const down = await run(['cp', '-c', 'app', 'web:/tmp/cp.bin', back], undefined, 60_000);
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(back).equals(data)).toBe(true);
  });

  it("exec into a missing container: the upstream's own refusal reaches kubectl as it came", async () => {
    const args = ['exec', 'web', '-c', 'nope', '--', 'true'];
    const r = await run(args);
    expect(r.code).toBe(1);
    // The refusal of the translated WebSocket attempt is the SPDY upstream's 400 Status, passed
    // on verbatim; kubectl then retries over SPDY, which the gateway refuses, and prints that.
    const all = await translatedSessionOf(c!.log, 'container=nope');
    const legs = all.filter((e) => e.type === 'conn.open' && e.translated);
    const refusals = all.filter((e) => e.type === 'upgrade.response' && e.status === 400 && legs.some((l) => l.conn === e.conn));
    expect(refusals.length).toBeGreaterThanOrEqual(2);
    // The same Status body on both legs: read from the upstream, written to the client.
    const bodies = (all as (LoggedEvent & { k8sStatus?: { message?: string } | null })[]).filter((e) => e.type === 'http.body' && legs.some((l) => l.conn === e.conn));
    expect(bodies.filter((e) => e.k8sStatus?.message === 'container nope is not valid for pod web')).toHaveLength(2);
  });

  it('exec -it under a pty with a resize: the size reaches the pod, the exit code comes back', async () => {
    const p = spawnKubectlInPty(v!, ['exec', '-it', 'web', '-c', 'app', '--', 'sh'], { kubeconfig: c!.kubeconfig, home: spdyOnly.home, env: WEBSOCKET_ENV });
    try {
      p.write('stty size\r');
      await p.waitFor(/24 80/);
      p.resize(100, 30);
      await new Promise((r) => setTimeout(r, 300));
      p.write('stty size\r');
      await p.waitFor(/30 100/);
      p.write('exit 5\r');
      expect(await p.exit()).toBe(5);
    } finally {
      p.kill();
    }
  });

  it("attach -i: the pod's output, and stdin reaches it", async () => {
    const k = startKubectl(v!, ['attach', '-i', 'worker'], { kubeconfig: c!.kubeconfig, home: spdyOnly.home, env: WEBSOCKET_ENV });
    try {
      await k.waitFor(/tick/);
      k.child.stdin!.write('hello through translation\n');
      await k.waitFor(/echo: hello through translation/);
    } finally {
      await k.stop();
    }
  });

  it('port-forward in the tunnel: two HTTP fetches on concurrent connections, an echo port, an unknown port', async () => {
    const k = startKubectl(v!, ['port-forward', 'pod/web', ':80', ':7', ':9'], { kubeconfig: c!.kubeconfig, home: spdyOnly.home, env: WEBSOCKET_ENV });
    const kw = startKubectl(v!, ['port-forward', 'pod/worker', ':7'], { kubeconfig: c!.kubeconfig, home: spdyOnly.home, env: WEBSOCKET_ENV });
    try {
      const web = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/);
      const bodies = await Promise.all([1, 2].map(() => fetch(`http://127.0.0.1:${web[1]}/`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text())));
      for (const body of bodies) expect(body).toContain('kubewire demo: web');

      const echo = await kw.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 7/);
      const sent = echoPattern();
      const back = await echoRoundTrip(Number(echo[1]), sent);
      expect(back.equals(sent)).toBe(true);

      // Port 9 of web has nothing listening: kubectl prints the pod's error as it would directly.
      const closed = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 9/);
      await new Promise<void>((resolve) => {
        const s = connect(Number(closed[1]), '127.0.0.1');
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.setTimeout(10_000, () => s.destroy());
      });
      await k.waitFor(/an error occurred forwarding \d+ -> 9: error forwarding port 9 to pod/);
    } finally {
      await Promise.all([k.stop(), kw.stop()]);
    }
  });
});
