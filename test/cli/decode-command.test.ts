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
    const r = runCli(['decode']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--s2c');
    const both = runCli(['decode', ...example('1.33-exec-tty-ws-v5'), '--findings', '--summary']);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('--findings');
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

  describe('--findings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubewire-decode-findings-'));
    /** Writes a capture of one connection: the client's bytes and the server's. */
    const capture = (name: string, c2s: string, s2c: string): string[] => {
      writeFileSync(join(dir, `${name}.c2s`), c2s, 'latin1');
      writeFileSync(join(dir, `${name}.s2c`), s2c, 'latin1');
      return ['--c2s', join(dir, `${name}.c2s`), '--s2c', join(dir, `${name}.s2c`)];
    };
    const wsExec = (user = 'creator'): string => [
      'GET /api/v1/namespaces/default/pods/web/exec?command=echo&command=ok&container=app&stdout=true&stderr=true HTTP/1.1',
      'Host: 127.0.0.1:6443', `User-Agent: kubectl/v1.33.1 (linux/amd64) kubernetes/abc ${user}`, 'Connection: Upgrade', 'Upgrade: websocket',
      'Sec-Websocket-Version: 13', 'Sec-Websocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-Websocket-Protocol: v5.channel.k8s.io,v4.channel.k8s.io', 'Kubectl-Session: 0c6a3f0e-4a2b-4c2e-9d5e-1f2a3b4c5d6e', '', '',
    ].join('\r\n');
    const statusAnswer = (code: number, reason: string, status: Record<string, unknown>): string => {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, ...status });
      return [`HTTP/1.1 ${code} ${reason}`, 'Audit-Id: 1b2c3d4e-0000-4000-8000-000000000001', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
    };

    it('a 403 from RBAC for want of get: rbac-verb-split, printed as kubewire run prints findings', () => {
      const args = capture('rbac', wsExec(), statusAnswer(403, 'Forbidden', {
        reason: 'Forbidden', message: 'pods "web" is forbidden: User "creator" cannot get resource "pods/exec" in API group "" in the namespace "default"', details: { name: 'web', kind: 'pods' },
      }));
      const r = runCli(['decode', ...args, '--findings']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^! error rbac-verb-split: RBAC: creator lacks "get" on pods\/exec: WebSocket needs both get and create \(fix: Add "get" to the Role bound to "creator"/m);
      // Only findings: no events.
      expect(r.stdout.trim().split('\n').every((l) => l.startsWith('! '))).toBe(true);
      const json = runCli(['decode', ...args, '--findings', '--json']);
      expect(json.status).toBe(0);
      const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(events.map((e) => e.type)).toEqual(events.map(() => 'finding'));
      expect(events.find((e) => e.rule === 'rbac-verb-split')).toMatchObject({ v: 2, severity: 'error', hop: { where: 'kubewire↔upstream' } });
      // The evidence points at the seqs of the events `decode` prints for the same capture.
      const all = runCli(['decode', ...args]).stdout.trim().split('\n').map((l) => JSON.parse(l));
      const seqs = events.find((e) => e.rule === 'rbac-verb-split').evidence.seqs as number[];
      expect(seqs.length).toBeGreaterThan(0);
      for (const seq of seqs) expect(['upgrade.request', 'upgrade.response', 'http.body']).toContain(all.find((e) => e.seq === seq)?.type);
    });

    it('a 400 "Upgrade request required": upgrade-stripped', () => {
      const args = capture('stripped', wsExec(), statusAnswer(400, 'Bad Request', { reason: 'BadRequest', message: 'Upgrade request required' }));
      const r = runCli(['decode', ...args, '--findings']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^! error upgrade-stripped: /m);
    });

    it('a healthy capture: no findings', () => {
      const r = runCli(['decode', ...example('1.33-portforward-spdy'), '--findings']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('no findings');
    });

    it.skipIf(!vectorsAvailable())('the real kubectl vector of a WebSocket 400 gives the rules\' findings, as proxy would', () => {
      const name = 'kubectl1.30-exec-fb-400-ws-rejected-400';
      const r = runCli(['decode', '--c2s', join(VECTORS_DIR, `${name}.c2s`), '--s2c', join(VECTORS_DIR, `${name}.s2c`), '--findings', '--json']);
      expect(r.status, r.stderr).toBe(0);
      const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(events.length).toBeGreaterThan(0);
      for (const e of events) expect(e).toMatchObject({ type: 'finding', rule: expect.any(String), fix: expect.any(String) });
    });
  });

  describe('one direction alone', () => {
    it('--s2c alone: the 101 and the server\'s frames, with a note that the client\'s side is absent', () => {
      const r = runCli(['decode', '--s2c', join(captures, '1.33-exec-tty-ws-v5.s2c')]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^kubewire: decoding the server's side alone \(no --c2s\)/);
      const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(events[0]).toMatchObject({ seq: 1 });
      expect(events.some((e) => e.type === 'upgrade.response' && e.status === 101)).toBe(true);
      expect(events.some((e) => e.type === 'k8s.data' && e.dir === 's2c')).toBe(true);
      expect(events.some((e) => e.type === 'k8s.status')).toBe(true);
      expect(events.some((e) => e.dir === 'c2s' && e.type !== 'conn.end')).toBe(false);
      expect(events.at(-1)).toMatchObject({ type: 'conn.summary', summary: { exitCode: 5 } });
    });

    it('--c2s alone: the request and the client\'s frames, read as the first offer would be, with a note', () => {
      const r = runCli(['decode', '--c2s', join(captures, '1.33-exec-tty-ws-v5.c2s'), '--text']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^kubewire: decoding the client's side alone \(no --s2c\)/);
      expect(r.stdout).toMatch(/upgrade\.request/);
      expect(r.stdout).toMatch(/decode\.stack .*assumed, with no server bytes/);
      expect(r.stdout).toMatch(/k8s\.resize/);
      expect(r.stdout).not.toMatch(/upgrade\.response/);
      expect(r.stdout).not.toMatch(/KW_UNANSWERED_BYTES/);
      const spdy = runCli(['decode', '--c2s', join(captures, '1.27-exec-exit3-spdy.c2s'), '--summary']);
      expect(spdy.status, spdy.stderr).toBe(0);
      expect(JSON.parse(spdy.stdout)).toMatchObject({ transport: 'spdy', anomalies: 0 });
    });

    it('one side alone with --findings diagnoses what it holds without failing', () => {
      const r = runCli(['decode', '--s2c', join(captures, '1.33-exec-fb-403-ws-rejected-403.s2c'), '--findings']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().length).toBeGreaterThan(0);
    });
  });
});
