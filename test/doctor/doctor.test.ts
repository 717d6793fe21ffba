/**
 * `kubewire doctor` against the demo cluster, in process, with its gateway profiles switched
 * between runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctorCommand, type DoctorOptions } from '../../src/cli/doctor-command.js';
import { CliError } from '../../src/io/errors.js';
import type { DoctorReport } from '../../src/doctor/doctor.js';
import { judgeUpgrade } from '../../src/doctor/checks.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { Lines } from '../support/lines-output.js';

let tc: TestCluster;
beforeAll(async () => {
  tc = await startTestCluster();
});
afterAll(async () => {
  await tc?.stop();
});

async function doctor(profiles: string[], opts: Omit<DoctorOptions, 'kubeconfig'> = {}): Promise<{ code: number; report: DoctorReport; human: string }> {
  tc.cluster.profiles.set(profiles);
  const json = new Lines();
  const code = await runDoctorCommand({ ...opts, kubeconfig: tc.kubeconfig, json: true }, json);
  expect(json.lines).toHaveLength(1);
  const report = JSON.parse(json.lines[0]!) as DoctorReport;
  const human = new Lines();
  const code2 = await runDoctorCommand({ ...opts, kubeconfig: tc.kubeconfig }, human);
  expect(code2).toBe(code);
  return { code, report, human: human.text };
}

const verdicts = (r: DoctorReport): Record<string, string> => Object.fromEntries(r.checks.map((c) => [c.id, c.verdict]));
const PATH_CHECKS = ['ws-exec', 'spdy-exec', 'ws-portforward', 'spdy-portforward'];

describe('kubewire doctor', () => {
  it('passes all five checks on a healthy cluster, through the API server 404 of a probe pod', async () => {
    const { code, report, human } = await doctor([]);
    expect(verdicts(report)).toEqual({ rest: 'pass', 'ws-exec': 'pass', 'spdy-exec': 'pass', 'ws-portforward': 'pass', 'spdy-portforward': 'pass' });
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
    const rest = report.checks[0]!;
    expect(rest.detail).toMatch(/server v1\.\d+/);
    expect(rest.data?.['alpnAccepted']).toBe('http/1.1');
    for (const c of report.checks.slice(1)) expect(c.detail).toMatch(/404 Status: pods "kubewire-doctor-probe-[0-9a-f]+" not found/);
    expect(human).toMatch(/^CHECK\s+VERDICT\s+DETAIL$/m);
    expect(human).toMatch(/^WebSocket v5 exec upgrade\s+PASS\s+/m);
    expect(human).toContain('FINDINGS: none');
  });

  it('runs the pod checks: echo, 1 MiB, ping/pong, resize', async () => {
    const { code, report } = await doctor([], { pod: 'default/web', container: 'app' });
    const v = verdicts(report);
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
    const { code, report } = await doctor(['no-websocket'], { pod: 'default/web', container: 'app' });
    const v = verdicts(report);
    expect(v['ws-exec']).toBe('fail');
    expect(report.checks.find((c) => c.id === 'ws-exec')!.data?.['status']).toBe(403);
    expect(v['spdy-exec']).toBe('pass');
    expect(v['spdy-portforward']).toBe('pass');
    // The demo says 1.33: a 1.30+ API server that passes v5 to the kubelet has WebSocket turned off.
    expect(report.findings.filter((f) => f.check === 'ws-exec').map((f) => f.rule)).toEqual(['websocket-disabled']);
    expect(code).toBe(1);
  });

  it('no-spdy: the SPDY exec fails while WebSocket passes', async () => {
    const { code, report } = await doctor(['no-spdy'], { pod: 'default/web', container: 'app' });
    const v = verdicts(report);
    expect(v['spdy-exec']).toBe('fail');
    expect(v['spdy-portforward']).toBe('fail');
    expect(v['ws-exec']).toBe('pass');
    expect(v['ws-portforward']).toBe('pass');
    expect(v['pod-echo']).toBe('pass');
    expect(code).toBe(1);
  });

  it('--idle reports when the path cuts an idle session', async () => {
    const { code, report } = await doctor(['idle-timeout=1'], { pod: 'default/web', container: 'app', idle: '2' });
    const idle = report.checks.find((c) => c.id === 'pod-idle')!;
    expect(idle.verdict).toBe('fail');
    expect(idle.detail).toMatch(/cuts idle connections at about 1 s/);
    expect(code).toBe(1);
  }, 30_000);

  it('usage and kubeconfig errors are CliErrors (exit 2)', async () => {
    await expect(runDoctorCommand({ kubeconfig: '/nonexistent/kubeconfig' }, new Lines())).rejects.toMatchObject({ exitCode: 2 });
    await expect(runDoctorCommand({ kubeconfig: tc.kubeconfig, pod: 'a/b/c' }, new Lines())).rejects.toBeInstanceOf(CliError);
    await expect(runDoctorCommand({ kubeconfig: tc.kubeconfig, idle: '5' }, new Lines())).rejects.toBeInstanceOf(CliError);
  });
});

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
