/**
 * The pod sandbox: per-pod directories and the argument mapping that keeps pod paths inside
 * them, including the exact tar commands kubectl cp runs (protocol.md B §2).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PodSandbox } from '../../src/demo/sandbox.js';
import { fakePod } from './fixtures.js';

const sandboxes: PodSandbox[] = [];
async function newSandbox(pods = [fakePod()]): Promise<PodSandbox> {
  const s = await PodSandbox.create(pods);
  sandboxes.push(s);
  return s;
}
afterEach(async () => {
  for (const s of sandboxes.splice(0)) await s.dispose();
});

describe('PodSandbox', () => {
  it('creates a directory per pod with the demo files', async () => {
    const pod = fakePod();
    const sandbox = await newSandbox([pod]);
    const dir = sandbox.podDir(pod);
    expect(path.basename(sandbox.root)).toMatch(/^kubewire-demo-/);
    expect(dir.startsWith(sandbox.root + path.sep)).toBe(true);
    expect(readFileSync(path.join(dir, 'etc/hostname'), 'utf8')).toBe('web\n');
    expect(readFileSync(path.join(dir, 'data/remote.txt'), 'utf8').split('\n').length).toBeGreaterThan(2);
    expect(readFileSync(path.join(dir, 'README.txt'), 'utf8')).toContain('default/web');
    expect(existsSync(path.join(dir, 'tmp'))).toBe(true);
  });

  it('creates a pod directory on first use and keeps pods apart', async () => {
    const sandbox = await newSandbox([]);
    const a = sandbox.podDir(fakePod({ name: 'a' }));
    const b = sandbox.podDir(fakePod({ name: 'b' }));
    expect(a).not.toBe(b);
    expect(readFileSync(path.join(b, 'etc/hostname'), 'utf8')).toBe('b\n');
    expect(sandbox.podDir(fakePod({ name: '..' })).startsWith(sandbox.root + path.sep)).toBe(true);
  });

  it('dispose removes the root and can be called twice', async () => {
    const sandbox = await PodSandbox.create([fakePod()]);
    expect(existsSync(sandbox.root)).toBe(true);
    await sandbox.dispose();
    await sandbox.dispose();
    expect(existsSync(sandbox.root)).toBe(false);
    expect(() => sandbox.podDir(fakePod())).toThrow(/disposed/);
  });

  it('maps absolute arguments into the pod directory, not argv[0] or relative ones', async () => {
    const pod = fakePod();
    const sandbox = await newSandbox([pod]);
    const dir = sandbox.podDir(pod);
    const cmd = sandbox.mapCommand(pod, ['/bin/cat', '/data/remote.txt', 'rel.txt', '-n', '/../../etc/passwd', '/'], { tty: false });
    expect(cmd.file).toBe('/bin/cat');
    expect(cmd.args).toEqual([`${dir}/data/remote.txt`, 'rel.txt', '-n', `${dir}/etc/passwd`, dir]);
    expect(cmd.cwd).toBe(dir);
    expect(cmd.env).toMatchObject({ HOME: dir, HOSTNAME: 'web' });
    expect(cmd.env['PATH']).toBeTruthy();
    expect(cmd.env['TERM']).toBeUndefined();
    expect(sandbox.mapCommand(pod, ['sh'], { tty: true }).env['TERM']).toBe('xterm-256color');
  });

  it('makes tar create members relative to the pod root (kubectl cp from a pod)', async () => {
    const pod = fakePod();
    const sandbox = await newSandbox([pod]);
    const dir = sandbox.podDir(pod);
    expect(sandbox.mapCommand(pod, ['tar', 'cf', '-', '/data/remote.txt'], { tty: false }).args).toEqual(['cf', '-', '-C', dir, 'data/remote.txt']);
    expect(sandbox.mapCommand(pod, ['tar', '-czf', '/tmp/a.tgz', '/data', 'etc'], { tty: false }).args).toEqual([
      '-czf', `${dir}/tmp/a.tgz`, '-C', dir, 'data', 'etc',
    ]);
    expect(sandbox.mapCommand(pod, ['tar', '-cf', '-', '-C', '/data', 'remote.txt', '/etc/hostname'], { tty: false }).args).toEqual([
      '-cf', '-', '-C', `${dir}/data`, 'remote.txt', '-C', dir, 'etc/hostname',
    ]);
  });

  it('maps the -C of tar extract (kubectl cp into a pod) and leaves member names alone', async () => {
    const pod = fakePod();
    const sandbox = await newSandbox([pod]);
    const dir = sandbox.podDir(pod);
    expect(sandbox.mapCommand(pod, ['tar', '-xmf', '-', '-C', '/tmp'], { tty: false }).args).toEqual(['-xmf', '-', '-C', `${dir}/tmp`]);
    expect(sandbox.mapCommand(pod, ['tar', 'xf', '/tmp/a.tar', '--directory=/data', 'x/y'], { tty: false }).args).toEqual([
      'xf', `${dir}/tmp/a.tar`, `--directory=${dir}/data`, 'x/y',
    ]);
  });

  it('produces an archive holding data/remote.txt, as a real pod would', async () => {
    const pod = fakePod();
    const sandbox = await newSandbox([pod]);
    const cmd = sandbox.mapCommand(pod, ['tar', 'cf', '-', '/data/remote.txt'], { tty: false });
    const archive = execFileSync(cmd.file, cmd.args, { cwd: '/', env: cmd.env });
    const listing = execFileSync('tar', ['tf', '-'], { input: archive }).toString();
    expect(listing).toBe('data/remote.txt\n');
  });
});
