/**
 * `kubewire verify`: untouched audit logs pass (long, rotated, interleaved, with a recorded
 * gap), and each way of tampering with one is caught and named with its file, line and kind:
 * a flipped payload byte, a deleted line, swapped lines, a cut tail, a missing or misplaced
 * part, a chain recomputed without the key. Exit codes: 0 intact, 1 tampered, 2 unreadable.
 * All of it for chain formats 2 and 1, as older writers wrote them; what format 3 adds (the
 * records of a rotation, the pieces of an event) at the end, and from the writer itself in
 * test/audit/audit-sink.test.ts.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChainLinker, keyIdOf } from '../../src/audit/chain.js';
import { verifyFiles, type VerifyResult } from '../../src/audit/verify.js';
import { runVerify } from '../../src/cli/verify-command.js';
import { rechainAuditLog, writeAuditLog, type AuditLogSpec } from '../support/audit-log.js';
import { CanonicalChainLinker, chainInfoOf, type ChainFormat } from '../support/chain-v1.js';
import { Lines } from '../support/lines-output.js';

const root = mkdtempSync(join(tmpdir(), 'kubewire-verify-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (name: string): string => {
  const dir = join(root, `${++n}-${name}`);
  mkdirSync(dir);
  return dir;
};

const KEY = Buffer.from('k3y-for-the-audit-chain-tests-0123456789');
const keyFile = join(root, 'audit.key');
writeFileSync(keyFile, KEY.toString('latin1') + '\n');

/** Logs in `format` under a fresh directory; keyed unless the spec says otherwise. */
const logsOf = (format: ChainFormat) => (name: string, spec: Omit<AuditLogSpec, 'dir'> = {}): string[] => writeAuditLog({ key: KEY, format, ...spec, dir: freshDir(name) }).files;

interface Verified {
  result: VerifyResult;
  code: number;
  out: string[];
  err: string[];
  /** The human output of the same run. */
  text: string[];
  textErr: string[];
}

/** Runs `kubewire verify` twice, with --json (parsed) and without, and checks they agree. */
async function verify(files: string[], withKey = true): Promise<Verified> {
  const opts = { files, ...(withKey ? { keyFile } : {}) };
  const out = new Lines();
  const err = new Lines();
  const code = await runVerify({ ...opts, json: true }, out, err);
  expect(out.lines).toHaveLength(1);
  const result = JSON.parse(out.lines[0]!) as VerifyResult;
  const text = new Lines();
  const textErr = new Lines();
  expect(await runVerify(opts, text, textErr)).toBe(code);
  return { result, code, out: out.lines, err: err.lines, text: text.lines, textErr: textErr.lines };
}

async function expectTampered(files: string[], kind: string, file: string, line: number | null, withKey = true): Promise<VerifyResult> {
  const v = await verify(files, withKey);
  expect(v.result.problem, JSON.stringify(v.result)).not.toBeNull();
  expect({ status: v.result.status, code: v.code, kind: v.result.problem!.kind, file: v.result.problem!.file, line: v.result.problem!.line }).toEqual({ status: 'tampered', code: 1, kind, file, line });
  expect(v.text).toEqual([`tampered: ${file}${line === null ? '' : `:${line}`}: ${v.result.problem!.message}`]);
  return v.result;
}

// Line editing: 1-based line numbers, the file's final newline kept.
const linesOf = (file: string): string[] => readFileSync(file, 'utf8').replace(/\n$/, '').split('\n');
const writeLines = (file: string, lines: string[]): void => writeFileSync(file, lines.join('\n') + '\n');
const recordAt = (file: string, line: number): Record<string, unknown> => JSON.parse(linesOf(file)[line - 1]!) as Record<string, unknown>;
/** The 1-based number of the first line from `from` on whose record satisfies `pred`. */
function findLine(file: string, pred: (r: Record<string, unknown>) => boolean, from = 1): number {
  const lines = linesOf(file);
  for (let i = from - 1; i < lines.length; i++) if (pred(JSON.parse(lines[i]!) as Record<string, unknown>)) return i + 1;
  throw new Error(`no such line in ${file}`);
}

describe.each([2, 1] as const)('chain format %i', (format) => {
  const log = logsOf(format);

  describe('kubewire verify: untouched logs', () => {
    it('passes a single keyed file and says so with the counts, the chain and the last hash', async () => {
      const dir = freshDir('single');
      const built = writeAuditLog({ dir, key: KEY, format, records: 250 });
      expect(built.files).toEqual([join(dir, 'audit.jsonl')]);
      const v = await verify(built.files);
      expect(v.code).toBe(0);
      expect(v.result).toMatchObject({ status: 'intact', problem: null, records: built.records, sessionsSealed: built.sessions, final: true, lastHash: built.lastHash, chain: { algorithm: 'hmac-sha256', keyId: keyIdOf(KEY) } });
      expect(v.result.files).toEqual([{ path: built.files[0], part: 1, records: built.records }]);
      expect(v.text).toEqual([`intact: 1 file, ${built.records} records, ${built.sessions} sessions sealed, chain hmac-sha256 (key ${keyIdOf(KEY)}), ends with a final seal; last hash ${built.lastHash}`]);
      expect(v.err).toEqual([]);
    });

    it('passes a plain SHA-256 chain without a key, and notes what a keyless chain cannot show', async () => {
      const files = log('plain', { key: null, records: 120 });
      const v = await verify(files, false);
      expect(v.code).toBe(0);
      expect(v.result.chain).toEqual(chainInfoOf(null, format));
      expect(v.text[0]).toMatch(/^consistent, unauthenticated: 1 file, \d+ records, \d+ sessions sealed, chain sha256, ends with a final seal; last hash [0-9a-f]{64}$/);
      expect(v.text[1]).toMatch(/^note: the chain has no key/);
    });

    it('passes rotated parts with interleaved sessions, a late record sealed again and a recorded gap, and lists the gap', async () => {
      const built = writeAuditLog({ dir: freshDir('rotated'), key: KEY, format, records: 600, parts: 3, concurrency: 4, gap: { after: 250, records: 7 } });
      const v = await verify(built.files);
      expect(v.code).toBe(0);
      expect(v.result.status).toBe('intact');
      expect(v.result.files.map((f) => f.part)).toEqual([1, 2, 3]);
      expect(v.result.records).toBe(built.records);
      const { fromSeq, toSeq } = built.gaps[0]!;
      expect(toSeq - fromSeq + 1).toBe(7);
      const gapFile = built.files.find((f) => readFileSync(f, 'utf8').includes('"type":"audit.gap"'))!;
      const gapLine = findLine(gapFile, (r) => r['type'] === 'audit.gap');
      expect(v.result.gaps).toEqual([{ file: gapFile, line: gapLine, fromSeq, toSeq, reason: 'ENOSPC: no space left on device, write' }]);
      expect(v.text[1]).toBe(`gap: ${gapFile}:${gapLine}: seqs ${fromSeq}..${toSeq} (7 records) were not written: ENOSPC: no space left on device, write`);
      // Sessions span parts: at least one session's records are in two files.
      const sessionsIn = built.files.map((f) => new Set(linesOf(f).map((l) => (JSON.parse(l) as { session?: string }).session).filter(Boolean)));
      expect([...sessionsIn[0]!].some((s) => sessionsIn[1]!.has(s))).toBe(true);
    });

    it('passes a long session log: 20,000+ records in 4 parts, with a gap', async () => {
      const built = writeAuditLog({ dir: freshDir('long'), key: KEY, format, records: 20_000, parts: 4, concurrency: 8, gap: { after: 9_000, records: 40 }, seed: 7 });
      expect(built.records).toBeGreaterThanOrEqual(20_000);
      const v = await verify(built.files);
      expect(v.code).toBe(0);
      expect(v.result).toMatchObject({ status: 'intact', records: built.records, sessionsSealed: built.sessions, final: true, lastHash: built.lastHash });
      expect(v.result.files.map((f) => f.part)).toEqual([1, 2, 3, 4]);
      expect(v.result.files.reduce((sum, f) => sum + f.records, 0)).toBe(built.records);
      expect(v.result.gaps).toHaveLength(1);
    }, 60_000);

    it('accepts a gap record that lost nothing (a retry no longer needed) as an ordinary record', async () => {
      const files = log('idle-gap', { key: null, records: 80 });
      const at = findLine(files[0]!, (r) => r['type'] === 'k8s.data');
      const gap = { v: 1, seq: 0, ts: '2026-11-21T10:00:01.000000Z', type: 'audit.gap', reason: 'ENOSPC: no space left on device, write', code: 'ENOSPC', fromSeq: null, toSeq: null, records: 0, since: '2026-11-21T10:00:00.000000Z', failMode: 'open', note: 'gap' };
      // Inserted as the writer would: in seq order, the counts of the seals after it up to date.
      rechainAuditLog(files, { key: null, from: { file: 0, line: at }, renumber: true, recount: true, edit: (r, pos) => (pos.line === at ? [gap, r] : r) });
      expect(recordAt(files[0]!, at)['type']).toBe('audit.gap');
      const v = await verify(files, false);
      expect(v.result.status, JSON.stringify(v.result.problem)).toBe('consistent');
      expect(v.result.gaps).toEqual([]);
    });
  });

  describe('kubewire verify: tampering', () => {
    it('a flipped byte in a payload: changed, at that line', async () => {
      const files = log('flip', { parts: 2, records: 300 });
      const file = files[1]!;
      const line = findLine(file, (r) => r['type'] === 'k8s.data' && typeof r['payload'] === 'string', 20);
      const text = readFileSync(file);
      const lineStart = text.indexOf(Buffer.from(linesOf(file)[line - 1]!));
      const payloadAt = text.indexOf(Buffer.from('"payload":"'), lineStart) + '"payload":"'.length + 3;
      text[payloadAt] = text[payloadAt]! ^ 0x01;
      writeFileSync(file, text);
      const r = await expectTampered(files, 'changed', file, line);
      expect(r.problem!.message).toBe(`line ${line} (seq ${r.problem!.seq}, k8s.data) was changed: its hash does not match its content`);
      expect(r.files[1]!.records).toBe(line - 1);
    });

    it('a line that is no longer JSON in the middle of a file: changed', async () => {
      const files = log('not-json', { records: 100 });
      const lines = linesOf(files[0]!);
      lines[40] = lines[40]!.replace(':', ' ');
      writeLines(files[0]!, lines);
      const r = await expectTampered(files, 'changed', files[0]!, 41);
      expect(r.problem!.message).toBe('line 41 is not JSON; it was changed');
    });

    it('a deleted line: missing, at the line after the hole', async () => {
      const files = log('deleted', { parts: 3, records: 300 });
      const file = files[1]!;
      const lines = linesOf(file);
      const removed = JSON.parse(lines[29]!) as { seq: number };
      lines.splice(29, 1);
      writeLines(file, lines);
      const r = await expectTampered(files, 'missing', file, 30);
      expect(r.problem!.message).toBe(`seq ${removed.seq} is missing: line 30 (seq ${removed.seq + 1}) follows line 29 (seq ${removed.seq - 1}) and its prev does not match that record's hash; a record was removed`);
    });

    it('several deleted lines: missing, with the range', async () => {
      const files = log('deleted-many', { records: 200 });
      const lines = linesOf(files[0]!);
      const first = (JSON.parse(lines[50]!) as { seq: number }).seq;
      lines.splice(50, 4);
      writeLines(files[0]!, lines);
      const r = await expectTampered(files, 'missing', files[0]!, 51);
      expect(r.problem!.message).toMatch(new RegExp(`^seqs ${first}\\.\\.${first + 3} are missing: .*4 records were removed$`));
    });

    it('two swapped lines: reordered, naming where the displaced record is', async () => {
      const files = log('swapped', { parts: 2, records: 200 });
      const file = files[0]!;
      const lines = linesOf(file);
      [lines[19], lines[20]] = [lines[20]!, lines[19]!];
      writeLines(file, lines);
      const seq20 = (JSON.parse(lines[19]!) as { seq: number }).seq;
      const r = await expectTampered(files, 'reordered', file, 20);
      expect(r.problem!.message).toBe(`line 20 (seq ${seq20}) comes before seq ${seq20 - 1}, which is at line 21: records were moved`);
    });

    it('a record moved far ahead: reordered', async () => {
      const files = log('moved', { records: 200 });
      const lines = linesOf(files[0]!);
      const [moved] = lines.splice(30, 1);
      lines.splice(120, 0, moved!);
      writeLines(files[0]!, lines);
      const r = await expectTampered(files, 'reordered', files[0]!, 31);
      expect(r.problem!.message).toMatch(/, which is at line 121: records were moved$/);
    });

    it('a cut-off last line: truncated, at that line', async () => {
      const files = log('cut', { parts: 2, records: 200 });
      const file = files[1]!;
      const lines = linesOf(file);
      const full = readFileSync(file);
      truncateSync(file, full.length - 25);
      const r = await expectTampered(files, 'truncated', file, lines.length);
      expect(r.problem!.message).toBe(`line ${lines.length} is cut short: the file ends inside a record (no newline, not complete JSON), so its end was cut off`);
    });

    it('whole lines removed from the end, seal included: truncated, at the last line left', async () => {
      const files = log('tail', { parts: 2, records: 200 });
      const file = files[1]!;
      const lines = linesOf(file);
      const kept = lines.slice(0, lines.length - 5);
      writeLines(file, kept);
      const last = JSON.parse(kept[kept.length - 1]!) as { seq: number; type: string };
      const r = await expectTampered(files, 'truncated', file, kept.length);
      expect(r.problem!.message).toBe(`the file ends at line ${kept.length} (seq ${last.seq}, ${last.type}) without the seal that closes every file: lines were removed from its end (or kubewire is still writing it, or stopped before it could seal it)`);
    });

    it('only the seal line removed from a middle part: truncated, in that part', async () => {
      const files = log('no-seal', { parts: 3, records: 300 });
      const lines = linesOf(files[1]!);
      writeLines(files[1]!, lines.slice(0, -1));
      await expectTampered(files, 'truncated', files[1]!, lines.length - 1);
    });

    it('a missing middle part: missing, naming the part and its file', async () => {
      const files = log('gap-file', { parts: 3, records: 300 });
      const r = await expectTampered([files[0]!, files[2]!], 'missing', files[2]!, 1);
      expect(r.problem!.message).toBe(`part 2 (${basename(files[1]!)}) is missing: ${files[2]} is part 3 and ${files[0]} is part 1`);
    });

    it('the last parts not given: missing, naming the next part', async () => {
      const files = log('no-last', { parts: 3, records: 300 });
      const sealLine = linesOf(files[1]!).length;
      const r = await expectTampered(files.slice(0, 2), 'missing', files[1]!, sealLine);
      expect(r.problem!.message).toContain(`its seal (line ${sealLine}) is not final, and part 3 (${basename(files[2]!)}) was not given`);
    });

    it('the first part not given: missing', async () => {
      const files = log('no-first', { parts: 3, records: 300 });
      const r = await expectTampered(files.slice(1), 'missing', files[1]!, 1);
      expect(r.problem!.message).toContain(`part 1 (${basename(files[0]!)}) is missing`);
    });

    it('files out of order: file-order, with the right order', async () => {
      const files = log('order', { parts: 3, records: 300 });
      const right = files.join(' ');
      let r = await expectTampered([files[0]!, files[2]!, files[1]!], 'file-order', files[2]!, 1);
      expect(r.problem!.message).toBe(`${files[2]} is part 3, but part 2 (${files[1]}) is given after it; give the parts in order: ${right}`);
      r = await expectTampered([files[1]!, files[0]!, files[2]!], 'file-order', files[1]!, 1);
      expect(r.problem!.message).toContain(`give the parts in order: ${right}`);
      r = await expectTampered([files[0]!, files[1]!, files[1]!, files[2]!], 'file-order', files[1]!, 1);
      expect(r.problem!.message).toBe(`${files[1]} is part 2, given twice; give each part once, in order: ${right}`);
    });

    it('a part of another chain: changed, it does not continue the part before', async () => {
      const a = log('chain-a', { parts: 2, records: 200, seed: 1 });
      const b = log('chain-b', { parts: 2, records: 200, seed: 2 });
      const r = await expectTampered([a[0]!, b[1]!], 'changed', b[1]!, 1);
      expect(r.problem!.message).toContain(`does not continue ${a[0]}`);
    });

    it('lines added after a seal: changed', async () => {
      const files = log('appended', { records: 100 });
      const lines = linesOf(files[0]!);
      writeLines(files[0]!, [...lines, lines[5]!]);
      await expectTampered(files, 'changed', files[0]!, lines.length + 1);
    });

    it('with a key: a record edited and every later hash recomputed with plain SHA-256 is caught at the edit', async () => {
      const files = log('resha', { parts: 2, records: 300 });
      const file = files[1]!;
      const line = findLine(file, (r) => r['type'] === 'k8s.data' && r['stream'] === 'stdout', 40);
      rechainAuditLog(files, {
        key: null,
        from: { file: 1, line },
        edit: (r, at) => (at.file === 1 && at.line === line ? { ...r, payload: Buffer.from('nothing to see here').toString('base64') } : r),
      });
      const r = await expectTampered(files, 'changed', file, line);
      expect(r.problem!.message).toBe(`line ${line} (seq ${r.problem!.seq}, k8s.data) was changed: its hash does not match its content (the hash is plain SHA-256, made without the key: the record was edited and its hash recomputed)`);
    });

    it('with a key: audit.start rewritten as sha256 and the whole chain recomputed is tampering (kind key); without the key it is consistent, unauthenticated, not intact', async () => {
      const files = log('rekey', { parts: 2, records: 200 });
      rechainAuditLog(files, {
        key: null,
        edit: (r) => (r['type'] === 'audit.start' || r['type'] === 'audit.file' ? { ...r, chain: { algorithm: 'sha256', keyId: null } } : r),
      });
      const r = await expectTampered(files, 'key', files[0]!, 1);
      expect(r.problem!.message).toMatch(/^line 1 \(seq 1, audit\.start\) declares a plain SHA-256 chain, but a key was given/);
      // Without the key the rewritten chain is consistent, but never intact: nothing authenticates it.
      expect((await verify(files, false)).result.status).toBe('consistent');
    });

    it('a line written anew with the same JSON value: changed in format 2, whose hash is over the bytes; format 1 hashes the value', async () => {
      const files = log('respaced', { records: 100 });
      const lines = linesOf(files[0]!);
      lines[30] = lines[30]!.replace('{"v":', '{ "v": ');
      writeLines(files[0]!, lines);
      if (format === 1) {
        expect((await verify(files)).result.status).toBe('intact');
        return;
      }
      const r = await expectTampered(files, 'changed', files[0]!, 31);
      expect(r.problem!.message).toBe(`line 31 (seq ${r.problem!.seq}, ${String(recordAt(files[0]!, 31)['type'])}) was changed: its hash does not match its content`);
    });

    it('with a key: the chain relabelled as the other format and recomputed without the key: changed at line 1', async () => {
      const files = log('reformat', { parts: 2, records: 200 });
      const other = (chain: unknown): unknown => {
        const { format: _format, ...rest } = chain as Record<string, unknown>;
        return format === 2 ? rest : { ...rest, format: 2 };
      };
      rechainAuditLog(files, { key: null, edit: (r) => (r['type'] === 'audit.start' || r['type'] === 'audit.file' ? { ...r, chain: other(r['chain']) } : r) });
      const r = await expectTampered(files, 'changed', files[0]!, 1);
      expect(r.problem!.message).toBe('line 1 (seq 1, audit.start) was changed: its hash does not match its content (the hash is plain SHA-256, made without the key: the record was edited and its hash recomputed)');
    });

    it('without a key: a rotated part rewritten in the other format: changed, where it starts', async () => {
      const files = log('mixed-formats', { key: null, parts: 2, records: 200 });
      rechainAuditLog(files, {
        key: null,
        from: { file: 1, line: 1 },
        edit: (r) => {
          if (r['type'] !== 'audit.file') return r;
          const { format: _format, ...chain } = r['chain'] as Record<string, unknown>;
          return { ...r, chain: format === 2 ? chain : { ...chain, format: 2 } };
        },
      });
      await expectTampered(files, 'changed', files[1]!, 1, false);
    });

    it('without a key: a record removed and the chain recomputed still shows as a seq jump', async () => {
      const files = log('recomputed-hole', { key: null, records: 200 });
      const line = 60;
      const gone = recordAt(files[0]!, line)['seq'] as number;
      rechainAuditLog(files, { key: null, from: { file: 0, line }, edit: (r, at) => (at.line === line ? null : r) });
      const r = await expectTampered(files, 'missing', files[0]!, line, false);
      expect(r.problem!.message).toMatch(new RegExp(`^seq ${gone} is missing: .* with no audit\\.gap, yet links to it; records were removed and the chain recomputed$`));
    });

    it('without a key: a session record removed, renumbered and recomputed is caught by the session seal count', async () => {
      const files = log('renumbered', { key: null, records: 200, concurrency: 1, lateRecord: false });
      const file = files[0]!;
      const line = findLine(file, (r) => r['type'] === 'k8s.data');
      const session = recordAt(file, line)['session'] as string;
      rechainAuditLog(files, { key: null, from: { file: 0, line }, renumber: true, edit: (r, at) => (at.line === line ? null : r) });
      const sealLine = findLine(file, (r) => r['type'] === 'audit.seal' && r['session'] === session);
      const r = await expectTampered(files, 'missing', file, sealLine, false);
      expect(r.problem!.message).toMatch(new RegExp(`the seal of session ${session} counts (\\d+) records, but the chain holds \\d+ since line \\d+: a record of the session was removed$`));
    });

    it('a session seal that names the wrong last record, or counts too few: seal', async () => {
      const files = log('bad-seal', { key: null, records: 120 });
      const file = files[0]!;
      const sealLine = findLine(file, (r) => r['type'] === 'audit.seal' && r['scope'] === 'session');
      const session = recordAt(file, sealLine)['session'] as string;
      rechainAuditLog(files, { key: null, from: { file: 0, line: sealLine }, edit: (r, at) => (at.line === sealLine ? { ...r, last: 'f'.repeat(64) } : r) });
      let r = await expectTampered(files, 'seal', file, sealLine, false);
      expect(r.problem!.message).toMatch(new RegExp(`the seal of session ${session} names ffffffffffff… as the session's last record, but that is [0-9a-f]{12}…$`));
      rechainAuditLog(files, { key: null, from: { file: 0, line: sealLine }, edit: (rec, at) => (at.line === sealLine ? { ...rec, count: (rec['count'] as number) - 1 } : rec) });
      r = await expectTampered(files, 'seal', file, sealLine, false);
      expect(r.problem!.message).toMatch(/counts \d+ records, but the chain holds \d+ since line \d+$/);
    });

    it('a file seal that counts more records than the file holds: missing', async () => {
      const files = log('file-seal', { key: null, records: 120 });
      const file = files[0]!;
      const sealLine = linesOf(file).length;
      rechainAuditLog(files, { key: null, from: { file: 0, line: sealLine }, edit: (r) => ({ ...r, count: (r['count'] as number) + 2 }) });
      const r = await expectTampered(files, 'missing', file, sealLine, false);
      expect(r.problem!.message).toMatch(/the file's seal counts \d+ records before it, but the file holds \d+: 2 records were removed$/);
    });

    it('a session left open at the final seal: seal', async () => {
      const files = log('open-session', { key: null, records: 120, lateRecord: false });
      const file = files[0]!;
      const sealLine = findLine(file, (r) => r['type'] === 'audit.seal' && r['scope'] === 'session');
      const session = recordAt(file, sealLine)['session'] as string;
      rechainAuditLog(files, { key: null, from: { file: 0, line: sealLine }, renumber: true, recount: true, edit: (r, at) => (at.line === sealLine ? null : r) });
      const r = await expectTampered(files, 'seal', file, linesOf(file).length, false);
      expect(r.problem!.message).toContain(`ends the chain, but session ${session} has`);
    });
  });

  describe('kubewire verify: unreadable', () => {
    it('a keyed chain without --key-file: exit 2, asks for the key', async () => {
      const files = log('nokey', { records: 60 });
      const v = await verify(files, false);
      expect({ status: v.result.status, code: v.code }).toEqual({ status: 'unreadable', code: 2 });
      expect(v.result.unreadable).toBe(`${files[0]} is a keyed audit chain (hmac-sha256, key id ${keyIdOf(KEY)}): pass --key-file with the key it was written with (--audit-key-file)`);
      expect(v.textErr).toEqual([`kubewire: cannot verify: ${v.result.unreadable} [KW_ERR_AUDIT_UNREADABLE]`]);
      expect(v.text).toEqual([]);
    });

    it('a keyed chain with another key: exit 2, naming both key ids', async () => {
      const other = Buffer.from('another-key-that-is-long-enough');
      const files = writeAuditLog({ dir: freshDir('otherkey'), key: other, format, records: 60 }).files;
      const v = await verify(files);
      expect({ status: v.result.status, code: v.code }).toEqual({ status: 'unreadable', code: 2 });
      expect(v.result.unreadable).toBe(`the key given has id ${keyIdOf(KEY)}, but ${files[0]} was written with the key whose id is ${keyIdOf(other)}: pass the key the log was written with`);
    });

    it('an ordinary kubewire log: exit 2, not an audit log', async () => {
      const file = join(freshDir('plainlog'), 'kubewire.jsonl');
      const events = linesOf(log('plain-src', { key: null, records: 30 })[0]!).map((l) => {
        const { prev: _p, hash: _h, ...rest } = JSON.parse(l) as Record<string, unknown>;
        return JSON.stringify(rest);
      });
      writeLines(file, events);
      const v = await verify([file], false);
      expect({ status: v.result.status, code: v.code }).toEqual({ status: 'unreadable', code: 2 });
      expect(v.result.unreadable).toBe(`${file} is not an audit log (written without --audit): its records carry no hash or prev`);
    });

    it('a file that cannot be read, and a text file: exit 2', async () => {
      const dir = freshDir('unreadable');
      const missing = join(dir, 'nope.jsonl');
      let v = await verify([missing], false);
      expect({ code: v.code, why: v.result.unreadable }).toEqual({ code: 2, why: `cannot read ${missing}: no such file` });
      v = await verify([dir], false);
      expect({ code: v.code, why: v.result.unreadable }).toEqual({ code: 2, why: `cannot read ${dir}: it is a directory, not a file` });
      const text = join(dir, 'notes.txt');
      writeFileSync(text, 'hello\nworld\n');
      v = await verify([text], false);
      expect({ code: v.code, why: v.result.unreadable }).toEqual({ code: 2, why: `${text} is not an audit log: its first line is not JSON` });
      const empty = join(dir, 'empty.jsonl');
      writeFileSync(empty, '');
      v = await verify([empty], false);
      expect(v.code).toBe(2);
    });

    it('a damaged first line of an audit log is tampering, not "not an audit log"', async () => {
      const files = log('first-line', { records: 60 });
      const lines = linesOf(files[0]!);
      lines[0] = lines[0]!.slice(1);
      writeLines(files[0]!, lines);
      await expectTampered(files, 'changed', files[0]!, 1);
    });

    it('a key file that cannot be used: exit 2, the key error on stderr', async () => {
      const files = log('keyfile', { records: 60 });
      const short = join(root, 'short.key');
      writeFileSync(short, 'tiny\n');
      const out = new Lines();
      const err = new Lines();
      expect(await runVerify({ files, keyFile: short }, out, err)).toBe(2);
      expect(out.lines).toEqual([]);
      expect(err.lines).toHaveLength(1);
      expect(err.lines[0]).toMatch(/^kubewire: the key file .*short\.key holds 4 bytes; an audit key needs at least 16 .*\[KW_ERR_AUDIT_KEY\]$/);
      expect(await runVerify({ files, keyFile: join(root, 'absent.key') }, out, err)).toBe(2);
      expect(err.lines[1]).toContain('no such file');
    });

    it('a chain format verify does not know: exit 2, naming it', async () => {
      const files = log('format-4', { key: null, records: 60 });
      rechainAuditLog(files, { key: null, edit: (r) => (r['type'] === 'audit.start' ? { ...r, chain: { ...(r['chain'] as object), format: 4 } } : r) });
      const v = await verify(files, false);
      expect({ status: v.result.status, code: v.code }).toEqual({ status: 'unreadable', code: 2 });
      expect(v.result.unreadable).toBe(`${files[0]} declares the chain format 4, which verify does not know (it knows 1, 2 and 3): a newer kubewire wrote it, or the record was changed`);
    });

    it('verifyFiles with no files: unreadable', async () => {
      expect((await verifyFiles([], { key: null })).status).toBe('unreadable');
    });

    it('a copy renamed keeps verifying: the link is the hash, not the name', async () => {
      const files = log('renamed', { parts: 2, records: 200 });
      const dir = freshDir('renamed-copy');
      const copies = files.map((f, i) => join(dir, `evidence-${i + 1}.jsonl`));
      files.forEach((f, i) => copyFileSync(f, copies[i]!));
      expect((await verify(copies)).result.status).toBe('intact');
    });
  });
});

describe('kubewire verify: logs from the format-1 writer', () => {
  const fixtures = join(import.meta.dirname, '..', 'fixtures', 'audit');
  const FIXTURE_KEY = Buffer.from('kubewire-format-1-fixture-key');
  const fixtureKeyFile = join(root, 'fixture.key');
  writeFileSync(fixtureKeyFile, FIXTURE_KEY);
  const copy = (name: string): string => {
    const file = join(freshDir('fixture'), name);
    copyFileSync(join(fixtures, name), file);
    return file;
  };
  const run = async (file: string, keyed: boolean): Promise<VerifyResult> => {
    const out = new Lines();
    await runVerify({ files: [file], json: true, ...(keyed ? { keyFile: fixtureKeyFile } : {}) }, out, new Lines());
    return JSON.parse(out.lines[0]!) as VerifyResult;
  };

  it('passes them, the keyed one with its key only', async () => {
    expect(await run(copy('format-1-sha256.jsonl'), false)).toMatchObject({ status: 'consistent', records: 6, sessionsSealed: 1, final: true, chain: { algorithm: 'sha256', keyId: null } });
    const keyed = copy('format-1-hmac.jsonl');
    expect(await run(keyed, true)).toMatchObject({ status: 'intact', records: 6, chain: { algorithm: 'hmac-sha256', keyId: keyIdOf(FIXTURE_KEY) } });
    expect((await run(keyed, false)).status).toBe('unreadable');
    expect((await run(keyed, true)).chain).not.toHaveProperty('format');
  });

  it('catches a flipped payload byte and a deleted line in them', async () => {
    for (const [name, keyed] of [['format-1-sha256.jsonl', false], ['format-1-hmac.jsonl', true]] as const) {
      const flipped = copy(name);
      const lines = linesOf(flipped);
      lines[2] = lines[2]!.replace('"payload":"ZW', '"payload":"ZX');
      writeLines(flipped, lines);
      expect((await run(flipped, keyed)).problem).toMatchObject({ kind: 'changed', line: 3 });
      const cut = copy(name);
      writeLines(cut, linesOf(cut).filter((_, i) => i !== 3));
      expect((await run(cut, keyed)).problem).toMatchObject({ kind: 'missing', line: 4 });
    }
  });

  it('the tests\' format-1 writer writes their lines byte for byte', () => {
    for (const [name, key] of [['format-1-sha256.jsonl', null], ['format-1-hmac.jsonl', FIXTURE_KEY]] as const) {
      const lines = linesOf(join(fixtures, name));
      const linker = new CanonicalChainLinker(key);
      const again = lines.map((l) => {
        const { prev: _prev, hash: _hash, ...record } = JSON.parse(l) as Record<string, unknown>;
        return linker.link(record).line;
      });
      expect(again).toEqual(lines);
    }
  });
});

describe('chain format 3: the records of a rotation and the pieces of an event', () => {
  const T = '2026-11-21T10:00:00.000000Z';
  /** A format-3 log of `bodies`, each `[seq, body]`, linked in order into one file. */
  function format3(name: string, records: [number, Record<string, unknown>][]): string {
    const linker = new ChainLinker(null);
    const lines = records.map(([seq, body]) => linker.link({ v: 1, seq, ts: T, ...body, note: String(body['type']) }).line);
    const file = join(freshDir(name), 'audit.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    return file;
  }
  const start = { type: 'audit.start', chain: chainInfoOf(null, 3) };
  const piece = (index: number, count: number): Record<string, unknown> => ({
    type: 'k8s.data', conn: 'c1', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: 3, payload: 'YWJj', piece: { index, count },
  });
  const data = { type: 'k8s.data', conn: 'c1', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: 3, payload: 'YWJj' };
  const final = (count: number): Record<string, unknown> => ({ type: 'audit.seal', scope: 'file', count, last: null, part: 1, final: true });
  /** Fills in each file seal's `last` and re-links: seals name the record before them. */
  function sealed(name: string, records: [number, Record<string, unknown>][]): string {
    const linker = new ChainLinker(null);
    const lines = records.map(([seq, body]) => {
      const b = body['type'] === 'audit.seal' && body['scope'] === 'file' ? { ...body, last: linker.last } : body;
      return linker.link({ v: 1, seq, ts: T, ...b, note: String(b['type']) }).line;
    });
    const file = join(freshDir(name), 'audit.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    return file;
  }

  it('passes the pieces of one seq in order, and a gap that declares the rest of an event lost', async () => {
    expect((await verifyFiles([sealed('pieces', [[1, start], [2, piece(0, 3)], [2, piece(1, 3)], [2, piece(2, 3)], [3, data], [4, final(5)]])], { key: null })).status).toBe('consistent');
    const gap = { type: 'audit.gap', reason: 'ENOSPC', code: 'ENOSPC', fromSeq: 2, toSeq: 4, records: 3, since: T, failMode: 'open' };
    const v = await verifyFiles([sealed('gap', [[1, start], [2, piece(0, 2)], [5, gap], [6, final(3)]])], { key: null });
    expect(v.problem).toBeNull();
    expect(v.gaps).toMatchObject([{ fromSeq: 2, toSeq: 4 }]);
  });

  it('catches a piece missing, pieces out of order, and pieces in a format-2 chain', async () => {
    const missing = await verifyFiles([sealed('missing', [[1, start], [2, piece(0, 3)], [2, piece(2, 3)], [3, data], [4, final(4)]])], { key: null });
    expect(missing.problem).toMatchObject({ kind: 'missing', line: 3 });
    expect(missing.problem!.message).toContain('piece 2 of 3 of that event is missing');
    const cut = await verifyFiles([sealed('cut', [[1, start], [2, piece(0, 2)], [3, data], [4, final(3)]])], { key: null });
    expect(cut.problem!.message).toContain('follows piece 1 of 2 of seq 2');
    const orphan = await verifyFiles([sealed('orphan', [[1, start], [2, data], [2, piece(1, 2)], [3, final(3)]])], { key: null });
    expect(orphan.problem!.message).toContain('whose first piece is missing');
    const format2 = await verifyFiles([sealed('format2', [[1, { ...start, chain: chainInfoOf(null, 2) }], [2, piece(0, 2)], [2, piece(1, 2)], [3, final(3)]])], { key: null });
    expect(format2.problem).toMatchObject({ kind: 'reordered', line: 3 });
  });

  it('takes a rotation seal that repeats the seq before it, not one with a seq of its own', async () => {
    const rotation = (seq: number): [number, Record<string, unknown>][] => [[1, start], [2, data], [seq, { type: 'audit.seal', scope: 'file', count: 2, last: null, part: 1, final: false }]];
    const dir = freshDir('rotation');
    const linker = new ChainLinker(null);
    const write = (file: string, records: [number, Record<string, unknown>][]): void => {
      writeFileSync(join(dir, file), records.map(([seq, body]) => {
        const b = body['type'] === 'audit.seal' ? { ...body, last: linker.last } : body['type'] === 'audit.file' ? { ...body, previousHash: linker.last } : body;
        return linker.link({ v: 1, seq, ts: T, ...b, note: String(b['type']) }).line;
      }).join('\n') + '\n');
    };
    write('a-0001.jsonl', rotation(2));
    write('a-0002.jsonl', [[2, { type: 'audit.file', part: 2, chain: chainInfoOf(null, 3), previousFile: 'a-0001.jsonl', previousHash: '' }], [3, data], [4, { ...final(2), part: 2 }]]);
    const parts = [join(dir, 'a-0001.jsonl'), join(dir, 'a-0002.jsonl')];
    const v = await verifyFiles(parts, { key: null });
    expect(v.problem).toBeNull();
    expect(v.status).toBe('consistent');
    const own = format3('own-seq', rotation(3));
    expect((await verifyFiles([own], { key: null })).problem).toMatchObject({ kind: 'missing', line: 3 });
  });
});
