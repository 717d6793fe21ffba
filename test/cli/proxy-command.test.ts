/**
 * `kubewire proxy` and `kubewire run` as a user meets them: the help, the kubeconfig written
 * for kubectl (0600, the original context name and namespace, the proxy's URL and its own
 * token), the token check, secrets kept out of the log, the three payload modes, the listen
 * address, SIGINT, and the exit codes of `run` without a usable command.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubewireEvent } from '../../src/events/types.js';
import { writeKubeconfig } from '../../src/kubeconfig/write-kubeconfig.js';
import { loadUpstream } from '../../src/proxy/kubeconfig-upstream.js';
import { runCli } from '../support/cli.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { expectValidLog, ofType, readEvents, type EventOf } from '../support/event-log.js';
import { availableKubectls, runKubectl } from '../support/kubectl.js';
import { startProxyProcess, stopStartedProxies, type ProxyProcess } from '../support/kubewire-proxy.js';
import { runThroughKubewire } from '../support/kubewire-run.js';
import { waitForText } from '../support/wait.js';

const V = '1.33';
const versions = availableKubectls([V]);

const root = mkdtempSync(join(tmpdir(), 'kubewire-proxy-cli-'));
let n = 0;
function fresh(name: string): { dir: string; home: string; log: string } {
  const dir = join(root, `${++n}-${name}`);
  mkdirSync(join(dir, 'home'), { recursive: true });
  return { dir, home: join(dir, 'home'), log: join(dir, 'kubewire.jsonl') };
}

let t: TestCluster | undefined;
/** The upstream kubeconfig: the demo cluster under a distinctive context name and namespace. */
let upstreamKubeconfig: string;

beforeAll(async () => {
  t = await startTestCluster();
  upstreamKubeconfig = join(root, 'upstream.kubeconfig');
  await writeKubeconfig(upstreamKubeconfig, { server: t.cluster.url, caCertPem: t.cluster.caCertPem, token: t.cluster.token, name: 'prod-eu', namespace: 'team-a' });
});

afterAll(async () => {
  await stopStartedProxies();
  await t?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** The bearer token of a kubeconfig kubewire wrote (the writer double-quotes every value). */
function tokenOf(kubeconfig: string): string {
  const m = /^\s+token: "([^"]+)"$/m.exec(readFileSync(kubeconfig, 'utf8'));
  if (!m) throw new Error(`no token in ${kubeconfig}`);
  return m[1]!;
}

/** A GET to the proxy, certificate not checked; resolves with the status and body. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, headers, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** A WebSocket exec upgrade written by hand; resolves with the first line of the answer. */
function upgradeStatusLine(proxyUrl: string, headers: string[]): Promise<string> {
  const u = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      s.write([
        'GET /api/v1/namespaces/default/pods/web/exec?command=echo&command=hi&container=app&stdout=true HTTP/1.1',
        `Host: ${u.host}`, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol: v5.channel.k8s.io', ...headers, '', '',
      ].join('\r\n'));
    });
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer to the upgrade; got ${JSON.stringify(got)}`));
    }, 10_000);
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const eol = got.indexOf('\r\n');
      if (eol >= 0) {
        clearTimeout(timer);
        s.destroy();
        resolve(got.slice(0, eol));
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe('kubewire proxy --help', () => {
  it('lists the flags', () => {
    const r = runCli(['proxy', '--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--kubeconfig', '--context', '--listen', '--log', '--payload', '--write-kubeconfig', '--no-tui']) {
      expect(r.stdout, flag).toContain(flag);
    }
    for (const mode of ['full', 'head', 'none']) expect(r.stdout).toContain(`"${mode}"`);
  });
});

describe.skipIf(versions.length === 0)('a running kubewire proxy', () => {
  let p: ProxyProcess;
  let log: string;
  let home: string;
  let written: string;

  beforeAll(async () => {
    const f = fresh('running');
    log = f.log;
    home = f.home;
    // In a directory that does not exist yet: kubewire creates it.
    written = join(f.dir, 'not-yet', 'proxy.kubeconfig');
    p = await startProxyProcess({ kubeconfig: upstreamKubeconfig, log, writeKubeconfig: written, home, listen: '127.0.0.1:0' });
  });

  afterAll(async () => {
    await p?.stop('SIGTERM');
  });

  it('prints export KUBECONFIG=<file>; --listen 127.0.0.1:0 picked a port', () => {
    expect(p.kubeconfig).toBe(written);
    expect(p.stdout()).toContain(`  export KUBECONFIG=${written}\n`);
    expect(p.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(p.url).port);
    expect(port).toBeGreaterThan(0);
    expect(p.stdout()).toContain(`forwarding to ${t!.cluster.url} (context prod-eu)`);
  });

  it('the kubeconfig is 0600, keeps the context name and namespace, points at the proxy, and has its own token', async () => {
    expect(statSync(written).mode & 0o777).toBe(0o600);
    const client = await loadUpstream({ kubeconfig: written, env: {} });
    expect(client.contextName).toBe('prod-eu');
    expect(client.namespace).toBe('team-a');
    expect(client.server.origin).toBe(p.url);
    const token = tokenOf(written);
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(token).not.toBe(t!.cluster.token);
    expect(readFileSync(written, 'utf8')).not.toContain(t!.cluster.token);
    // kubectl reads it the same way.
    const ctx = await runKubectl(V, ['config', 'current-context'], { kubeconfig: written, home });
    expect(ctx.stdout).toBe('prod-eu\n');
    const ns = await runKubectl(V, ['config', 'view', '--minify', '-o', 'jsonpath={.contexts[0].context.namespace} {.clusters[0].cluster.server}'], { kubeconfig: written, home });
    expect(ns.stdout).toBe(`team-a ${p.url}`);
  });

  it('kubectl works through it, in the context\'s namespace by default', async () => {
    const pods = await runKubectl(V, ['get', 'pods', '-n', 'default'], { kubeconfig: written, home, timeoutMs: 30_000 });
    expect(pods.code, pods.stderr).toBe(0);
    expect(pods.stdout).toContain('web');
    const teamA = await runKubectl(V, ['get', 'pods'], { kubeconfig: written, home, timeoutMs: 30_000 });
    expect(teamA.code, teamA.stderr).toBe(0);
    expect(teamA.stderr).toContain('No resources found in team-a namespace.');
    const exec = await runKubectl(V, ['exec', '-n', 'default', 'web', '-c', 'app', '--', 'echo', 'through'], { kubeconfig: written, home, timeoutMs: 30_000 });
    expect(exec.stdout).toBe('through\n');
    expect(exec.code).toBe(0);
  });

  it('prints one line per kubectl exec once its session settled, and none for kubectl get', async () => {
    const marker = randomBytes(4).toString('hex');
    const exec = await runKubectl(V, ['exec', '-n', 'default', 'web', '-c', 'app', '--', 'sh', '-c', `: ${marker}; exit 3`], { kubeconfig: written, home, timeoutMs: 30_000 });
    expect(exec.code).toBe(3);
    const get = await runKubectl(V, ['get', 'pods', '-n', 'default'], { kubeconfig: written, home, timeoutMs: 30_000 });
    expect(get.code, get.stderr).toBe(0);
    const line = new RegExp(`^\\d\\d:\\d\\d:\\d\\d exec default/web/app \\[sh -c : ${marker}; exit 3\\] websocket v5\\.channel\\.k8s\\.io exit 3 ↑\\S+ \\S+ ↓\\S+ \\S+ \\d+ ms$`, 'm');
    await waitForText(() => p.stdout(), line, 15_000, () => p.alive());
    expect(p.stdout().match(new RegExp(marker, 'g'))).toHaveLength(1);
    expect(p.stdout()).not.toMatch(/^\d\d:\d\d:\d\d rest /m);
  });

  it('requests without the proxy\'s token get 401, and never reach the upstream', async () => {
    const before = ofType(readEvents(log), 'conn.open').length;
    for (const headers of [{} as Record<string, string>, { Authorization: 'Bearer wrong' }, { Authorization: `Bearer ${t!.cluster.token}` }, { Authorization: `Basic ${Buffer.from(`x:${tokenOf(written)}`).toString('base64')}` }]) {
      const r = await get(`${p.url}/api/v1/namespaces/default/pods`, headers);
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(JSON.parse(r.body)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
    }
    expect(await upgradeStatusLine(p.url, [])).toMatch(/^HTTP\/1\.1 401 /);
    expect(await upgradeStatusLine(p.url, [`Authorization: Bearer ${t!.cluster.token}`])).toMatch(/^HTTP\/1\.1 401 /);
    // With the token, the same requests go through.
    expect((await get(`${p.url}/api/v1/namespaces/default/pods`, { Authorization: `Bearer ${tokenOf(written)}` })).status).toBe(200);
    expect(await upgradeStatusLine(p.url, [`Authorization: Bearer ${tokenOf(written)}`])).toMatch(/^HTTP\/1\.1 101 /);
    await new Promise((r) => setTimeout(r, 300));
    expect(ofType(readEvents(log), 'conn.open').length - before).toBe(2);
  });

  it('neither the upstream\'s token nor the proxy\'s appears anywhere in the log', async () => {
    // Some of every kind of traffic first, including a SPDY exec (the token is a header there too).
    const spdy = await runKubectl(V, ['exec', '-n', 'default', 'web', '-c', 'app', '--', 'echo', 'spdy'], { kubeconfig: written, home, env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }, timeoutMs: 30_000 });
    expect(spdy.stdout).toBe('spdy\n');
    await new Promise((r) => setTimeout(r, 300));
    const text = readFileSync(log, 'utf8');
    expect(text.length).toBeGreaterThan(1000);
    expect(text).not.toContain(t!.cluster.token);
    expect(text).not.toContain(tokenOf(written));
    expect(text).toContain('<redacted>');
  });
});

describe.skipIf(versions.length === 0)('--payload', () => {
  const STDOUT_BYTES = 200 * 1024;

  /** One exec printing 200 KiB of random bytes through a proxy with `mode`, stopped with SIGINT. */
  async function bigExec(mode: 'full' | 'head' | 'none'): Promise<{ stdout: Buffer; events: KubewireEvent[]; data: EventOf<'k8s.data'>[] }> {
    const { dir, home, log } = fresh(`payload-${mode}`);
    const p = await startProxyProcess({ kubeconfig: upstreamKubeconfig, log, writeKubeconfig: join(dir, 'proxy.kubeconfig'), home, payload: mode });
    expect(p.stdout()).toContain(`(payload ${mode})`);
    const marker = randomBytes(4).toString('hex');
    const r = await runKubectl(V, ['exec', '-n', 'default', 'web', '-c', 'app', '--', 'sh', '-c', `head -c ${STDOUT_BYTES} /dev/urandom; : ${marker}`], { kubeconfig: p.kubeconfig, home, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes.length).toBe(STDOUT_BYTES);

    // SIGINT, as Ctrl-C: exit 0, and proxy.stop is the last line.
    expect(await p.stop('SIGINT')).toEqual({ code: 0, signal: null });
    const events = expectValidLog(log);
    expect(events.at(-1)).toMatchObject({ type: 'proxy.stop', reason: 'SIGINT', dropped: 0 });
    expect(events[0]).toMatchObject({ type: 'proxy.start', payloadMode: mode });
    expect(ofType(events, 'sink.dropped')).toHaveLength(0);
    const conn = ofType(events, 'upgrade.request').find((e) => JSON.stringify(e).includes(marker))?.conn;
    expect(conn).toBeDefined();
    const data = ofType(events, 'k8s.data').filter((e) => e.conn === conn && e.dir === 's2c' && e.stream === 'stdout');
    expect(data.reduce((sum, e) => sum + e.size, 0)).toBe(STDOUT_BYTES);
    // Whatever is recorded, the summary counts every byte; it hashes them only for an audit log.
    const summary = ofType(events, 'conn.summary').find((e) => e.conn === conn)!.summary;
    expect(summary.streams['stdout']).toEqual({ bytes: STDOUT_BYTES, sha256: null });
    return { stdout: r.stdoutBytes, events, data };
  }

  it('full: every byte of a 200 KiB stdout is in the k8s.data events, none dropped', async () => {
    const { stdout, data } = await bigExec('full');
    for (const e of data) {
      expect(e.truncated).toBeUndefined();
      expect(Buffer.from(e.payload ?? '', 'base64').length).toBe(e.size);
    }
    expect(Buffer.concat(data.map((e) => Buffer.from(e.payload ?? '', 'base64'))).equals(stdout)).toBe(true);
  });

  it('head: each payload keeps its first 256 bytes', async () => {
    const { stdout, data } = await bigExec('head');
    let offset = 0;
    let truncated = 0;
    for (const e of data) {
      const kept = Buffer.from(e.payload ?? '', 'base64');
      expect(kept.length).toBe(Math.min(e.size, 256));
      expect(kept.equals(stdout.subarray(offset, offset + kept.length)), `payload at stdout offset ${offset}`).toBe(true);
      if (e.size > 256) {
        expect(e.truncated).toBe(true);
        truncated++;
      } else expect(e.truncated).toBeUndefined();
      offset += e.size;
    }
    expect(truncated).toBeGreaterThan(0);
  });

  it('none: only sizes', async () => {
    const { events, data } = await bigExec('none');
    for (const e of data) {
      expect(e.payload).toBeUndefined();
      if (e.size > 0) expect(e.truncated).toBe(true);
    }
    // Every event that carries message bytes records only their size (control frames keep their
    // at most 125 bytes of close code and reason: protocol, not payload).
    const carriers = new Set(['k8s.data', 'ws.data', 'pf.data', 'http.body']);
    const withBytes = events.filter((e) => carriers.has(e.type));
    expect(withBytes.length).toBeGreaterThan(data.length);
    for (const e of withBytes) expect('payload' in e, `${e.type} #${e.seq}`).toBe(false);
  });
});

describe.skipIf(versions.length === 0)('kubewire run', () => {
  it('prints the kubectl command\'s line on stderr once it exited, then the log', async () => {
    const { home, log } = fresh('run-lines');
    const r = await runThroughKubewire(V, ['exec', '-n', 'default', 'web', '-c', 'app', '--', 'sh', '-c', 'echo hi; exit 3'], { kubeconfig: upstreamKubeconfig, home, log });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('hi\n');
    const ours = r.stderr.split('\n').filter((l) => l.startsWith('kubewire: '));
    expect(ours).toEqual([
      expect.stringMatching(/^kubewire: \d\d:\d\d:\d\d exec default\/web\/app \[sh -c echo hi; exit 3\] websocket v5\.channel\.k8s\.io exit 3 ↑\S+ \S+ ↓\S+ \S+ \d+ ms$/),
      `kubewire: log ${log}`,
    ]);
  });
});

describe.skipIf(versions.length === 0)('kubewire run without a usable command', () => {
  it('a command that does not exist: exit 127 and a clear message', () => {
    const { dir, log } = fresh('run-missing');
    const r = runCli(['run', '--kubeconfig', upstreamKubeconfig, '--log', log, '--', 'kubewire-no-such-command', 'arg'], { timeoutMs: 20_000, env: { HOME: dir, XDG_STATE_HOME: dir } });
    expect(r.status).toBe(127);
    expect(r.stderr).toContain('kubewire: cannot run kubewire-no-such-command: command not found [KW_ERR_COMMAND_NOT_FOUND]');
    const events = expectValidLog(log);
    expect(events.at(-1)?.type).toBe('proxy.stop');
  });

  it('no command at all: exit 2', () => {
    for (const args of [['run', '--kubeconfig', upstreamKubeconfig], ['run', '--kubeconfig', upstreamKubeconfig, '--']]) {
      const r = runCli(args, { timeoutMs: 20_000, env: { HOME: root, XDG_STATE_HOME: root } });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain("missing required argument 'command'");
    }
  });
});

describe('an upstream that cannot be reached at start', () => {
  it('says so in one line before serving, and serves anyway', async () => {
    const { dir, home, log } = fresh('unreachable');
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const kubeconfig = join(dir, 'unreachable.kubeconfig');
    await writeKubeconfig(kubeconfig, { server: `https://127.0.0.1:${port}`, caCertPem: t!.cluster.caCertPem, token: 't', name: 'gone' });
    const p = await startProxyProcess({ kubeconfig, log, writeKubeconfig: join(dir, 'client.kubeconfig'), home });
    try {
      await waitForText(() => p.stderr(), /serving anyway/, 10_000);
      expect(p.stderr().trim()).toBe(`kubewire: warning: cannot reach the API server https://127.0.0.1:${port}: connection refused (ECONNREFUSED); serving anyway`);
      expect(p.alive()).toBe(true);
    } finally {
      await p.stop('SIGTERM');
    }
  });
});
