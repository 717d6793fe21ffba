/**
 * Real gateways between kubewire and the demo cluster: real kubectl 1.33 through `kubewire run`,
 * upstream a real nginx, HAProxy, Apache httpd or Squid on 127.0.0.1, and the findings in the
 * JSONL log checked. Each broken setup gives its rule; the fixed setup gives no finding.
 *
 * The reverse proxies listen on https with their own loopback certificate (kubewire, like
 * kubectl, sends no credentials to a plain http:// server) and proxy to the cluster's https URL
 * with TLS verification off. Squid is a forward proxy named by the kubeconfig's proxy-url.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKubectls, WEBSOCKET_ENV as WS, SPDY_ENV as SPDY } from '../support/kubectl.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { kubectlPart, runThroughKubewire, startThroughKubewire } from '../support/kubewire-run.js';
import { runDoctorCommand } from '../../src/cli/doctor-command.js';
import { gatewayBinary, startApache, startHaproxy, startNginx, startSquid, writeUpstreamKubeconfig, type Gateway } from '../support/gateways.js';

const [v] = availableKubectls(['1.33']);
const EXEC = ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo through-gateway'];

interface Finding {
  rule: string;
  severity: string;
  title: string;
  hop?: unknown;
}

let t: TestCluster;
let n = 0;
beforeAll(async () => {
  if (v) t = await startTestCluster();
});
afterAll(async () => {
  await t?.stop();
});

function readFindings(log: string): Finding[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Finding & { type: string })
    .filter((e) => e.type === 'finding');
}

function rulesOf(fs: Finding[]): string[] {
  return [...new Set(fs.map((f) => f.rule))].sort();
}

/** A kubeconfig for kubewire's upstream: the gateway (its CA) with the cluster's token. */
function gatewayKubeconfig(gw: Gateway & { tls: { caCertPem: string } }): string {
  const file = join(t.dir, `gw-${++n}.kubeconfig`);
  writeUpstreamKubeconfig(file, { server: `https://127.0.0.1:${gw.port}`, caCertPem: gw.tls.caCertPem, token: t.cluster.token });
  return file;
}

/** `kubewire doctor --json` on a kubeconfig: its exit code, the verdict per check, the rules found. */
async function doctor(kubeconfig: string): Promise<{ code: number; verdicts: Record<string, string>; rules: string[] }> {
  const lines: string[] = [];
  const code = await runDoctorCommand({ kubeconfig, json: true }, { line: (text: string) => void lines.push(text) });
  const report = JSON.parse(lines[0]!) as { checks: { id: string; verdict: string }[]; findings: { rule: string }[] };
  return { code, verdicts: Object.fromEntries(report.checks.map((c) => [c.id, c.verdict])), rules: [...new Set(report.findings.map((f) => f.rule))].sort() };
}

async function run(kubeconfig: string, args: string[], env: Record<string, string>, timeoutMs = 30_000) {
  const log = join(t.dir, `gw-${++n}.jsonl`);
  const r = await runThroughKubewire(v!, args, { kubeconfig, home: t.home, log, env, timeoutMs });
  const findings = readFindings(log);
  return { ...r, kubectlErr: kubectlPart(r.stderr), findings, rules: rulesOf(findings), log };
}

async function portForward(kubeconfig: string, env: Record<string, string>) {
  const log = join(t.dir, `gw-${++n}.jsonl`);
  const k = startThroughKubewire(v!, ['port-forward', 'pod/web', ':80'], { kubeconfig, home: t.home, log, env });
  let body = '';
  try {
    const m = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/);
    body = await fetch(`http://127.0.0.1:${m[1]}/`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text());
  } finally {
    await k.stop();
  }
  return { body, rules: rulesOf(readFindings(log)), output: k.output() + k.errors() };
}

const nginx = v ? gatewayBinary('nginx') : null;
describe.skipIf(!v || !nginx)('nginx in front of the API server', () => {
  it('without the Upgrade/Connection lines (HTTP/1.0 upstream): exec gets upgrade-stripped', async () => {
    const gw = await startNginx(nginx!, { upstream: t.cluster.url, upgrade: false });
    try {
      const kc = gatewayKubeconfig(gw);
      const ws = await run(kc, EXEC, WS);
      expect(ws.code, ws.stderr).not.toBe(0);
      expect(ws.stdout).not.toContain('through-gateway');
      expect(ws.rules, ws.stderr).toContain('upgrade-stripped');
      expect(ws.rules.every((r) => ['upgrade-stripped', 'websocket-fallback'].includes(r)), ws.rules.join()).toBe(true);
      expect(ws.kubectlErr).toMatch(/Upgrade request required/i);
      const spdy = await run(kc, EXEC, SPDY);
      expect(spdy.code).not.toBe(0);
      expect(spdy.rules, spdy.stderr).toContain('upgrade-stripped');
      // nginx passed both attempts on, and the API server answered each with 400.
      expect(gw.output()).toMatch(/"GET \/api\/v1\/namespaces\/default\/pods\/web\/exec\?[^"]* HTTP\/1\.1" 400 /);
      expect(gw.output()).toMatch(/"POST \/api\/v1\/namespaces\/default\/pods\/web\/exec\?[^"]* HTTP\/1\.1" 400 /);
      // kubewire doctor sees it without a pod: every upgrade path fails the same way.
      const d = await doctor(kc);
      expect(d.code).toBe(1);
      expect(d.verdicts['ws-exec']).toBe('fail');
      expect(d.verdicts['spdy-exec']).toBe('fail');
      expect(d.rules).toContain('upgrade-stripped');
    } finally {
      await gw.stop();
    }
  });

  it('with proxy_http_version 1.1 and the Upgrade/Connection headers: exec and port-forward work, no finding', async () => {
    const gw = await startNginx(nginx!, { upstream: t.cluster.url, upgrade: true });
    try {
      const kc = gatewayKubeconfig(gw);
      for (const env of [WS, SPDY]) {
        const r = await run(kc, EXEC, env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain('through-gateway');
        expect(r.rules, r.stderr).toEqual([]);
      }
      const pf = await portForward(kc, WS);
      expect(pf.body.length, pf.output).toBeGreaterThan(0);
      expect(pf.rules, pf.output).toEqual([]);
      expect(gw.output()).toMatch(/"GET \/api\/v1\/namespaces\/default\/pods\/web\/exec\?[^"]*" 101 /);
      expect(gw.output()).toMatch(/"POST \/api\/v1\/namespaces\/default\/pods\/web\/exec\?[^"]*" 101 /);
      expect(gw.output()).toMatch(/"GET \/api\/v1\/namespaces\/default\/pods\/web\/portforward[^"]*" 101 /);
      const d = await doctor(kc);
      expect(d.code, JSON.stringify(d)).toBe(0);
      expect(d.rules).toEqual([]);
    } finally {
      await gw.stop();
    }
  });
});

const haproxy = v ? gatewayBinary('haproxy') : null;
describe.skipIf(!v || !haproxy)('HAProxy in front of the API server', () => {
  // SPDY: kubectl pings every 5 s, so a 2 s tunnel timeout cuts a command that is quiet for 4 s.
  const QUIET = ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'sleep 4; echo late'];

  it('timeout tunnel 2s cuts a quiet SPDY exec: idle-timeout', async () => {
    const gw = await startHaproxy(haproxy!, { upstream: t.cluster.url, tunnelTimeout: '2s', clientServerTimeout: '30s' });
    try {
      const r = await run(gatewayKubeconfig(gw), QUIET, SPDY);
      // kubectl itself reports nothing: the output is lost and it exits as if all went well.
      expect(r.stdout).not.toContain('late');
      expect(r.rules, r.stderr).toEqual(['idle-timeout']);
      const f = r.findings.find((x) => x.rule === 'idle-timeout')!;
      expect(f.title).toMatch(/cut after 2(\.\d+)? s/);
      expect(JSON.stringify(f.hop)).toContain('kubewire↔upstream');
      expect(r.stderr).toMatch(/kubewire: ! \w+ idle-timeout: /);
      // HAProxy's log: the 101 upgrade ended by a client-side timeout in the data phase (cD).
      expect(gw.output()).toMatch(/ 101 \d+ - - cD-- .*"POST \/api\/v1\/namespaces\/default\/pods\/web\/exec/);
      // doctor --idle holds a session quiet and measures where the path cuts it.
      const lines: string[] = [];
      const code = await runDoctorCommand({ kubeconfig: gatewayKubeconfig(gw), pod: 'default/web', container: 'app', idle: 4, json: true }, { line: (text: string) => void lines.push(text) });
      const report = JSON.parse(lines[0]!) as { checks: { id: string; verdict: string; detail: string }[] };
      const idle = report.checks.find((c) => c.id === 'pod-idle')!;
      expect(idle.verdict, idle.detail).toBe('fail');
      expect(idle.detail).toMatch(/ended after [23]\.\d s .*cuts idle connections at about [23] s/);
      expect(code).toBe(1);
    } finally {
      await gw.stop();
    }
  });

  it('timeout tunnel 1h: the same exec works, no finding', async () => {
    const gw = await startHaproxy(haproxy!, { upstream: t.cluster.url, tunnelTimeout: '1h', clientServerTimeout: '30s' });
    try {
      const r = await run(gatewayKubeconfig(gw), QUIET, SPDY);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('late');
      expect(r.rules, r.stderr).toEqual([]);
      expect(gw.output()).toMatch(/ 101 \d+ - - ---- .*"POST \/api\/v1\/namespaces\/default\/pods\/web\/exec/);
    } finally {
      await gw.stop();
    }
  });
});

const apache = v ? gatewayBinary('apache2') : null;
describe.skipIf(!v || !apache)('Apache mod_proxy in front of the API server', () => {
  it('upgrade=websocket: WebSocket exec works, SPDY exec fails with a finding', async () => {
    const gw = await startApache(apache!, { upstream: t.cluster.url, upgrade: 'websocket' });
    try {
      const kc = gatewayKubeconfig(gw);
      const ws = await run(kc, EXEC, WS);
      expect(ws.code, ws.stderr + gw.output()).toBe(0);
      expect(ws.stdout).toContain('through-gateway');
      expect(ws.rules, ws.stderr).toEqual([]);
      const spdy = await run(kc, EXEC, SPDY);
      expect(spdy.code).not.toBe(0);
      expect(spdy.stdout).not.toContain('through-gateway');
      expect(spdy.rules.some((r) => r === 'spdy-unsupported' || r === 'upgrade-stripped'), spdy.stderr).toBe(true);
      expect(spdy.kubectlErr).toMatch(/Upgrade request required/i);
      expect(gw.output()).toMatch(/"GET \/api\/v1\/namespaces\/default\/pods\/web\/exec\?[^"]*" 101 /);
      expect(gw.output()).toMatch(/"POST \/api\/v1\/namespaces\/default\/pods\/web\/exec\?[^"]*" 400 /);
      // doctor: the WebSocket paths pass, the SPDY ones fail.
      const d = await doctor(kc);
      expect(d.code).toBe(1);
      expect(d.verdicts['ws-exec']).toBe('pass');
      expect(d.verdicts['spdy-exec']).toBe('fail');
    } finally {
      await gw.stop();
    }
  });

  it('upgrade=ANY: WebSocket and SPDY exec both work, no finding', async () => {
    const gw = await startApache(apache!, { upstream: t.cluster.url, upgrade: 'ANY' });
    try {
      const kc = gatewayKubeconfig(gw);
      for (const env of [WS, SPDY]) {
        const r = await run(kc, EXEC, env);
        expect(r.code, r.stderr + gw.output()).toBe(0);
        expect(r.stdout).toContain('through-gateway');
        expect(r.rules, r.stderr).toEqual([]);
      }
      expect(gw.output()).toMatch(/"POST \/api\/v1\/namespaces\/default\/pods\/web\/exec\?[^"]*" 101 /);
      const d = await doctor(kc);
      expect(d.code, JSON.stringify(d)).toBe(0);
    } finally {
      await gw.stop();
    }
  });
});

const squid = v ? gatewayBinary('squid') : null;
describe.skipIf(!v || !squid)('Squid as the kubeconfig proxy-url', () => {
  function squidKubeconfig(gw: Gateway): string {
    const file = join(t.dir, `gw-${++n}.kubeconfig`);
    writeUpstreamKubeconfig(file, { server: t.cluster.url, caCertPem: t.cluster.caCertPem, token: t.cluster.token, proxyUrl: `http://127.0.0.1:${gw.port}` });
    return file;
  }

  it('CONNECT allowed: exec works through it, no finding', async () => {
    const gw = await startSquid(squid!, { connectPort: Number(new URL(t.cluster.url).port) });
    try {
      const kc = squidKubeconfig(gw);
      for (const env of [WS, SPDY]) {
        const r = await run(kc, EXEC, env);
        expect(r.code, r.stderr + gw.output()).toBe(0);
        expect(r.stdout).toContain('through-gateway');
        expect(r.rules, r.stderr).toEqual([]);
      }
      expect(gw.output()).toMatch(/TCP_TUNNEL\/200 \d+ CONNECT 127\.0\.0\.1:\d+/);
      const d = await doctor(kc);
      expect(d.code, JSON.stringify(d)).toBe(0);
    } finally {
      await gw.stop();
    }
  });

  it('CONNECT denied: forward-proxy, and kubectl says why', async () => {
    const gw = await startSquid(squid!, { connectPort: null });
    try {
      const kc = squidKubeconfig(gw);
      const r = await run(kc, EXEC, WS);
      expect(r.code).not.toBe(0);
      expect(r.rules, r.stderr).toEqual(['forward-proxy']);
      expect(r.findings[0]!.title).toMatch(/proxy/i);
      expect(r.kubectlErr).toMatch(/the proxy http:\/\/127\.0\.0\.1:\d+ refused to tunnel to 127\.0\.0\.1:\d+ .*403 Forbidden/);
      expect(gw.output()).toMatch(/TCP_DENIED\/403 \d+ CONNECT 127\.0\.0\.1:\d+/);
      // doctor cannot get through the proxy either, and says so.
      const d = await doctor(kc);
      expect(d.code).toBe(1);
      expect(d.verdicts['rest']).toBe('fail');
    } finally {
      await gw.stop();
    }
  });
});
