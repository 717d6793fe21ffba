/**
 * `kubewire demo --script` without a terminal: the tour runs with real kubectl, one line per
 * kubectl command is printed (with the forced SPDY fallback marked), and the demo ends.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableKubectls, kubectlPath } from '../support/kubectl.js';
import { KUBEWIRE_BIN } from '../support/kubewire-run.js';

const [v] = availableKubectls(['1.33']);

describe.skipIf(!v)('kubewire demo --script', () => {
  it('runs the tour and prints a line per kubectl command', () => {
    const home = mkdtempSync(join(tmpdir(), 'kubewire-demo-test-'));
    const r = spawnSync(process.execPath, [KUBEWIRE_BIN, 'demo', '--script', '--no-tui', '--kubectl', kubectlPath(v!), '--log', join(home, 'demo.jsonl')], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('export KUBECONFIG=');
    expect(r.stdout).toMatch(/tour: exec/);
    expect(r.stdout).toMatch(/exec default\/web\/app \[sh -c echo hello from web; cat etc\/hostname\] websocket v5\.channel\.k8s\.io exit 0/);
    expect(r.stdout).toMatch(/exec default\/web\/app \[sh\] websocket v5\.channel\.k8s\.io exit 0/);
    expect(r.stdout).toMatch(/cp default\/web\/app \[tar -xmf - -C \/tmp\] websocket v5\.channel\.k8s\.io exit 0/);
    expect(r.stdout).toMatch(/port-forward default\/web websocket\+spdy SPDY\/3\.1\+portforward\.k8s\.io port 80/);
    expect(r.stdout).toMatch(/spdy v4\.channel\.k8s\.io exit 3 .*\(fell back from WebSocket: 403 Forbidden\)/);
    expect(r.stdout).toContain('tour: tour done');
  }, 150_000);

  it('starts without kubectl on PATH, saying there is no tour', () => {
    const home = mkdtempSync(join(tmpdir(), 'kubewire-demo-test-'));
    const r = spawnSync(process.execPath, [KUBEWIRE_BIN, 'demo', '--kubectl', '/nonexistent/kubectl'], { encoding: 'utf8', timeout: 30_000, env: { PATH: '/usr/bin:/bin', HOME: home } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--kubectl /nonexistent/kubectl: not an executable file');
  });
});
