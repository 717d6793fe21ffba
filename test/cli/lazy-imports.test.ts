/**
 * The commands that only read files must not load the proxy's libraries: @kubernetes/client-node
 * alone more than doubles a bare Node process, and ink/react are only for the terminal view.
 * The proxy itself loads client-node only for a kubeconfig user with an auth-provider.
 * The built CLI runs under test/support/import-recorder.mjs, which writes down every module the
 * process imports (dynamic imports included), so the test sees what really loaded.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/vectors.js';

const root = mkdtempSync(join(tmpdir(), 'kubewire-lazy-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const RECORDER = pathToFileURL(join(REPO_ROOT, 'test', 'support', 'import-recorder.mjs')).href;
const HEAVY = ['@kubernetes/client-node', 'ink', 'react'];
const CAPTURE = join(REPO_ROOT, 'examples', 'captures', '1.33-exec-tty-ws-v5');

interface Recorded {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The URLs of every module the process imported. */
  modules: string[];
}

function importLog(): { log: string; env: NodeJS.ProcessEnv } {
  const log = join(root, `imports-${++n}.txt`);
  writeFileSync(log, '');
  // A NODE_OPTIONS of the test runner's own must not add its hooks to the child's record.
  return { log, env: { ...process.env, NODE_OPTIONS: '', KUBEWIRE_IMPORT_LOG: log } };
}

const modulesIn = (log: string): string[] => readFileSync(log, 'utf8').split('\n').filter(Boolean);

function recorded(nodeArgs: string[]): Recorded {
  const { log, env } = importLog();
  const r = spawnSync(process.execPath, [`--import=${RECORDER}`, ...nodeArgs], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, modules: modulesIn(log) };
}

const kubewire = (...args: string[]): Recorded => recorded([join(REPO_ROOT, 'bin', 'kubewire.js'), ...args]);

/** The packages among `modules`, by name (`@scope/name` or `name`). */
function packages(modules: string[]): Set<string> {
  const names = new Set<string>();
  for (const url of modules) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) names.add(m[1]!);
  }
  return names;
}

function heavyIn(r: Recorded): string[] {
  const loaded = packages(r.modules);
  return HEAVY.filter((p) => loaded.has(p));
}

describe('commands load only what they use', () => {
  it('the recorder sees client-node, ink and react when they are imported', () => {
    const r = recorded(['--input-type=module', '-e', "await import('@kubernetes/client-node'); await import('ink');"]);
    expect(r.status, r.stderr).toBe(0);
    expect(heavyIn(r)).toEqual(HEAVY);
  });

  it('--help, decode --help and summary --help load commander and kubewire only', () => {
    for (const args of [['--help'], ['decode', '--help'], ['summary', '--help'], ['verify', '--help'], ['proxy', '--help']]) {
      const r = kubewire(...args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('Usage: kubewire');
      expect([...packages(r.modules)], args.join(' ')).toEqual(['commander']);
    }
  });

  it('decode and summary run without client-node, ink or react', () => {
    const decoded = kubewire('decode', '--c2s', `${CAPTURE}.c2s`, '--s2c', `${CAPTURE}.s2c`);
    expect(decoded.status, decoded.stderr).toBe(0);
    expect(decoded.modules.some((u) => u.endsWith('/dist/src/cli/decode-command.js'))).toBe(true);
    expect(heavyIn(decoded)).toEqual([]);

    const log = join(root, 'decoded.jsonl');
    writeFileSync(log, decoded.stdout);
    for (const args of [['summary', log], ['summary', '--sessions', log]]) {
      const r = kubewire(...args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).not.toBe('');
      expect(heavyIn(r), args.join(' ')).toEqual([]);
    }
  });
});

/** A kubeconfig for an API server that is never dialled, with `user` as its user. */
function kubeconfig(user: Record<string, unknown>): string {
  const file = join(root, `kubeconfig-${++n}.json`);
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  }));
  return file;
}

/** Loads the upstream of `file` and evaluates its credentials once, in a process of its own. */
function evaluate(file: string): Recorded {
  const upstream = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'proxy', 'kubeconfig-upstream.js')).href;
  const script = `const { loadUpstream } = await import(${JSON.stringify(upstream)});
const up = await loadUpstream({ kubeconfig: ${JSON.stringify(file)}, env: {} });
process.stdout.write((await up.connectionOptions()).headers.Authorization ?? '');`;
  return recorded(['--input-type=module', '-e', script]);
}

describe('the upstream loads client-node only for an auth-provider', () => {
  it('evaluates a token, a token file and an exec plugin without it', () => {
    const tokenFile = join(root, 'token');
    writeFileSync(tokenFile, 'from-file\n');
    const script = join(root, 'plugin.mjs');
    writeFileSync(script, "process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-plugin' } }));\n");
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ token: 'static' }, 'Bearer static'],
      [{ 'token-file': tokenFile }, 'Bearer from-file'],
      [{ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [script], interactiveMode: 'Never' } }, 'Bearer from-plugin'],
    ];
    for (const [user, authorization] of cases) {
      const r = evaluate(kubeconfig(user));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(authorization);
      expect(r.modules.some((u) => u.includes('/node_modules/js-yaml/'))).toBe(true);
      expect(heavyIn(r)).toEqual([]);
    }
  });

  it('imports client-node for an auth-provider', () => {
    const r = evaluate(kubeconfig({ 'auth-provider': { name: 'gcp', config: { 'access-token': 'gcp-token' } } }));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('Bearer gcp-token');
    expect(heavyIn(r)).toEqual(['@kubernetes/client-node']);
  });

  it('kubewire proxy --no-tui starts without client-node, ink, react, the translation bridges or the audit chain', async () => {
    const { log, env } = importLog();
    const child = spawn(process.execPath, [
      `--import=${RECORDER}`, join(REPO_ROOT, 'bin', 'kubewire.js'), 'proxy', '--no-tui',
      '--kubeconfig', kubeconfig({ token: 't' }), '--log', join(root, 'proxy.jsonl'), '--write-kubeconfig', join(root, 'proxy.kubeconfig'),
    ], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString('utf8');
          if (out.includes('listening on')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`kubewire proxy exited (${code}) before listening: ${out}`)));
      });
    } finally {
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.on('exit', () => resolve())));
    }
    const modules = modulesIn(log);
    expect(modules.some((u) => u.endsWith('/dist/src/proxy/proxy-server.js'))).toBe(true);
    expect(HEAVY.filter((p) => packages(modules).has(p))).toEqual([]);
    // Without --translate and --audit, neither the translation bridges nor the audit chain load.
    const unused = ['translate/spdy-to-ws.js', 'translate/ws-to-spdy.js', 'translate/rbac-preflight.js', 'audit/chain.js', 'audit/identity.js', 'audit/seal-signature.js'];
    expect(unused.filter((m) => modules.some((u) => u.endsWith(`/dist/src/${m}`)))).toEqual([]);
  });
});
