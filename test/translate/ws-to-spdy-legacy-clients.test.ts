/**
 * `--translate ws-to-spdy` for the older WebSocket protocols, end to end: library clients and
 * a base64 WebSocket client through `kubewire proxy --translate ws-to-spdy` to a demo cluster
 * that streams only over SPDY (`--gateway no-websocket`).
 *
 * - python-kubernetes' and @kubernetes/client-node's port-forward (the kubelet's legacy
 *   WebSocket port-forward, ports in the query) give the same answer as directly against a
 *   healthy cluster, and the upstream leg is SPDY `portforward.k8s.io`;
 * - an exec in `v4.base64.channel.k8s.io` driven by `ws` gives its stdout and exit status.
 *
 * Each is one session in the log: the client leg and the upstream leg, marked translated
 * from websocket to spdy, as `summary --sessions` and the session store show it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { runCli } from '../support/cli.js';
import { readEvents, waitUntil } from '../support/event-log.js';
import { startProxyProcess, stopStartedProxies, type ProxyProcess } from '../support/kubewire-proxy.js';
import { PY_SCRIPT, PYTHON, pythonKubernetesAvailable, runClient, writeClientNodeScript } from '../support/library-clients.js';
import { loggedEvents, type LoggedEvent } from '../support/translated-log.js';
import { wsSession } from '../support/ws-client.js';
import { feed } from '../ui/event-fixtures.js';
import { SessionStore } from '../../ui/store/session-store.js';

const hasPython = pythonKubernetesAvailable();

let spdyOnly: TestCluster;
let open: TestCluster;
let proxy: ProxyProcess;
let log: string;

beforeAll(async () => {
  [spdyOnly, open] = await Promise.all([startTestCluster({ gateway: ['no-websocket'] }), startTestCluster()]);
  log = join(spdyOnly.dir, 'ws-to-spdy-legacy.jsonl');
  proxy = await startProxyProcess({ kubeconfig: spdyOnly.kubeconfig, log, writeKubeconfig: join(spdyOnly.dir, 'proxy.kubeconfig'), home: spdyOnly.home, extraArgs: ['--translate', 'ws-to-spdy'] });
});
afterAll(async () => {
  await stopStartedProxies();
  await Promise.all([spdyOnly?.stop(), open?.stop()]);
});

interface Translated {
  client: LoggedEvent;
  upstream: LoggedEvent;
  all: LoggedEvent[];
}

/** The translated session whose client leg asked for `operation`, once both legs are closed. */
function translatedSession(operation: string, seen: Set<string>): Promise<Translated> {
  return waitUntil(`both legs of a translated ${operation} closed`, () => {
    const events = loggedEvents(log) as (LoggedEvent & { request?: { operation?: string } })[];
    for (const open of events.filter((e) => e.type === 'conn.open' && e.translated?.leg === 'client' && !seen.has(e.session!))) {
      const all = events.filter((e) => e.session === open.session);
      const request = all.find((e) => e.type === 'upgrade.request' && e.conn === open.conn) as { target?: string } | undefined;
      if (!request?.target?.includes(`/${operation}`)) continue;
      const upstream = all.find((e) => e.type === 'conn.open' && e.translated?.leg === 'upstream');
      const closed = all.filter((e) => e.type === 'conn.close');
      if (upstream && closed.length === 2) {
        seen.add(open.session!);
        return { client: open, upstream, all };
      }
    }
    return undefined;
  }, 15_000);
}

const seen = new Set<string>();

/** The session is one command in every view: the log, `summary --sessions`, the session store. */
function expectOneTranslatedCommand(s: Translated, clientProtocol: string | null, upstreamProtocol: string): void {
  expect(s.client.translated).toMatchObject({ from: 'websocket', to: 'spdy', leg: 'client', peer: s.upstream.conn });
  expect(s.upstream.translated).toMatchObject({ from: 'websocket', to: 'spdy', leg: 'upstream', peer: s.client.conn });
  const answers = s.all.filter((e) => e.type === 'upgrade.response') as (LoggedEvent & { status?: number; protocol?: string | null })[];
  expect(answers.find((e) => e.conn === s.client.conn)).toMatchObject({ status: 101, protocol: clientProtocol });
  expect(answers.find((e) => e.conn === s.upstream.conn)).toMatchObject({ status: 101, protocol: upstreamProtocol });
  const lines = runCli(['summary', '--sessions', log]).stdout.trim().split('\n').map((l) => JSON.parse(l) as { session: string; translation: unknown });
  expect(lines.filter((l) => l.session === s.client.session)).toMatchObject([{ translation: { from: 'websocket', to: 'spdy', upstream: s.upstream.conn, protocol: upstreamProtocol } }]);
  // Both legs decoded without a fault, and nothing for a diagnosis rule to explain.
  expect(s.all.filter((e) => e.type === 'decode.anomaly' || e.type === 'finding' || e.type === 'proxy.error')).toEqual([]);
  const store = new SessionStore();
  feed(store, readEvents(log));
  store.flush();
  expect(store.getSnapshot().rows.filter((r) => r.id === s.client.session).map((r) => r.translatedTo)).toEqual([`spdy ${upstreamProtocol}`]);
}

describe.skipIf(!hasPython)('python-kubernetes through kubewire proxy --translate ws-to-spdy', () => {
  it('portforward: a request written, the answer read, as directly; the upstream leg is SPDY port-forward', async () => {
    const want = await runClient(PYTHON, [PY_SCRIPT, 'portforward'], { kubeconfig: open.kubeconfig, home: open.home });
    expect(want.code).toBe(0);
    expect(JSON.parse(want.stdout)).toEqual({ status: 'HTTP/1.1 200 OK' });
    const got = await runClient(PYTHON, [PY_SCRIPT, 'portforward'], { kubeconfig: proxy.kubeconfig, home: spdyOnly.home });
    expect([got.code, got.stdout]).toEqual([0, want.stdout]);
    expectOneTranslatedCommand(await translatedSession('portforward', seen), 'v4.channel.k8s.io', 'portforward.k8s.io');
  });
});

describe('@kubernetes/client-node through kubewire proxy --translate ws-to-spdy', () => {
  it('PortForward: the same answer as directly; the upstream leg is SPDY port-forward', async () => {
    const file = writeClientNodeScript(spdyOnly.dir);
    const want = await runClient(process.execPath, [file, 'portforward'], { kubeconfig: open.kubeconfig, home: open.home });
    expect(want.code).toBe(0);
    const got = await runClient(process.execPath, [file, 'portforward'], { kubeconfig: proxy.kubeconfig, home: spdyOnly.home });
    expect([got.code, got.stdout]).toEqual([0, want.stdout]);
    expect(JSON.parse(got.stdout)).toEqual({ status: 'HTTP/1.1 200 OK' });
    const s = await translatedSession('portforward', seen);
    expectOneTranslatedCommand(s, 'v4.channel.k8s.io', 'portforward.k8s.io');
    // Both legs decoded: the request on the client leg and on the upstream's data stream.
    const data = s.all.filter((e) => e.type === 'pf.data' && (e as { dir?: string }).dir === 'c2s');
    expect(new Set(data.map((e) => e.conn))).toEqual(new Set([s.client.conn, s.upstream.conn]));
  });
});

describe('a base64 exec through kubewire proxy --translate ws-to-spdy', () => {
  it('v4.base64.channel.k8s.io: stdout and stderr as base64 text, the exit status on channel 3', async () => {
    const kubeconfig = readFileSync(proxy.kubeconfig, 'utf8');
    const token = /token: "?([^"\s]+)"?/.exec(kubeconfig)?.[1];
    const ca = /certificate-authority-data: "?([^"\s]+)"?/.exec(kubeconfig)?.[1];
    if (!token || !ca) throw new Error(`no token or CA in ${proxy.kubeconfig}`);
    const command = ['sh', '-c', 'read line; echo "got $line"; echo warn >&2; exit 3'].map((c) => `command=${encodeURIComponent(c)}`).join('&');
    const url = `${proxy.url.replace('https:', 'wss:')}/api/v1/namespaces/default/pods/web/exec?${command}&container=app&stdin=true&stdout=true&stderr=true`;
    const got = await wsSession(url, ['v4.base64.channel.k8s.io'], { ca: Buffer.from(ca, 'base64'), token, timeoutMs: 15_000, onOpen: (ws) => ws.send(`0${Buffer.from('typed\n').toString('base64')}`) });
    expect(got.protocol).toBe('v4.base64.channel.k8s.io');
    expect(got.close).toBe(1000);
    expect(got.messages.filter((m) => m.binary)).toEqual([]);
    const texts = got.messages.map((m) => m.data.toString('latin1'));
    const channel = (n: number) => texts.filter((m) => m[0] === String(n)).map((m) => Buffer.from(m.slice(1), 'base64').toString('utf8')).join('');
    expect(channel(1)).toBe('got typed\n');
    expect(channel(2)).toBe('warn\n');
    expect(JSON.parse(channel(3))).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    const s = await translatedSession('exec', seen);
    expectOneTranslatedCommand(s, 'v4.base64.channel.k8s.io', 'v4.channel.k8s.io');
    // The client leg is decoded as base64: its status carries the exit code, as upstream's does.
    const statuses = s.all.filter((e) => e.type === 'k8s.status') as (LoggedEvent & { exitCode?: number | null })[];
    expect(statuses.map((e) => [e.conn === s.client.conn ? 'client' : 'upstream', e.exitCode]).sort()).toEqual([['client', 3], ['upstream', 3]]);
  });
});
