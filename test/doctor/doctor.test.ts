/**
 * `kubewire doctor` against the demo cluster, in process, with its gateway profiles switched
 * between runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctorCommand, type DoctorOptions } from '../../src/cli/doctor-command.js';
import { CliError } from '../../src/io/errors.js';
import type { DoctorReport } from '../../src/doctor/doctor.js';
import { judgeUpgrade } from '../../src/doctor/checks.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { Lines } from '../support/lines-output.js';

let tc: TestCluster;
/** 1.35, with users whose roles split the verbs. */
let tc35: TestCluster;
/** 1.34: WebSocket exec, attach and port-forward are on by default. */
let tc34: TestCluster;
beforeAll(async () => {
  [tc, tc35, tc34] = await Promise.all([
    startTestCluster(),
    startTestCluster({ serverVersion: '1.35', users: ['creator=exec-create-only', 'getter=exec-get-only'] }),
    startTestCluster({ serverVersion: '1.34' }),
  ]);
});
afterAll(async () => {
  await Promise.all([tc?.stop(), tc35?.stop(), tc34?.stop()]);
});

type Opts = Omit<DoctorOptions, 'kubeconfig'> & { cluster?: TestCluster; kubeconfig?: string };

/** Runs doctor twice (--json and the table) and checks what holds for every run: each failed check has a finding. */
async function doctor(profiles: string[], opts: Opts = {}): Promise<{ code: number; report: DoctorReport; human: string }> {
  const { cluster = tc, ...rest } = opts;
  const o = { kubeconfig: cluster.kubeconfig, ...rest };
  cluster.cluster.profiles.set(profiles);
  const json = new Lines();
  const code = await runDoctorCommand({ ...o, json: true }, json);
  expect(json.lines).toHaveLength(1);
  const report = JSON.parse(json.lines[0]!) as DoctorReport;
  const human = new Lines();
  const code2 = await runDoctorCommand(o, human);
  expect(code2).toBe(code);
  for (const c of report.checks.filter((x) => x.verdict === 'fail')) {
    expect(report.findings.filter((f) => f.check === c.id), `a finding for the failed check ${c.id}`).not.toEqual([]);
  }
  if (report.checks.some((c) => c.verdict === 'fail')) expect(human.text).not.toContain('FINDINGS: none');
  return { code, report, human: human.text };
}

const RBAC_PASS = { 'rbac-exec': 'pass', 'rbac-attach': 'pass', 'rbac-portforward': 'pass' };

const verdicts = (r: DoctorReport): Record<string, string> => Object.fromEntries(r.checks.map((c) => [c.id, c.verdict]));
const PATH_CHECKS = ['ws-exec', 'spdy-exec', 'ws-portforward', 'spdy-portforward'];

describe('kubewire doctor', () => {
  it('passes all five checks on a healthy cluster, through the API server 404 of a probe pod', async () => {
    const { code, report, human } = await doctor([]);
    expect(verdicts(report)).toEqual({ rest: 'pass', ...RBAC_PASS, 'ws-exec': 'pass', 'spdy-exec': 'pass', 'ws-portforward': 'pass', 'spdy-portforward': 'pass' });
    expect(report.findings).toEqual([]);
    expect(report.checks.find((c) => c.id === 'rbac-exec')!.detail).toBe('get and create on pods/exec: WebSocket (get) and SPDY (create) are both allowed');
    expect(code).toBe(0);
    const rest = report.checks[0]!;
    expect(rest.detail).toMatch(/server v1\.\d+/);
    expect(rest.data?.['alpnAccepted']).toBe('http/1.1');
    for (const c of report.checks.filter((x) => PATH_CHECKS.includes(x.id))) expect(c.detail).toMatch(/404 Status: pods "kubewire-doctor-probe-[0-9a-f]+" not found/);
    expect(human).toMatch(/^CHECK\s+VERDICT\s+DETAIL$/m);
    expect(human).toMatch(/^WebSocket v5 exec upgrade\s+PASS\s+/m);
    expect(human).toContain('FINDINGS: none');
  });

  it('runs the pod checks: echo, 1 MiB, ping/pong, resize, over WebSocket when it works', async () => {
    const { code, report, human } = await doctor([], { pod: 'default/web', container: 'app' });
    const v = verdicts(report);
    expect(human).toMatch(/^exec echo \(WebSocket v5\)\s+PASS\s+stdout "kubewire-doctor", status Success, close 1000$/m);
    for (const c of report.checks.filter((x) => x.id.startsWith('pod-'))) expect(c.data?.['transport']).toBe('websocket');
    expect(v).toMatchObject({ rest: 'pass', 'ws-exec': 'pass', 'spdy-exec': 'pass', 'ws-portforward': 'pass', 'spdy-portforward': 'pass' });
    expect(v).toMatchObject({ 'pod-echo': 'pass', 'pod-1mib': 'pass', 'pod-ping': 'pass', 'pod-resize': 'pass' });
    expect(report.checks.find((c) => c.id === 'pod-1mib')!.data?.['bytes']).toBe(1024 * 1024);
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
  });

  it('strip-upgrade: checks 2-5 fail with upgrade-stripped, exit 1', async () => {
    const { code, report, human } = await doctor(['strip-upgrade'], { pod: 'default/web', container: 'app' });
    const v = verdicts(report);
    expect(v['rest']).toBe('pass');
    for (const id of PATH_CHECKS) expect(v[id]).toBe('fail');
    expect(report.checks.find((c) => c.id === 'ws-exec')!.detail).toMatch(/400 .*Upgrade request required/);
    const stripped = report.findings.filter((f) => f.rule === 'upgrade-stripped');
    expect(stripped.map((f) => f.check)).toEqual(expect.arrayContaining(PATH_CHECKS));
    expect(stripped[0]!.severity).toBe('error');
    // One session per check.
    expect(new Set(stripped.map((f) => f.session)).size).toBe(stripped.length);
    expect(code).toBe(1);
    // Checks with the same fix share a line; a SPDY upgrade's fix also names --translate spdy-to-ws.
    expect(human).toMatch(/! error upgrade-stripped: .*\[ws-exec, ws-portforward/);
    expect(human).toMatch(/! error upgrade-stripped: .*\[spdy-exec\]\n.*--translate spdy-to-ws/);
    expect(human).toMatch(/! error upgrade-stripped: .*\[spdy-portforward\]/);
  });

  it('strip-upgrade without --pod: the probe pod is enough to see a gateway that strips upgrades', async () => {
    const { code, report } = await doctor(['strip-upgrade'], {});
    const v = verdicts(report);
    for (const id of PATH_CHECKS) expect(v[id]).toBe('fail');
    expect(report.findings.some((f) => f.rule === 'upgrade-stripped')).toBe(true);
    expect(code).toBe(1);
  });

  it('no-websocket: the WebSocket exec gets 403 while SPDY passes', async () => {
    const { code, report, human } = await doctor(['no-websocket'], { pod: 'default/web', container: 'app' });
    const v = verdicts(report);
    expect(v['ws-exec']).toBe('fail');
    expect(report.checks.find((c) => c.id === 'ws-exec')!.data?.['status']).toBe(403);
    expect(v['spdy-exec']).toBe('pass');
    expect(v['spdy-portforward']).toBe('pass');
    // The demo says 1.33: a 1.30+ API server that passes v5 to the kubelet has WebSocket turned off.
    expect(report.findings.filter((f) => f.check === 'ws-exec').map((f) => f.rule)).toEqual(['websocket-disabled', 'transport-blocked']);
    // The pod checks run over SPDY, as kubectl does after its fallback.
    for (const id of ['pod-echo', 'pod-1mib', 'pod-ping', 'pod-resize']) {
      const c = report.checks.find((x) => x.id === id)!;
      expect([c.id, c.verdict, c.data?.['transport']]).toEqual([id, 'pass', 'spdy']);
    }
    expect(report.checks.find((c) => c.id === 'pod-echo')!.detail).toBe('stdout "kubewire-doctor", status Success, error stream FIN');
    expect(report.checks.find((c) => c.id === 'pod-1mib')!.data?.['bytes']).toBe(1024 * 1024);
    // One transport blocked, the other working: the fix is the exact translate command.
    const blocked = report.findings.find((f) => f.rule === 'transport-blocked')!;
    expect(blocked.title).toBe('WebSocket is refused for exec, attach and cp, SPDY gets through');
    expect(blocked.fix).toContain(`kubewire run --kubeconfig ${tc.kubeconfig} --translate ws-to-spdy -- kubectl exec -n default web -c app -- echo ok`);
    expect(human).toMatch(/^exec echo \(SPDY\)\s+PASS\s+/m);
    expect(human).toContain('--translate ws-to-spdy --');
    expect(code).toBe(1);
  });

  it('no-spdy: the SPDY exec fails while WebSocket passes', async () => {
    const { code, report, human } = await doctor(['no-spdy'], { pod: 'default/web', container: 'app' });
    const v = verdicts(report);
    expect(v['spdy-exec']).toBe('fail');
    expect(v['spdy-portforward']).toBe('fail');
    expect(v['ws-exec']).toBe('pass');
    expect(v['ws-portforward']).toBe('pass');
    expect(v['pod-echo']).toBe('pass');
    expect(report.checks.find((c) => c.id === 'pod-echo')!.data?.['transport']).toBe('websocket');
    const blocked = report.findings.filter((f) => f.rule === 'transport-blocked');
    expect(blocked.map((f) => [f.check, f.title])).toEqual([
      ['spdy-exec', 'SPDY is refused for exec, attach and cp, WebSocket gets through'],
      ['spdy-portforward', 'SPDY is refused for port-forward, WebSocket gets through'],
    ]);
    expect(blocked[0]!.fix).toContain(`kubewire run --kubeconfig ${tc.kubeconfig} --translate spdy-to-ws -- kubectl exec -n default web -c app -- echo ok`);
    expect(blocked[1]!.fix).toContain(`kubewire run --kubeconfig ${tc.kubeconfig} --translate spdy-to-ws -- kubectl port-forward -n default web 8080:80`);
    expect(human).toMatch(/! warn transport-blocked: SPDY is refused for exec, attach and cp, WebSocket gets through \[spdy-exec\]\n    fix: .*--translate spdy-to-ws -- kubectl exec/);
    expect(code).toBe(1);
  });

  it('no-spdy without --pod: the translate fix names POD', async () => {
    const { report } = await doctor(['no-spdy']);
    expect(report.findings.find((f) => f.rule === 'transport-blocked' && f.check === 'spdy-exec')!.fix)
      .toContain(`kubewire run --kubeconfig ${tc.kubeconfig} --translate spdy-to-ws -- kubectl exec -n default POD -- echo ok`);
  });

  it('--idle reports when the path cuts an idle session', async () => {
    const { code, report } = await doctor(['idle-timeout=1'], { pod: 'default/web', container: 'app', idle: '2' });
    const idle = report.checks.find((c) => c.id === 'pod-idle')!;
    expect(idle.verdict).toBe('fail');
    expect(idle.detail).toMatch(/cuts idle connections at about 1 s/);
    expect(code).toBe(1);
  }, 30_000);

  it('--idle over SPDY on a path that refuses WebSocket and cuts idle connections', async () => {
    const { code, report } = await doctor(['no-websocket', 'idle-timeout=1'], { pod: 'default/web', container: 'app', idle: '2' });
    const idle = report.checks.find((c) => c.id === 'pod-idle')!;
    expect([idle.name, idle.verdict, idle.data?.['transport']]).toEqual(['idle 2 s (SPDY)', 'fail', 'spdy']);
    expect(idle.detail).toMatch(/cuts idle connections at about 1 s/);
    expect(code).toBe(1);
  }, 30_000);

  it('runtime-http: the WebSocket 101 passes, the echo gets the runtime\'s InternalError: runtime-streaming', async () => {
    const { code, report } = await doctor(['runtime-http'], { pod: 'default/web', container: 'app' });
    expect(verdicts(report)['ws-exec']).toBe('pass');
    const echo = report.checks.find((c) => c.id === 'pod-echo')!;
    expect([echo.verdict, echo.data?.['transport']]).toEqual(['fail', 'websocket']);
    expect(echo.detail).toMatch(/status Failure \(Internal error occurred/);
    expect(report.findings.filter((f) => f.check === 'pod-echo').map((f) => f.rule)).toContain('runtime-streaming');
    expect(code).toBe(1);
  });

  it('1.35, exec-create-only: RBAC says create only, the WebSocket exec is refused for get: rbac-verb-split; the pod checks run over SPDY', async () => {
    const { code, report, human } = await doctor([], { cluster: tc35, context: 'creator', pod: 'default/web', container: 'app' });
    const v = verdicts(report);
    expect(v).toMatchObject({ rest: 'pass', 'rbac-exec': 'warn', 'rbac-attach': 'warn', 'rbac-portforward': 'warn', 'ws-exec': 'fail', 'spdy-exec': 'pass', 'ws-portforward': 'fail', 'spdy-portforward': 'pass' });
    expect(report.checks.find((c) => c.id === 'rbac-exec')!.detail)
      .toBe('WebSocket exec needs get and create from 1.35: this user has create only, so kubectl will fall back to SPDY (it fails where only WebSocket gets through, and clients without a SPDY fallback fail)');
    expect(report.checks.find((c) => c.id === 'rbac-exec')!.data).toMatchObject({ user: 'creator', get: false, create: true });
    const split = report.findings.filter((f) => f.rule === 'rbac-verb-split');
    expect(split.map((f) => f.check)).toEqual(expect.arrayContaining(['rbac-exec', 'ws-exec', 'ws-portforward']));
    expect(split.find((f) => f.check === 'ws-exec')!.title).toBe('RBAC: creator lacks "get" on pods/exec: WebSocket needs both get and create');
    // The review and the refused upgrade say the same: one line for both.
    expect(human).toMatch(/! error rbac-verb-split: RBAC: creator lacks "get" on pods\/exec: WebSocket needs both get and create \[rbac-exec, ws-exec\]/);
    for (const id of ['pod-echo', 'pod-1mib', 'pod-ping', 'pod-resize']) expect([id, v[id]]).toEqual([id, 'pass']);
    expect(report.checks.find((c) => c.id === 'pod-echo')!.data?.['transport']).toBe('spdy');
    expect(code).toBe(1);
  });

  it('1.35, exec-get-only: neither transport gets through; rbac-verb-split on the review and the WebSocket refusal', async () => {
    const { code, report } = await doctor([], { cluster: tc35, context: 'getter' });
    const v = verdicts(report);
    expect(v).toMatchObject({ 'rbac-exec': 'fail', 'ws-exec': 'fail', 'spdy-exec': 'fail' });
    expect(report.checks.find((c) => c.id === 'rbac-exec')!.detail)
      .toBe('WebSocket exec needs get and create from 1.35: this user has get only, so WebSocket is refused, and SPDY (a POST, checked as create) too: no transport gets through');
    expect(report.findings.filter((f) => f.rule === 'rbac-verb-split' && f.check === 'rbac-exec').map((f) => f.severity)).toEqual(['error']);
    expect(report.findings.find((f) => f.check === 'ws-exec')!.title).toBe('RBAC: getter lacks "create" on pods/exec: WebSocket needs both get and create');
    expect(report.findings.some((f) => f.rule === 'transport-blocked')).toBe(false);
    expect(code).toBe(1);
  });

  it('1.34 with WebSocket refused by the API server itself: websocket-disabled for exec and for the port-forward tunnel', async () => {
    const { code, report } = await doctor(['no-websocket', 'no-pf-websocket'], { cluster: tc34, pod: 'default/web', container: 'app' });
    const v = verdicts(report);
    expect(v).toMatchObject({ 'ws-exec': 'fail', 'spdy-exec': 'pass', 'ws-portforward': 'fail', 'spdy-portforward': 'pass' });
    for (const id of ['ws-exec', 'ws-portforward']) {
      const rules = report.findings.filter((f) => f.check === id).map((f) => f.rule);
      expect([id, rules]).toEqual([id, ['websocket-disabled', 'transport-blocked']]);
    }
    expect(report.findings.find((f) => f.rule === 'websocket-disabled' && f.check === 'ws-portforward')!.title).toBe('WebSocket port-forward is turned off on this v1.34 control plane');
    expect(report.findings.find((f) => f.rule === 'transport-blocked' && f.check === 'ws-portforward')!.fix)
      .toContain(`kubewire run --kubeconfig ${tc34.kubeconfig} --translate ws-to-spdy -- kubectl port-forward -n default web 8080:80`);
    expect(code).toBe(1);
  });

  it('names the failing layer: TCP refused', async () => {
    const port = await closedPort();
    const kubeconfig = variant('tcp', (k) => k.replace(/server: "https:\/\/127\.0\.0\.1:\d+"/, `server: "https://127.0.0.1:${port}"`));
    const { code, report, human } = await doctor([], { kubeconfig });
    const rest = report.checks[0]!;
    expect([rest.verdict, rest.data?.['layer']]).toEqual(['fail', 'tcp']);
    expect(rest.detail).toMatch(/^TCP connection failed: .*connection refused/);
    expect(report.checks.slice(1).every((c) => c.verdict === 'skip')).toBe(true);
    expect(report.findings.map((f) => [f.rule, f.check])).toEqual([['check-failed', 'rest']]);
    expect(human).toMatch(/! error check-failed: REST \/version failed \(TCP\): TCP connection failed/);
    expect(code).toBe(1);
  });

  it('names the failing layer: TLS, when the server does not speak it', async () => {
    const server = net.createServer((s) => {
      s.on('error', () => s.destroy());
      s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as net.AddressInfo;
      const kubeconfig = variant('tls', (k) => k.replace(/server: "https:\/\/127\.0\.0\.1:\d+"/, `server: "https://127.0.0.1:${port}"`));
      const { code, report } = await doctor([], { kubeconfig });
      const rest = report.checks[0]!;
      expect([rest.verdict, rest.data?.['layer']]).toEqual(['fail', 'tls']);
      expect(rest.detail).toMatch(/^TLS failed: TLS handshake with/);
      expect(code).toBe(1);
    } finally {
      server.close();
    }
  });

  it('names the failing layer: a credential plugin that fails; exit 2', async () => {
    const plugin = join(tc.dir, 'failing-plugin.js');
    writeFileSync(plugin, "process.stderr.write('token expired, log in again'); process.exit(1);\n");
    const kubeconfig = variant('cred', (k) => k.replace(/ {4}token: "[^"]*"/, `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${JSON.stringify(process.execPath)}\n      args: [${JSON.stringify(plugin)}]\n      interactiveMode: Never`));
    const { code, report } = await doctor([], { kubeconfig });
    const rest = report.checks[0]!;
    expect([rest.verdict, rest.data?.['layer']]).toEqual(['fail', 'credentials']);
    expect(rest.detail).toMatch(/^credential plugin failed: .*exec credential plugin .*token expired, log in again/);
    expect(report.findings[0]!.fix).toMatch(/exec credential plugin/);
    expect(code).toBe(2);
  });

  it('usage and kubeconfig errors are CliErrors (exit 2)', async () => {
    await expect(runDoctorCommand({ kubeconfig: '/nonexistent/kubeconfig' }, new Lines())).rejects.toMatchObject({ exitCode: 2 });
    await expect(runDoctorCommand({ kubeconfig: tc.kubeconfig, pod: 'a/b/c' }, new Lines())).rejects.toBeInstanceOf(CliError);
    await expect(runDoctorCommand({ kubeconfig: tc.kubeconfig, idle: '5' }, new Lines())).rejects.toBeInstanceOf(CliError);
  });
});

/** A copy of the demo kubeconfig, changed by `edit`. */
function variant(name: string, edit: (k: string) => string): string {
  const file = join(tc.dir, `${name}.kubeconfig`);
  const changed = edit(readFileSync(tc.kubeconfig, 'utf8'));
  expect(changed).not.toBe(readFileSync(tc.kubeconfig, 'utf8'));
  writeFileSync(file, changed, { mode: 0o600 });
  return file;
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('judgeUpgrade', () => {
  const t = (s: string) => ({ c2s: [], s2c: [{ at: 0, bytes: Buffer.from(s) }], s2cEnded: null, error: null });
  it('an HTML answer is an intermediary: fail', () => {
    const r = judgeUpgrade(t('HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 22\r\n\r\n<html>not found</html>'));
    expect(r.verdict).toBe('fail');
    expect(r.detail).toMatch(/HTML/);
  });
  it('no answer: fail', () => {
    expect(judgeUpgrade({ c2s: [], s2c: [], s2cEnded: 1, error: null }).verdict).toBe('fail');
  });
});
