import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { canonical } from '../support/decode.js';
import { loadVector, REPO_ROOT, vectorsAvailable, VECTORS_DIR } from '../support/vectors.js';

const captures = join(REPO_ROOT, 'examples', 'captures');
const example = (name: string) => ['--c2s', join(captures, `${name}.c2s`), '--s2c', join(captures, `${name}.s2c`)];

describe('kubewire decode', () => {
  it('prints --help with the decode command', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('decode');
    const d = runCli(['decode', '--help']);
    expect(d.status).toBe(0);
    expect(d.stdout).toContain('--c2s');
    expect(d.stdout).toContain('--summary');
  });

  it('prints JSONL events by default, one valid JSON object per line, ending with the summary', () => {
    const r = runCli(['decode', ...example('1.33-exec-tty-ws-v5')]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ v: 2, seq: 1, type: 'upgrade.request' });
    expect(lines.map((e) => e.seq)).toEqual(lines.map((_, i) => i + 1));
    expect(lines.some((e) => e.type === 'k8s.resize' && e.width === 100 && e.height === 30)).toBe(true);
    expect(lines.at(-1)).toMatchObject({ type: 'conn.summary', summary: { exitCode: 5 } });
  });

  it('prints readable lines with --text', () => {
    const r = runCli(['decode', ...example('1.27-exec-exit3-spdy'), '--text']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/SYN_STREAM 1 streamtype=error/);
    expect(r.stdout).toMatch(/exit code 3 \(NonZeroExitCode\)/);
  });

  it('records payload heads only with --payload head', () => {
    const r = runCli(['decode', ...example('1.33-portforward-ws-tunnel-spdy'), '--payload', 'none']);
    expect(r.status).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => 'payload' in e && e.type !== 'ws.frame')).toEqual([]);
    expect(events.some((e) => e.type === 'pf.data' && e.tunnel === true && e.truncated === true)).toBe(true);
  });

  it.skipIf(!vectorsAvailable())('prints exactly the expectedSummary with --summary', () => {
    for (const name of ['kubectl1.33-exec-ws-v5', 'kubectl1.27-exec-status4-spdy', 'kubectl1.33-portforward-pferr-ws-tunnel-spdy', 'kubectl1.33-exec-fb-403-ws-rejected-403']) {
      const r = runCli(['decode', '--c2s', join(VECTORS_DIR, `${name}.c2s`), '--s2c', join(VECTORS_DIR, `${name}.s2c`), '--summary']);
      expect(r.status, r.stderr).toBe(0);
      expect(canonical(JSON.parse(r.stdout))).toEqual(canonical(loadVector(name).expectedSummary));
    }
  });

  it('fails with one line and exit code 2 on a missing or unreadable file', () => {
    const r = runCli(['decode', '--c2s', '/nonexistent/a.c2s', '--s2c', join(captures, '1.33-exec-tty-ws-v5.s2c')]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('cannot read --c2s /nonexistent/a.c2s: no such file');
    const dir = runCli(['decode', '--c2s', join(captures, '1.33-exec-tty-ws-v5.c2s'), '--s2c', captures]);
    expect(dir.status).toBe(2);
    expect(dir.stderr).toContain('is a directory');
  });

  it('fails with exit code 2 on missing options', () => {
    const r = runCli(['decode', '--c2s', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--s2c');
  });

  it('reports bytes that are not HTTP as an anomaly and exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubewire-decode-'));
    // A TLS ClientHello: someone saved the encrypted stream instead of the decrypted one.
    writeFileSync(join(dir, 'a.c2s'), Buffer.from('160301020001000200030300112233445566778899', 'hex'));
    writeFileSync(join(dir, 'a.s2c'), Buffer.alloc(0));
    const r = runCli(['decode', '--c2s', join(dir, 'a.c2s'), '--s2c', join(dir, 'a.s2c')]);
    expect(r.status).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'decode.anomaly', code: 'KW_HTTP_NOT_HTTP', dir: 'c2s', offset: 0, opaque: true });
    expect(events.at(-1)).toMatchObject({ type: 'conn.summary', summary: { anomalies: 1, transport: 'none' } });
  });

  it('decodes every bundled example capture without anomalies', () => {
    const names = [...new Set(readdirSync(captures).map((f) => f.replace(/\.(c2s|s2c)$/, '')))];
    expect(names.length).toBeGreaterThanOrEqual(5);
    for (const name of names) {
      const r = runCli(['decode', ...example(name), '--summary']);
      expect(r.status, name).toBe(0);
      expect(JSON.parse(r.stdout).anomalies, name).toBe(0);
    }
    expect(readFileSync(join(captures, '1.33-exec-tty-ws-v5.c2s')).subarray(0, 4).toString()).toBe('GET ');
  });
});
