/**
 * `kubewire proxy` and `kubewire run` when something goes wrong: the upstream dies in the middle
 * of an exec, kubectl is killed in the middle of one, the upstream accepts TCP and never
 * answers, kubectl has the wrong token, the kubeconfig is broken, the log cannot be written.
 * Every time: a clear message, kubewire does not crash, and its JSONL log stays valid (every
 * line parses and validates against event.schema.json).
 *
 * Cases are judged by what kubewire and kubectl say and log, never by how long they took: each
 * time limit here is a safety net far above the expected time, and where a limit must also
 * tell a fault from the feature (kubectl's 61 s WebSocket heartbeat, a command's sleep), the
 * limit stays well below that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubewireEvent } from '../../src/events/types.js';
import { writeKubeconfig } from '../../src/kubeconfig/write-kubeconfig.js';
import { runCli } from '../support/cli.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { expectValidLog, ofType, readEvents, waitUntil } from '../support/event-log.js';
import { availableKubectls, kubectlEnv, kubectlPath, runKubectl, startKubectl } from '../support/kubectl.js';
import { startProxyProcess, stopStartedProxies } from '../support/kubewire-proxy.js';
import { KUBEWIRE_BIN, kubectlPart } from '../support/kubewire-run.js';

const V = '1.33';
const versions = availableKubectls([V]);

/** The safety net for a wait that ends on a condition (a line printed, an event logged, an exit). */
const SAFETY_MS = 60_000;
/**
 * The proxy's connect timeout (upstream.ts; `kubewire proxy` has no flag for it), which the
 * silent-upstream cases wait out, once or more.
 */
const CONNECT_TIMEOUT_MS = 10_000;

const root = mkdtempSync(join(tmpdir(), 'kubewire-faults-'));
let n = 0;
/** A fresh directory with a private HOME for kubectl. */
function fresh(name: string): { dir: string; home: string; log: string } {
  const dir = join(root, `${++n}-${name}`);
  mkdirSync(join(dir, 'home'), { recursive: true });
  return { dir, home: join(dir, 'home'), log: join(dir, 'kubewire.jsonl') };
}

afterAll(async () => {
  await stopStartedProxies();
  rmSync(root, { recursive: true, force: true });
});

/** Resolves with the exit code once `child` has exited, or 'running' after `ms`. */
function exitWithin(child: ChildProcess, ms: number): Promise<number | null | 'running'> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('running'), ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** Processes whose command line contains `marker` (the demo cluster runs exec commands as local processes). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(marker)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

interface KubewireResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** False when it was still running at `boundMs` and had to be stopped. */
  selfExited: boolean;
}

/** Runs bin/kubewire.js; at `boundMs` it gets SIGTERM (passed on to its command), 3 s later SIGKILL. */
function runKubewire(args: string[], opts: { home: string; boundMs: number }): Promise<KubewireResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [KUBEWIRE_BIN, ...args], { env: kubectlEnv({ kubeconfig: '/nonexistent', home: opts.home }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let selfExited = true;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killer: NodeJS.Timeout | undefined;
    const bound = setTimeout(() => {
      selfExited = false;
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 3000);
    }, opts.boundMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(bound);
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started, selfExited });
    });
  });
}

describe.skipIf(versions.length === 0)('faults during a stream', () => {
  it('the upstream is killed mid-stream: kubectl fails without waiting for its heartbeat, the proxy stays up and explains later requests', async () => {
    const { dir, home, log } = fresh('upstream-killed');
    const t: TestCluster = await startTestCluster();
    let clusterUp = true;
    try {
      const upstreamUrl = t.cluster.url;
      const p = await startProxyProcess({ kubeconfig: t.kubeconfig, log, writeKubeconfig: join(dir, 'proxy.kubeconfig'), home });
      const marker = `kw-upstream-killed-${randomBytes(4).toString('hex')}`;
      const k = startKubectl(V, ['exec', 'web', '--', 'sh', '-c', `echo started; sleep 30; echo ${marker}`], { kubeconfig: p.kubeconfig, home, timeoutMs: 3 * SAFETY_MS });
      try {
        await k.waitFor(/started/, SAFETY_MS);
        await t.stop();
        clusterUp = false;
        // Unless the proxy closes kubectl's side, only kubectl's own heartbeat (61 s without a
        // pong) would end it: a 45 s limit is far above the expected instant and still below that.
        const code = await exitWithin(k.child, 45_000);
        expect(code, `kubectl still running 45 s after the upstream died; stderr: ${k.errors()}`).not.toBe('running');
        expect(code).not.toBe(0);
        expect(k.errors()).toMatch(/error/i);
        expect(k.output()).not.toContain(marker);
      } finally {
        await k.stop();
      }

      expect(p.alive(), `kubewire proxy died; stderr: ${p.stderr()}`).toBe(true);
      // The discovery cache from the exec lets `get pods` go straight to the list request.
      const later = await runKubectl(V, ['get', 'pods'], { kubeconfig: p.kubeconfig, home, timeoutMs: SAFETY_MS });
      expect(later.code).not.toBe(0);
      expect(later.stderr).toContain(`kubewire: cannot reach the API server ${upstreamUrl}`);
      expect(later.stderr).toMatch(/connection refused/);
      expect(p.alive(), `kubewire proxy died; stderr: ${p.stderr()}`).toBe(true);

      const exit = await p.stop('SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
      expect(p.stderr()).toBe('');
      const events = expectValidLog(log);
      expect(events.at(-1)?.type).toBe('proxy.stop');
      expect(events.at(-1)).toMatchObject({ reason: 'SIGTERM' });

      const upgrade = ofType(events, 'upgrade.request').find((e) => JSON.stringify(e).includes(marker));
      expect(upgrade, 'the exec reached the log').toBeDefined();
      const closed = ofType(events, 'conn.close').find((e) => e.conn === upgrade!.conn);
      expect(closed, 'conn.close of the exec').toBeDefined();
      expect(closed!.closedBy).toBe('upstream');
      const errors = ofType(events, 'proxy.error');
      expect(errors.length).toBeGreaterThan(0);
      for (const e of errors) {
        expect(e).toMatchObject({ code: 'KW_ERR_UPSTREAM_REFUSED', status: 502 });
        expect(e.message).toContain(upstreamUrl);
      }
    } finally {
      if (clusterUp) await t.stop();
    }
  }, 5 * SAFETY_MS);

  it('kubectl is killed mid-stream: the proxy closes both sides, stops the command upstream and serves the next command', async () => {
    const { dir, home, log } = fresh('kubectl-killed');
    const t = await startTestCluster();
    try {
      const p = await startProxyProcess({ kubeconfig: t.kubeconfig, log, writeKubeconfig: join(dir, 'proxy.kubeconfig'), home });
      const marker = `kw-kubectl-killed-${randomBytes(4).toString('hex')}`;
      // The command would end by itself only after its sleep, far beyond every wait below, so
      // a conn.close or a stopped command before then comes from kubewire passing the close on.
      const k = startKubectl(V, ['exec', 'web', '--', 'sh', '-c', `echo started; sleep 300; echo ${marker}`], { kubeconfig: p.kubeconfig, home, timeoutMs: 3 * SAFETY_MS });
      let conn: string;
      try {
        await k.waitFor(/started/, SAFETY_MS);
        conn = (await waitUntil('the exec in the log', () => ofType(readEvents(log), 'upgrade.request').find((e) => JSON.stringify(e).includes(marker)), SAFETY_MS)).conn!;
        const onUpstream = (): number[] => processesWith(marker).filter((pid) => pid !== k.child.pid);
        expect(onUpstream().length, 'the command runs on the upstream').toBeGreaterThan(0);
        k.child.kill('SIGKILL');
        const closed = await waitUntil('conn.close of the killed exec', () => ofType(readEvents(log), 'conn.close').find((e) => e.conn === conn), SAFETY_MS);
        expect(closed.closedBy).toBe('client');
        // The upstream saw its connection close and stopped the command.
        await waitUntil('the command to be stopped on the upstream', () => (onUpstream().length === 0 ? true : undefined), SAFETY_MS);
      } finally {
        await k.stop();
      }

      expect(p.alive(), `kubewire proxy died; stderr: ${p.stderr()}`).toBe(true);
      const next = await runKubectl(V, ['exec', 'web', '--', 'echo', 'next'], { kubeconfig: p.kubeconfig, home, timeoutMs: SAFETY_MS });
      expect(next.stdout).toBe('next\n');
      expect(next.code).toBe(0);

      const exit = await p.stop('SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
      const events = expectValidLog(log);
      expect(events.at(-1)?.type).toBe('proxy.stop');
      const summaries = ofType(events, 'conn.summary');
      expect(summaries.find((e) => e.conn === conn), 'the killed exec still has its summary').toBeDefined();
      expect(summaries.some((e) => e.summary.exitCode === 0 && e.summary.streams['stdout']?.bytes === 5)).toBe(true);
    } finally {
      await t.stop();
    }
  }, 6 * SAFETY_MS);
});

describe.skipIf(versions.length === 0)('an upstream that accepts TCP and never answers', () => {
  let silent: net.Server;
  const sockets = new Set<net.Socket>();
  let kubeconfig: string;
  let upstreamUrl: string;

  beforeAll(async () => {
    silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    upstreamUrl = `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    kubeconfig = join(root, 'silent.kubeconfig');
    writeFileSync(kubeconfig, [
      'apiVersion: v1', 'kind: Config',
      'clusters:', '- name: silent', '  cluster:', `    server: ${upstreamUrl}`, '    insecure-skip-tls-verify: true',
      'users:', '- name: someone', '  user:', '    token: not-a-real-token',
      'contexts:', '- name: silent', '  context:', '    cluster: silent', '    user: someone',
      'current-context: silent', '',
    ].join('\n'));
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent?.close(() => r()));
  });

  // kubectl's own limit, so that it never gives up before kubewire answers.
  const REQUEST_TIMEOUT = '--request-timeout=100s';
  /** Far beyond the one or two connect timeouts a run waits out, and beyond kubectl's own limit. */
  const RUN_BOUND_MS = 150_000;

  /** Each proxy.error that waited for its dial: the time from its conn.open, by the proxy's own clock. */
  const waitedOut = (events: KubewireEvent[]): number[] => ofType(events, 'proxy.error').map((e) => {
    const opened = ofType(events, 'conn.open').find((o) => o.conn === e.conn)!;
    return Date.parse(e.ts!) - Date.parse(opened.ts!);
  });

  // Each waits out the connect timeout, so they run side by side.
  it.concurrent('one request (get --raw): after the connect timeout, kubectl prints kubewire\'s Status naming the upstream', async () => {
    const { home, log } = fresh('silent-raw');
    const r = await runKubewire(['run', '--kubeconfig', kubeconfig, '--log', log, '--', kubectlPath(V), 'get', '--raw', '/api/v1/namespaces/default/pods', REQUEST_TIMEOUT], { home, boundMs: RUN_BOUND_MS });
    expect(r.selfExited, `still running after ${RUN_BOUND_MS} ms; stderr: ${r.stderr}`).toBe(true);
    expect(r.code).not.toBe(0);
    const kubectlSaid = kubectlPart(r.stderr);
    expect(kubectlSaid).toContain(`Error from server (BadGateway): kubewire: cannot reach the API server ${upstreamUrl}`);
    expect(kubectlSaid).toContain(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`);
    const events = expectValidLog(log);
    expect(events.at(-1)?.type).toBe('proxy.stop');
    const errors = ofType(events, 'proxy.error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'KW_ERR_UPSTREAM_TIMEOUT', status: 502 });
    expect(errors[0]!.message).toContain(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`);
    // No sooner than its timeout, by the proxy's own clock; a loaded machine can only make it later.
    expect(waitedOut(events)[0]).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 100);
  }, RUN_BOUND_MS + SAFETY_MS);

  it.concurrent('kubectl get pods: kubectl shows kubewire\'s Status naming the upstream and exits non-zero', async () => {
    // Unlike `get --raw`, `get pods` starts with discovery (GET /api, /apis), which kubectl reads
    // with Result.Raw(): a JSON Status there is not decoded, and kubectl repeats discovery.
    const { home, log } = fresh('silent-get-pods');
    const r = await runKubewire(['run', '--kubeconfig', kubeconfig, '--log', log, '--', kubectlPath(V), 'get', 'pods', REQUEST_TIMEOUT], { home, boundMs: RUN_BOUND_MS });
    // The log is valid however the run ended.
    const events = expectValidLog(log);
    expect(events.at(-1)?.type).toBe('proxy.stop');
    const errors = ofType(events, 'proxy.error');
    const kubectlSaid = kubectlPart(r.stderr);
    const context = `after ${r.elapsedMs} ms (${r.selfExited ? 'exited' : `still running at ${RUN_BOUND_MS} ms, stopped`}), with ${errors.length} proxy.error, kubectl printed:\n${kubectlSaid}`;
    expect(errors.length, context).toBeGreaterThan(0);
    for (const e of errors) expect(e).toMatchObject({ code: 'KW_ERR_UPSTREAM_TIMEOUT', status: 502 });
    // The first requests wait out the timeout; the repeats right after are answered at once.
    expect(Math.max(...waitedOut(events)), context).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 100);
    expect(kubectlSaid, context).toContain(`kubewire: cannot reach the API server ${upstreamUrl}`);
    expect(kubectlSaid, context).toContain(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`);
    expect(r.selfExited, context).toBe(true);
    expect(r.code).not.toBe(0);
  }, RUN_BOUND_MS + SAFETY_MS);

  it.concurrent('SIGTERM while a request waits for the upstream: the proxy stops with exit 0, without waiting for the dial', async () => {
    const { dir, home, log } = fresh('silent-sigterm');
    const p = await startProxyProcess({ kubeconfig, log, writeKubeconfig: join(dir, 'proxy.kubeconfig'), home });
    const k = startKubectl(V, ['get', '--raw', '/api/v1/namespaces/default/pods', REQUEST_TIMEOUT], { kubeconfig: p.kubeconfig, home, timeoutMs: 3 * SAFETY_MS });
    try {
      await waitUntil('the request in the log', () => (ofType(readEvents(log), 'http.request').length > 0 ? true : undefined), SAFETY_MS);
      const before = readEvents(log);
      const exit = await p.stop('SIGTERM', SAFETY_MS);
      const events = expectValidLog(log);
      expect(events.at(-1)).toMatchObject({ type: 'proxy.stop', reason: 'SIGTERM' });
      expect(exit).toEqual({ code: 0, signal: null });
      // Had the proxy waited for the dial before stopping, the dial's timeout would be in the log
      // ahead of proxy.stop.
      expect(ofType(before, 'proxy.error'), 'the dial had already timed out when SIGTERM was sent').toEqual([]);
      expect(ofType(events, 'proxy.error'), 'the proxy waited for the dial before it stopped').toEqual([]);
    } finally {
      await k.stop();
    }
  }, 3 * SAFETY_MS);
});

describe.skipIf(versions.length === 0)('a wrong token', () => {
  it('kubectl with a wrong token is told to log in, and nothing reaches the upstream', async () => {
    const { dir, home, log } = fresh('wrong-token');
    const t = await startTestCluster();
    try {
      const p = await startProxyProcess({ kubeconfig: t.kubeconfig, log, writeKubeconfig: join(dir, 'proxy.kubeconfig'), home });
      const good = readFileSync(p.kubeconfig, 'utf8');
      expect(good).toMatch(/token: "[^"]+"/);
      const wrong = join(dir, 'wrong.kubeconfig');
      writeFileSync(wrong, good.replace(/token: "[^"]+"/, 'token: "wrong-token-0123456789"'), { mode: 0o600 });
      const get = await runKubectl(V, ['get', 'pods'], { kubeconfig: wrong, home, timeoutMs: 30_000 });
      expect(get.code).toBe(1);
      expect(get.stderr).toContain('error: You must be logged in to the server');
      const exec = await runKubectl(V, ['exec', 'web', '--', 'echo', 'hi'], { kubeconfig: wrong, home, timeoutMs: 30_000 });
      expect(exec.code).toBe(1);
      expect(exec.stderr).toContain('error: You must be logged in to the server');
      expect(p.alive()).toBe(true);
      expect(await p.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      const events = expectValidLog(log);
      expect(events.map((e) => e.type)).toEqual(['proxy.start', 'proxy.stop']);
      expect(ofType(events, 'conn.open')).toHaveLength(0);
      expect(events.at(-1)).toMatchObject({ type: 'proxy.stop', connections: 0 });
    } finally {
      await t.stop();
    }
  });
});

describe('a kubeconfig kubewire cannot use', () => {
  let valid: string;
  beforeAll(async () => {
    valid = join(root, 'two-contexts.kubeconfig');
    await writeKubeconfig(valid, { server: 'https://127.0.0.1:1', caCertPem: 'not a certificate', token: 't', name: 'prod-eu' });
    // A second context, so the list of known contexts has two names.
    writeFileSync(valid, readFileSync(valid, 'utf8').replace('contexts:\n', 'contexts:\n- name: "staging"\n  context:\n    cluster: "prod-eu"\n    user: "prod-eu"\n'));
  });

  /** Runs `kubewire proxy` and checks it exited 2 with exactly one line on stderr, having listened nowhere. */
  function proxyFails(args: string[]): string {
    const { dir, log } = fresh('bad-kubeconfig');
    const out = join(dir, 'proxy.kubeconfig');
    const r = runCli(['proxy', ...args, '--log', log, '--no-tui', '--write-kubeconfig', out], { timeoutMs: 20_000, env: { HOME: dir, XDG_STATE_HOME: dir } });
    expect(r.status, `stderr: ${r.stderr}`).toBe(2);
    expect(r.stdout).not.toContain('listening');
    expect(existsSync(out), 'no kubeconfig written').toBe(false);
    expect(existsSync(log), 'no log begun').toBe(false);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines, `one line on stderr, got:\n${r.stderr}`).toHaveLength(1);
    expect(lines[0]).toMatch(/^kubewire: .* \[KW_ERR_[A-Z_]+\]$/);
    return lines[0]!;
  }

  it('a file that is not YAML: one line naming the file', () => {
    const bad = join(root, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: v1\nclusters:\n- name: a\n   cluster: [\n');
    const line = proxyFails(['--kubeconfig', bad]);
    expect(line).toContain(bad);
    expect(line).toContain('not valid YAML');
    expect(line).toContain('KW_ERR_KUBECONFIG_PARSE');
  });

  it('a YAML file that is not a kubeconfig: one line naming the file', () => {
    const bad = join(root, 'scalar.yaml');
    writeFileSync(bad, 'just a string\n');
    const line = proxyFails(['--kubeconfig', bad]);
    expect(line).toContain(bad);
    expect(line).toContain('KW_ERR_KUBECONFIG_PARSE');
  });

  it('a missing file', () => {
    const missing = join(root, 'does-not-exist.yaml');
    const line = proxyFails(['--kubeconfig', missing]);
    expect(line).toContain(missing);
    expect(line).toContain('does not exist');
    expect(line).toContain('KW_ERR_KUBECONFIG_NOT_FOUND');
  });

  it('a context that does not exist: lists the known contexts', () => {
    const line = proxyFails(['--kubeconfig', valid, '--context', 'nope']);
    expect(line).toContain('"nope"');
    expect(line).toContain(valid);
    expect(line).toMatch(/known contexts: ("prod-eu", "staging"|"staging", "prod-eu")/);
    expect(line).toContain('KW_ERR_KUBECONFIG_UNKNOWN_CONTEXT');
  });
});

describe('a log kubewire cannot write', () => {
  let kubeconfig: string;
  beforeAll(async () => {
    kubeconfig = join(root, 'log-test.kubeconfig');
    await writeKubeconfig(kubeconfig, { server: 'https://127.0.0.1:1', caCertPem: 'not a certificate', token: 't' });
  });

  const regularFile = (): string => {
    const f = join(root, 'a-regular-file');
    writeFileSync(f, 'x');
    return join(f, 'x.jsonl');
  };

  for (const [name, path, cause] of [
    ['a path under /proc', () => '/proc/kubewire/x.jsonl', /no such file or directory|permission denied/],
    ['a path under a regular file', regularFile, /a part of the path is a file, not a directory \(ENOTDIR\)/],
  ] as const) {
    it(`proxy --log with ${name}: non-zero exit, one clear line, nothing listening`, () => {
      const { dir } = fresh('bad-log');
      const out = join(dir, 'proxy.kubeconfig');
      const log = path();
      const r = runCli(['proxy', '--kubeconfig', kubeconfig, '--log', log, '--no-tui', '--write-kubeconfig', out], { timeoutMs: 20_000, env: { HOME: dir, XDG_STATE_HOME: dir } });
      expect(r.status, `stderr: ${r.stderr}`).not.toBe(0);
      expect(r.status).not.toBeNull();
      expect(r.stdout).not.toContain('listening');
      expect(r.stdout).not.toContain('export KUBECONFIG');
      expect(existsSync(out), 'no kubeconfig for clients was written').toBe(false);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toContain(`cannot write the log ${log}`);
      expect(lines[0]).toMatch(cause);
      expect(lines[0]).toContain('[KW_ERR_LOG_UNWRITABLE]');
    });

    it(`run --log with ${name}: non-zero exit, one clear line, the command never runs`, () => {
      const { dir } = fresh('bad-log-run');
      const ran = join(dir, 'ran');
      const log = path();
      const r = runCli(['run', '--kubeconfig', kubeconfig, '--log', log, '--', 'touch', ran], { timeoutMs: 20_000, env: { HOME: dir, XDG_STATE_HOME: dir } });
      expect(r.status, `stderr: ${r.stderr}`).not.toBe(0);
      expect(r.status).not.toBeNull();
      expect(existsSync(ran), 'the command did not run').toBe(false);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toContain(`cannot write the log ${log}`);
      expect(lines[0]).toContain('[KW_ERR_LOG_UNWRITABLE]');
    });
  }
});
