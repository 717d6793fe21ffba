/**
 * The commands that only read files must not load the proxy's libraries: @kubernetes/client-node
 * alone more than doubles a bare Node process, and ink/react are only for the terminal view.
 * The built CLI runs under test/support/import-recorder.mjs, which writes down every module the
 * process imports (dynamic imports included), so the test sees what really loaded.
 */
import { spawnSync } from 'node:child_process';
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

function recorded(nodeArgs: string[]): Recorded {
  const log = join(root, `imports-${++n}.txt`);
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, [`--import=${RECORDER}`, ...nodeArgs], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    // A NODE_OPTIONS of the test runner's own must not add its hooks to the child's record.
    env: { ...process.env, NODE_OPTIONS: '', KUBEWIRE_IMPORT_LOG: log },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
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
