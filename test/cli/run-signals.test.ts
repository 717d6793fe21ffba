/**
 * `kubewire run` passes on signals sent to it alone (`kill -INT PID`, `timeout -s INT`, a
 * supervisor), and says when the command's own flags took it around the proxy.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bypassFlag } from '../../src/cli/run-command.js';
import { runCli } from '../support/cli.js';
import { KUBEWIRE_BIN } from '../support/kubewire-run.js';

const dir = mkdtempSync(join(tmpdir(), 'kubewire-run-signals-'));
const kubeconfig = join(dir, 'kubeconfig');
// Nothing listens there: these commands never make a request.
writeFileSync(kubeconfig, [
  'apiVersion: v1', 'kind: Config', 'current-context: c',
  'clusters: [{name: k, cluster: {server: "https://127.0.0.1:9"}}]',
  'users: [{name: u, user: {token: t}}]',
  'contexts: [{name: c, context: {cluster: k, user: u}}]', '',
].join('\n'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kubewire run', () => {
  it('passes SIGINT sent to its pid alone on to the command', async () => {
    const script = 'trap "echo got-int; exit 7" INT; echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 0';
    const child = spawn(process.execPath, [KUBEWIRE_BIN, 'run', '--kubeconfig', kubeconfig, '--log', join(dir, 'int.jsonl'), '--', 'sh', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let stdout = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!sent && stdout.includes('ready')) {
        sent = true;
        process.kill(child.pid!, 'SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stdout).toContain('got-int');
    expect(code).toBe(7);
  });

  it('warns when the command names its own --kubeconfig or --server, and says no request reached it', () => {
    const r = runCli(['run', '--kubeconfig', kubeconfig, '--log', join(dir, 'bypass.jsonl'), '--', 'true', '--kubeconfig', '/elsewhere']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/kubewire: warning: the command sets --kubeconfig, so its requests may not go through kubewire/);
    expect(r.stderr).toMatch(/kubewire: no request reached kubewire \(the command's --kubeconfig bypassed it\)/);
  });

  it('finds the flags that bypass the proxy, and none in the pod command after --', () => {
    expect(bypassFlag(['kubectl', 'get', 'pods'])).toBeNull();
    expect(bypassFlag(['kubectl', '--kubeconfig=/x', 'get', 'pods'])).toBe('--kubeconfig');
    expect(bypassFlag(['kubectl', '-s', 'https://x', 'get', 'pods'])).toBe('-s');
    expect(bypassFlag(['kubectl', '-shttps://x', 'get', 'pods'])).toBe('-s');
    expect(bypassFlag(['kubectl', '--server', 'https://x'])).toBe('--server');
    expect(bypassFlag(['kubectl', 'exec', 'web', '--', 'ls', '-s', '--server'])).toBeNull();
  });
});
