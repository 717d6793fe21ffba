/**
 * The audit log's failure modes with a real full disk and a real read-only file system: the
 * proxy runs in a mount namespace of its own over a small tmpfs (unshare + mount, as root), so
 * nothing outside the test sees it, and the test frees space with nsenter.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecords } from '../support/audit-records.js';
import { runCli } from '../support/cli.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, runKubectl, startKubectl } from '../support/kubectl.js';
import { proxyArgs, startProxyProcess, stopStartedProxies, type ProxyProcess } from '../support/kubewire-proxy.js';
import { waitForText } from '../support/wait.js';

const kubectl = availableKubectls(['1.33', '1.31', '1.30']).at(0);
const canMount = process.getuid?.() === 0 && spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /mnt'], { stdio: 'ignore' }).status === 0
  && spawnSync('nsenter', ['--version'], { stdio: 'ignore' }).status === 0;
const skipReason = !kubectl ? 'kubectl 1.30+ not found under /usr/lib/google-cloud-sdk/bin' : !canMount ? 'needs root with unshare -m, mount and nsenter (a private tmpfs stands in for a full or read-only disk)' : null;
if (skipReason) {
  const msg = `skipping the audit failure-mode tests: ${skipReason}`;
  if (process.env['CI'] === 'true') throw new Error(msg);
  console.warn(msg);
}

/**
 * Runs the proxy over a private tmpfs at `dir` of `size`, with `filler` bytes already taken.
 * The shell stays as the proxy's parent (passing SIGTERM on) so that, once the proxy ended, it
 * can copy the logs out to `out` before the mount namespace goes away with it.
 */
function tmpfsWrap(dir: string, out: string, opts: { size: string; filler?: number; readOnly?: boolean }): string[] {
  const mount = `mount -t tmpfs -o size=${opts.size}${opts.readOnly ? ',ro' : ''} tmpfs "$0" || exit 99`;
  const fill = opts.filler ? `head -c ${opts.filler} /dev/zero > "$0/filler" || exit 99` : 'true';
  const run = 'out="$1"; shift; "$@" & pid=$!; trap \'kill -TERM $pid\' TERM INT; wait $pid; wait $pid; rc=$?; cp "$0"/*.jsonl "$out"/ 2>/dev/null; exit $rc';
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `${mount}; ${fill}; ${run}`, dir, out];
}


describe.skipIf(skipReason !== null)('audit log failure modes (full disk, read-only file system)', () => {
  let t: TestCluster;
  let base: string;
  beforeAll(async () => {
    t = await startTestCluster();
    base = mkdtempSync(join(tmpdir(), 'kubewire-auditfail-'));
  });
  afterAll(async () => {
    await stopStartedProxies();
    await t?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  const start = async (name: string, mode: 'closed' | 'open') => {
    const dir = join(base, name);
    const out = join(base, `${name}-out`);
    mkdirSync(dir);
    mkdirSync(out);
    const p = await startProxyProcess({
      kubeconfig: t.kubeconfig, log: join(dir, 'audit.jsonl'), writeKubeconfig: join(base, `${name}.kubeconfig`), home: t.home,
      extraArgs: ['--audit', '--audit-fail', mode], wrap: tmpfsWrap(dir, out, { size: '2m', filler: 1024 * 1024 }),
    });
    return { p, dir, log: join(out, 'audit.jsonl') };
  };

  /**
   * A session that prints `start`, waits for a line (the test fills the disk meanwhile), then
   * prints `bytes`. Closed mode gets more than the log's queue holds (8 MiB), so the session
   * cannot finish before the first failed write is seen, however the machine is loaded.
   */
  const script = (bytes: number): string => `echo start; read go; head -c ${bytes} /dev/zero; echo; echo end`;

  const fillDisk = (pid: number, dir: string): void => {
    // Fails once the disk is full, which is the point.
    spawnSync('nsenter', ['-t', String(pid), '-m', '--', 'sh', '-c', `head -c 8388608 /dev/zero > ${join(dir, 'filler2')}`], { stdio: 'ignore' });
  };
  const freeAll = (pid: number, dir: string): void => {
    const r = spawnSync('nsenter', ['-t', String(pid), '-m', '--', 'rm', '-f', join(dir, 'filler'), join(dir, 'filler2')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nsenter rm failed: ${r.stderr}`);
  };
  const exitOf = (child: ChildProcess): Promise<number | null> =>
    child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('close', (code) => resolve(code)));

  /**
   * Frees the disk, then: the log takes writes again, a new session is recorded, kubewire stops
   * cleanly, the gap is in the log and verify calls the chain consistent (it has no key) and lists the gap.
   */
  const recoversAndVerifies = async (p: ProxyProcess, dir: string, log: string, mode: 'closed' | 'open'): Promise<void> => {
    freeAll(p.pid, dir);
    await waitForText(() => p.stderr(), /takes writes again/, 10_000);
    const after = await runKubectl(kubectl!, ['exec', 'web', '--', 'echo', 'recorded'], { kubeconfig: p.kubeconfig, home: t.home });
    expect(after.stdout).toBe('recorded\n');
    expect((await p.stop('SIGTERM')).code).toBe(0);

    const evs = await readRecords([log]);
    expect(evs.find((e) => e.type === 'audit.gap')).toMatchObject({ failMode: mode, reason: 'disk full (ENOSPC)', records: expect.any(Number) });
    expect(evs.some((e) => e.type === 'audit.session' && e.command.join(' ') === 'echo recorded' && e.exitCode === 0)).toBe(true);
    const verify = runCli(['verify', log]);
    expect(verify.stdout).toMatch(/^consistent, unauthenticated: /);
    expect(verify.stdout).toMatch(/gap/);
    expect(verify.status).toBe(0);
  };

  it('fail closed: a full disk ends the open session, new sessions get a 503 that says why, and after space is freed the gap is recorded', async () => {
    const { p, dir, log } = await start('closed', 'closed');
    const open = startKubectl(kubectl!, ['exec', '-i', 'web', '--', 'sh', '-c', script(32 * 1024 * 1024)], { kubeconfig: p.kubeconfig, home: t.home });
    await open.waitFor(/start/);
    fillDisk(p.pid, dir);
    open.child.stdin!.end('go\n');
    const code = await exitOf(open.child);
    expect(code).not.toBe(0);
    expect(open.output()).not.toMatch(/end/);
    await waitForText(() => p.stderr(), /cannot write the audit log .*disk full \(ENOSPC\); open sessions were ended and new ones get 503/, 10_000);

    const refused = await runKubectl(kubectl!, ['exec', 'web', '--', 'echo', 'hi'], { kubeconfig: p.kubeconfig, home: t.home });
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/kubewire cannot write its audit log \(disk full \(ENOSPC\)\); new sessions are refused/);

    await recoversAndVerifies(p, dir, log, 'closed');
  });

  it('fail open: a full disk does not stop the session; the gap is recorded once the disk takes writes again, and verify accepts it', async () => {
    const { p, dir, log } = await start('open', 'open');
    const open = startKubectl(kubectl!, ['exec', '-i', 'web', '--', 'sh', '-c', script(200_000)], { kubeconfig: p.kubeconfig, home: t.home });
    await open.waitFor(/start/);
    fillDisk(p.pid, dir);
    open.child.stdin!.end('go\n');
    expect(await exitOf(open.child)).toBe(0);
    expect(open.output()).toBe(`start\n${'\0'.repeat(200000)}\nend\n`);
    await waitForText(() => p.stderr(), /sessions go on unrecorded and the gap will be noted/, 10_000);
    await recoversAndVerifies(p, dir, log, 'open');
  });

  it.each(['closed', 'open'] as const)('a read-only log directory at start: kubewire proxy --audit-fail %s refuses to start and says why', (mode) => {
    const dir = join(base, `ro-${mode}`);
    mkdirSync(dir);
    const [file, ...prefix] = tmpfsWrap(dir, base, { size: '1m', readOnly: true });
    const r = spawnSync(file!, [...prefix, process.execPath, ...proxyArgs({ kubeconfig: t.kubeconfig, log: join(dir, 'audit.jsonl'), writeKubeconfig: join(base, `ro-${mode}.kubeconfig`), home: t.home }), '--audit', '--audit-fail', mode], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot write the audit log .*audit\.jsonl: read-only file system \(EROFS\)/);
    expect(r.stdout).not.toMatch(/export KUBECONFIG/);
  });
});
