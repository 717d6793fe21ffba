/**
 * The audit sink on a real bus and real files: every event becomes one chained record in seq
 * order, seals carry the counts and hashes only the chain knows, rotation continues the chain,
 * and the result is what `verify` accepts. With `--max-size`, every file stays at or below it,
 * 64 KiB messages included: they are written in pieces, which readers join back.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { halfWrites, hookFileWrites } from '../support/file-writes.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditFile } from '../../src/audit/audit-file.js';
import { AuditSink } from '../../src/audit/audit-sink.js';
import { GENESIS, lineHashes } from '../../src/audit/chain.js';
import { readLogEvents } from '../../src/audit/log-reader.js';
import { runExport } from '../../src/cli/export-command.js';
import { runReplay } from '../../src/cli/replay-command.js';
import { Collector } from '../support/collector.js';
import { Lines } from '../support/lines-output.js';
import { rechainAuditLog } from '../support/audit-log.js';
import { verifyFiles } from '../../src/audit/verify.js';
import { expectValidLog, schemaErrors } from '../support/event-log.js';
import { EventBus } from '../../src/events/event-bus.js';
import { noteFor } from '../../src/events/notes.js';
import type { EventBody, KubewireEvent } from '../../src/events/types.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openSink(opts: { maxSize?: number; key?: Buffer; redact?: 'none' | 'echo-off' | 'all' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kubewire-auditsink-'));
  dirs.push(dir);
  const bus = new EventBus({ lossless: true });
  const publish = (body: EventBody, fields: { session?: string } = {}): void => void bus.publish(body, noteFor(body), fields);
  const sink = await AuditSink.open({ path: join(dir, 'audit.jsonl'), maxSize: opts.maxSize ?? null, key: opts.key ?? null, failMode: 'closed', redactStdin: opts.redact ?? 'none', publish });
  bus.addSink(sink);
  publish({
    type: 'audit.start', chain: sink.chain,
    identity: { source: 'kubeconfig', username: null, uid: null, groups: [], extra: {}, kubeconfigUser: 'jane', clientCertificate: null, reviewError: 'test' },
    os: { user: 'jane', uid: 1000, host: 'laptop', platform: 'linux/x64' }, kubewire: { version: '0.1.0', pid: 1 },
    cluster: { server: 'https://127.0.0.1:6443/', context: 'test', via: 'https://127.0.0.1:6443' }, redactStdin: opts.redact ?? 'none', failMode: 'closed', maxSize: opts.maxSize ?? null,
  });
  return { dir, bus, sink, publish };
}

function stdout(conn: string, text: string): EventBody {
  const b = Buffer.from(text);
  return { type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: b.length, payload: b.toString('base64') };
}

/** The file's lines as bytes, without their newlines: what format 2 hashes. */
function rawLines(path: string): Buffer[] {
  const bytes = readFileSync(path);
  const out: Buffer[] = [];
  for (let start = 0, nl = bytes.indexOf(0x0a); nl !== -1; start = nl + 1, nl = bytes.indexOf(0x0a, start)) out.push(bytes.subarray(start, nl));
  return out;
}

function lines(path: string): KubewireEvent[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as KubewireEvent);
}

describe('AuditSink', () => {
  it('chains every event in seq order and ends with a final seal that counts them', async () => {
    const { bus, sink, publish } = await openSink();
    for (let i = 0; i < 50; i++) bus.publish(stdout('c1', `line ${i}\n`), 'x', { session: 's1', conn: 'c1' });
    publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 's1' });
    publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
    await bus.close();
    const recs = expectValidLog(sink.path);
    expect(recs).toHaveLength(53);
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 53 }, (_, i) => i + 1));
    expect(recs[0]!.prev).toBe(GENESIS);
    expect(recs[0]).toMatchObject({ type: 'audit.start', chain: { algorithm: 'sha256', keyId: null, format: 3 } });
    const raw = rawLines(sink.path);
    for (let i = 0; i < recs.length; i++) {
      expect(lineHashes(raw[i]!, null)).toEqual({ claimed: recs[i]!.hash, computed: recs[i]!.hash });
      if (i > 0) expect(recs[i]!.prev).toBe(recs[i - 1]!.hash);
    }
    expect(recs[51]).toMatchObject({ type: 'audit.seal', scope: 'session', session: 's1', count: 50, last: recs[50]!.hash });
    expect(recs[52]).toMatchObject({ type: 'audit.seal', scope: 'file', part: 1, final: true, count: 52, last: recs[51]!.hash });
    expect((await verifyFiles([sink.path], { key: null })).status).toBe('consistent');
  });

  it('rotates at maxSize into numbered parts, each linked to the one before, and verify accepts the set', async () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef');
    const { dir, bus, sink, publish } = await openSink({ maxSize: 4096, key });
    for (let i = 0; i < 200; i++) bus.publish(stdout('c1', `${'x'.repeat(100)} ${i}\n`), 'x', { session: `s${i % 3}`, conn: 'c1' });
    for (const s of ['s0', 's1', 's2']) publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: s });
    publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
    await bus.close();
    const parts = readdirSync(dir).sort().map((f) => join(dir, f));
    expect(parts.length).toBeGreaterThan(3);
    expect(sink.path).toBe(join(dir, 'audit-0001.jsonl'));
    const second = lines(parts[1]!);
    const first = lines(parts[0]!);
    expect(first.at(-1)).toMatchObject({ type: 'audit.seal', scope: 'file', part: 1, final: false });
    expect(second[0]).toMatchObject({ type: 'audit.file', part: 2, previousFile: 'audit-0001.jsonl', previousHash: first.at(-1)!.hash, prev: first.at(-1)!.hash });
    expect((await verifyFiles(parts, { key })).status).toBe('intact');
    expect((await verifyFiles(parts, { key: null })).status).toBe('unreadable');
  });

  it('writes large records through reused memory and rotations: verify accepts them, payloads as published', async () => {
    const { dir, bus, sink, publish } = await openSink({ maxSize: 1024 * 1024 });
    const sent: string[] = [];
    for (let i = 0; i < 300; i++) {
      const raw = Buffer.alloc((i * 7919) % (32 * 1024), i & 0xff);
      for (let k = 0; k < raw.length; k += 61) raw[k] = (k * i) & 0xff;
      const body: EventBody = { type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: raw.length, payload: raw.toString('base64') };
      sent.push(body.payload!);
      bus.publish(body, `chunk ${i} ✓`, { session: 's1', conn: 'c1' });
      if (!bus.writable) await new Promise<void>((resolve) => bus.onWritable(resolve));
    }
    publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 's1' });
    publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
    await bus.close();
    const parts = readdirSync(dir).sort().map((f) => join(dir, f));
    expect(parts.length).toBeGreaterThan(5);
    expect((await verifyFiles(parts, { key: null })).status).toBe('consistent');
    const data = parts.flatMap(lines).filter((r): r is KubewireEvent & { type: 'k8s.data' } => r.type === 'k8s.data');
    expect(data.map((r) => r.payload)).toEqual(sent);
    expect(data.map((r) => r.note)).toEqual(sent.map((_, i) => `chunk ${i} ✓`));
  });

  describe('--max-size 64K with 64 KiB messages', () => {
    const MAX = 64 * 1024;
    const ids = { session: 'big-session', conn: 'c1' };
    /** An exec session whose stdout is `messages`, with small records between them, in a log rotating at MAX. */
    async function bigLog(messages: Buffer[]): Promise<{ dir: string; parts: string[] }> {
      const { dir, bus, publish } = await openSink({ maxSize: MAX });
      const k8s = { operation: 'exec', namespace: 'default', pod: 'web', container: null, command: ['cat', 'big'], stdin: false, stdout: true, stderr: false, tty: false, ports: [] } as const;
      bus.publish({
        type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: '/api/v1/namespaces/default/pods/web/exec?command=cat', path: '/api/v1/namespaces/default/pods/web/exec',
        version: 'HTTP/1.1', headers: [], upgrade: 'websocket', offered: ['v5.channel.k8s.io'], kubectlSession: ids.session, kubectlCommand: 'kubectl exec', userAgent: null, k8s: { ...k8s, command: [...k8s.command], ports: [] },
      }, 'request', ids);
      bus.publish({
        type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1',
        headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io']], protocol: 'v5.channel.k8s.io', auditId: null, server: null, contentType: null,
      }, 'response', ids);
      let offset = 0;
      for (const m of messages) {
        bus.publish({ type: 'k8s.data', dir: 's2c', offset, channel: 1, stream: 'stdout', size: m.length, payload: m.toString('base64') }, 'stdout', ids);
        offset += m.length;
        bus.publish({ type: 'ws.frame', dir: 's2c', offset, opcode: 2, kind: 'binary', fin: true, rsv: 0, masked: false, length: 0 }, 'frame', ids);
        if (!bus.writable) await new Promise<void>((resolve) => bus.onWritable(resolve));
      }
      bus.publish({ type: 'k8s.status', dir: 's2c', offset, status: 'Success', reason: null, message: null, code: null, format: 'json', exitCode: 0, raw: '{}' }, 'status', ids);
      bus.publish({ type: 'conn.close', closedBy: 'upstream', bytes: { c2s: 100, s2c: offset }, durationMs: 30, error: null }, 'close', ids);
      publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: ids.session });
      publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
      await bus.close();
      return { dir, parts: readdirSync(dir).sort().map((f) => join(dir, f)) };
    }
    const random = (n: number, seed: number): Buffer => {
      const b = Buffer.alloc(n);
      let x = seed;
      for (let i = 0; i < n; i++) b[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
      return b;
    };
    const messages = [64 * 1024, 100, 64 * 1024, 64 * 1024 - 1, 3000, 40_000, 64 * 1024, 1].map((n, i) => random(n, i + 1));

    it('keeps every file at or below the size, and verify accepts the chain', async () => {
      const { parts } = await bigLog(messages);
      expect(parts.length).toBeGreaterThan(5);
      for (const p of parts) expect(statSync(p).size, p).toBeLessThanOrEqual(MAX);
      const v = await verifyFiles(parts, { key: null });
      expect(v.problem).toBeNull();
      expect(v.status).toBe('consistent');
      const records = parts.flatMap(lines);
      // A 64 KiB message is cut into pieces of one seq; a rotation's seal and audit.file repeat the seq before them.
      const pieces = records.filter((r) => (r as { piece?: unknown }).piece !== undefined);
      expect(pieces.length).toBeGreaterThanOrEqual(8);
      for (const r of records) expect(schemaErrors(r), JSON.stringify(r).slice(0, 200)).toEqual([]);
      for (let i = 1; i < parts.length; i++) {
        const before = lines(parts[i - 1]!);
        const seal = before.at(-1)!;
        expect(seal).toMatchObject({ type: 'audit.seal', scope: 'file', final: false, seq: before.at(-2)!.seq });
        expect(lines(parts[i]!)[0]).toMatchObject({ type: 'audit.file', part: i + 1, seq: seal.seq });
      }
    });

    it('reads the messages back whole: the log reader, replay and the asciicast export', async () => {
      const { parts } = await bigLog(messages);
      const data: Buffer[] = [];
      for await (const e of readLogEvents(parts)) {
        if (e.type === 'k8s.data') {
          expect(e).not.toHaveProperty('piece');
          data.push(Buffer.from(e.payload ?? '', 'base64'));
          expect(data.at(-1)!.length).toBe(e.size);
        }
      }
      expect(data).toEqual(messages);
      const bytes: Buffer[] = [];
      const replayed = new Collector();
      replayed._write = (chunk: Buffer, _e, cb) => {
        bytes.push(Buffer.from(chunk));
        cb();
      };
      expect(await runReplay({ files: parts, speed: 1000 }, replayed, new Collector(), new Lines())).toBe(0);
      // One write per message, as it was sent.
      expect(bytes).toEqual(messages);
      const cast = new Collector();
      expect(await runExport({ files: parts, format: 'asciicast' }, cast, new Lines())).toBe(0);
      expect(cast.lines.slice(1).filter((l) => l.includes('"o"'))).toHaveLength(messages.length);
    });

    it('shows a piece removed and the chain recomputed without a key', async () => {
      const { parts } = await bigLog(messages.slice(0, 1));
      let dropped = false;
      rechainAuditLog(parts, {
        key: null,
        edit: (r) => {
          const piece = r['piece'] as { index: number } | undefined;
          if (!dropped && piece?.index === 1) {
            dropped = true;
            return null;
          }
          return r;
        },
        recount: true,
      });
      expect(dropped).toBe(true);
      const v = await verifyFiles(parts, { key: null });
      expect(v.status).toBe('tampered');
      expect(v.problem?.message).toMatch(/follows piece 1 of \d+ of seq \d+ \(k8s\.data, from line \d+.*\): piece 2 of \d+ of that event is missing/);
    });
  });

  it('refuses to start a chain in a file that exists', async () => {
    const { sink, bus } = await openSink();
    await bus.close();
    await expect(AuditSink.open({ path: sink.path, maxSize: null, key: null, failMode: 'closed', redactStdin: 'none', publish: () => {} })).rejects.toThrow(/audit\.jsonl: the file already exists; an audit chain starts in a new file/);
  });

  it('--redact-stdin all keeps the length of stdin and nothing else', async () => {
    const { bus, sink, publish } = await openSink({ redact: 'all' });
    const secret = Buffer.from('hunter2\n');
    bus.publish({ type: 'k8s.data', dir: 'c2s', offset: 0, channel: 0, stream: 'stdin', size: secret.length, payload: secret.toString('base64') }, 'x', { session: 's1', conn: 'c1' });
    publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
    await bus.close();
    const text = readFileSync(sink.path, 'utf8');
    expect(text).not.toContain(secret.toString('base64'));
    expect(lines(sink.path)[1]).toMatchObject({ type: 'k8s.data', stream: 'stdin', size: 8, redacted: 'all' });
    const v = await verifyFiles([sink.path], { key: null });
    expect(v.problem).toMatchObject({ message: expect.stringMatching(/session s1/) });
  });
});

describe('AuditFile', () => {
  const lineOf = (n: number, fill: string): Buffer => Buffer.from(`${fill.repeat(n)}\n`);

  it('finishes short writes, in order, at the right offset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubewire-auditfile-'));
    dirs.push(dir);
    await halfWrites(dir);
    const file = await AuditFile.create(join(dir, 'a.jsonl'));
    const batches = [[lineOf(100, 'a'), lineOf(3, 'b')], [lineOf(1, 'c')], [Buffer.concat([lineOf(50, 'd'), lineOf(7, 'e')])]];
    for (const b of batches) await file.append(b);
    await file.close();
    const want = Buffer.concat(batches.flat());
    expect(readFileSync(join(dir, 'a.jsonl'))).toEqual(want);
    expect(file.bytes).toBe(want.length);
  });

  it('cuts a write that failed half way back to the last record, and writes on from there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubewire-auditfile-'));
    dirs.push(dir);
    const path = join(dir, 'a.jsonl');
    const file = await AuditFile.create(path);
    await file.append([lineOf(10, 'a')]);
    let calls = 0;
    // The first write of the batch lands in part, the next finds the disk full.
    await hookFileWrites(dir, (bufs, position, real) => {
      if (calls++ > 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return real([bufs[0]!.subarray(0, 5)], position);
    });
    await expect(file.append([lineOf(20, 'b'), lineOf(20, 'c')])).rejects.toMatchObject({ code: 'ENOSPC' });
    vi.restoreAllMocks();
    expect(readFileSync(path, 'utf8')).toBe(`${'a'.repeat(10)}\n`);
    await file.append([lineOf(4, 'd')]);
    await file.close();
    expect(readFileSync(path, 'utf8')).toBe(`${'a'.repeat(10)}\n${'d'.repeat(4)}\n`);
  });
});
