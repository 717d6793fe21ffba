/**
 * `--audit` with real kubectl against the demo cluster: who, which pod, which command, every
 * byte and the exit code end up in a chain that `kubewire verify` accepts; `-it` sessions
 * replay byte for byte; stdin redaction; rotation with a key.
 */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditSessionEvent, AuditStartEvent, KubewireEvent } from '../../src/events/types.js';
import { logParts, stdoutDigests } from '../support/audit-records.js';
import { runCli } from '../support/cli.js';
import { expectValidLog } from '../support/event-log.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, kubectlEnv, kubectlPath, runKubectl } from '../support/kubectl.js';
import { KUBEWIRE_BIN, runThroughKubewire } from '../support/kubewire-run.js';
import { startProxyProcess, stopStartedProxies } from '../support/kubewire-proxy.js';
import { spawnKubectlInPty } from '../support/pty-kubectl.js';

const found = availableKubectls(['1.27', '1.33']);
const missing = found.length === 0;
if (missing) {
  const msg = 'kubectl 1.27/1.33 not found under /usr/lib/google-cloud-sdk/bin: skipping the audit tests with real kubectl';
  if (process.env['CI'] === 'true') throw new Error(msg);
  console.warn(msg);
}

describe.skipIf(missing)('kubewire --audit with real kubectl', () => {
  let t: TestCluster;
  beforeAll(async () => {
    t = await startTestCluster();
  });
  afterAll(async () => {
    await stopStartedProxies();
    await t?.stop();
  });

  it.each(found)('kubectl %s: records who, which pod, which command, the bytes and the exit code; verify says consistent (no key)', async (v) => {
    const log = join(t.dir, `exec-${v}.jsonl`);
    const r = await runThroughKubewire(v, ['exec', 'web', '--', 'sh', '-c', 'echo hello; echo oops >&2; exit 3'], { kubeconfig: t.kubeconfig, home: t.home, log, flags: ['--audit'] });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('hello\n');
    expect(r.stderr).toMatch(/kubewire: audit log .*exec-.*\.jsonl \(check it with: kubewire verify /);

    const evs = expectValidLog(log);
    expect(evs.every((e) => typeof e.hash === 'string' && typeof e.prev === 'string')).toBe(true);
    const start = evs[0] as KubewireEvent & AuditStartEvent;
    expect(start).toMatchObject({ type: 'audit.start', chain: { algorithm: 'sha256', keyId: null }, failMode: 'closed', redactStdin: 'none' });
    expect(start.identity).toMatchObject({ source: 'SelfSubjectReview', username: 'kubewire-demo-admin', groups: expect.arrayContaining(['system:masters']) });
    expect(start.cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+/);
    expect(start.os.host).toBeTruthy();
    expect(start.kubewire.version).toMatch(/^\d+\.\d+\.\d+/);

    const session = evs.find((e): e is KubewireEvent & AuditSessionEvent => e.type === 'audit.session' && e.operation === 'exec');
    expect(session).toMatchObject({
      kubectlVersion: expect.stringMatching(new RegExp(`^v${v.replace('.', '\\.')}\\.`)),
      kubectlCommand: 'kubectl exec',
      namespace: 'default', pod: 'web', command: ['sh', '-c', 'echo hello; echo oops >&2; exit 3'],
      tty: false, exitCode: 3, streams: { stdin: 0, stdout: 6, stderr: 5 }, endedBy: expect.stringMatching(/idle|proxy-stop/),
    });
    const seal = evs.find((e) => e.type === 'audit.seal' && e.scope === 'session' && e.session === session!.session);
    expect(seal).toBeDefined();
    expect(evs.at(-1)).toMatchObject({ type: 'audit.seal', scope: 'file', final: true, part: 1, count: evs.length - 1 });

    const verify = runCli(['verify', log]);
    expect(verify.stderr).toBe('');
    expect(verify.stdout).toMatch(/^consistent, unauthenticated: /);
    expect(verify.status).toBe(0);
  });

  it('an -it session replays byte for byte, and --redact-stdin echo-off keeps what was echoed but not a password typed at a no-echo prompt', async () => {
    const v = found.at(-1)!;
    const dir = t.dir;
    const log = join(dir, 'tty.jsonl');
    const p = await startProxyProcess({ kubeconfig: t.kubeconfig, log, writeKubeconfig: join(dir, 'tty.kubeconfig'), home: t.home, extraArgs: ['--audit', '--redact-stdin', 'echo-off'] });
    const k = spawnKubectlInPty(v, ['exec', '-it', 'web', '-c', 'app', '--', 'sh'], { kubeconfig: p.kubeconfig, home: t.home, cols: 100, rows: 30 });
    await k.waitFor(/web \(demo: ~ is the pod, \/ is this machine\)# $/);
    for (const ch of 'echo visible-words\r') k.write(ch);
    await k.waitFor(/visible-words\r?\n.*visible-words/s);
    for (const ch of 'stty -echo; read PW; stty echo; echo len=${#PW}\r') k.write(ch);
    await new Promise((r) => setTimeout(r, 300));
    for (const ch of 'hunter2-secret\r') {
      k.write(ch);
      await new Promise((r) => setTimeout(r, 5));
    }
    await k.waitFor(/len=14/);
    k.write('exit 7\r');
    expect(await k.exit()).toBe(7);
    const screen = k.output();
    await p.stop('SIGTERM');

    const evs = expectValidLog(log);
    const stdin = evs.filter((e) => e.type === 'k8s.data' && e.stream === 'stdin' && e.size > 0);
    const kept = stdin.filter((e) => e.type === 'k8s.data' && !e.redacted).map((e) => Buffer.from((e as { payload?: string }).payload ?? '', 'base64').toString()).join('');
    const redacted = stdin.filter((e) => e.type === 'k8s.data' && e.redacted === 'echo-off');
    expect(kept).toContain('echo visible-words');
    expect(kept).not.toMatch(/hunter2|secret/);
    expect(redacted.reduce((n, e) => n + (e as { size: number }).size, 0)).toBe('hunter2-secret'.length);
    expect(JSON.stringify(evs)).not.toContain(Buffer.from('hunter2').toString('base64').slice(0, 8));
    expect(runCli(['verify', log]).status).toBe(0);

    // What kubectl showed in its terminal is what the remote wrote on stdout, then kubectl's own
    // last line (its stderr shares the terminal); replay writes the same bytes again.
    const replay = await runReplay(['replay', log, '--speed', '1000']);
    expect(replay.code).toBe(7);
    expect(replay.stderr).toMatch(/exit code 7/);
    expect(screen.endsWith('command terminated with exit code 7\r\n')).toBe(true);
    expect(replay.stdout.toString('utf8')).toBe(screen.slice(0, -'command terminated with exit code 7\r\n'.length));
  });

  it('rotates at --max-size with the chain going on across files, keyed: verify needs the key', async () => {
    const v = found.at(-1)!;
    const dir = t.dir;
    const keyFile = join(dir, 'audit.key');
    writeFileSync(keyFile, createHash('sha256').update('a test key').digest('base64') + '\n', { mode: 0o600 });
    const p = await startProxyProcess({ kubeconfig: t.kubeconfig, log: join(dir, 'rot.jsonl'), writeKubeconfig: join(dir, 'rot.kubeconfig'), home: t.home, extraArgs: ['--audit', '--max-size', '64K', '--audit-key-file', keyFile] });
    for (let i = 0; i < 4; i++) {
      const r = await runKubectl(v, ['exec', 'web', '--', 'head', '-c', '100000', '/dev/zero'], { kubeconfig: p.kubeconfig, home: t.home });
      expect(r.code).toBe(0);
      expect(r.stdoutBytes.length).toBe(100_000);
    }
    await p.stop('SIGTERM');
    const parts = logParts(dir, 'rot');
    expect(parts.length).toBeGreaterThanOrEqual(4);
    // kubectl's 64 KiB messages are written in pieces: no file goes over --max-size.
    for (const part of parts) expect(statSync(part).size, part).toBeLessThanOrEqual(64 * 1024);
    const keyed = runCli(['verify', ...parts, '--key-file', keyFile]);
    expect(keyed.stdout).toMatch(/^intact: /);
    expect(keyed.status).toBe(0);
    expect(runCli(['verify', ...parts]).status).toBe(2);
    expect(runCli(['verify', parts[0]!, ...parts.slice(2), '--key-file', keyFile]).status).toBe(1);
  });

  it('20 concurrent sessions of 32 MiB each: the bytes logged equal the bytes relayed for every session', async () => {
    const v = found.at(-1)!;
    const dir = t.dir;
    const log = join(dir, 'load.jsonl');
    const p = await startProxyProcess({ kubeconfig: t.kubeconfig, log, writeKubeconfig: join(dir, 'load.kubeconfig'), home: t.home, extraArgs: ['--audit'] });
    const size = 32 * 1024 * 1024;
    const relayed = await Promise.all(Array.from({ length: 20 }, () => streamKubectl(v, ['exec', 'web', '--', 'head', '-c', String(size), '/dev/urandom'], p.kubeconfig, t.home)));
    await p.stop('SIGTERM', 60_000);
    for (const r of relayed) {
      expect(r.code).toBe(0);
      expect(r.bytes).toBe(size);
    }
    const logged = await stdoutDigests([log]);
    const loggedSet = new Set([...logged.values()].filter((d) => d.bytes === size).map((d) => d.sha256));
    for (const r of relayed) expect(loggedSet.has(r.sha256)).toBe(true);
    expect(loggedSet.size).toBe(20);
    const verify = runCli(['verify', log], { timeoutMs: 240_000 });
    expect(verify.status).toBe(0);
  }, 400_000);
});

/** kubectl with its stdout hashed as it streams (32 MiB × 20 stays out of memory). */
function streamKubectl(v: string, args: string[], kubeconfig: string, home: string): Promise<{ code: number | null; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath(v), args, { env: kubectlEnv({ kubeconfig, home }), stdio: ['ignore', 'pipe', 'inherit'] });
    const hash = createHash('sha256');
    let bytes = 0;
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, bytes, sha256: hash.digest('hex') });
    });
  });
}

/** `kubewire replay`, with its stdout as bytes. */
function runReplay(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KUBEWIRE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
}
