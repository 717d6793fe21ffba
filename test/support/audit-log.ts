/**
 * Audit logs for the `kubewire verify` tests, written as `--audit` writes them (see the audit
 * format: `audit.start`, rotated parts with `audit.file`, interleaved kubectl sessions closed by
 * `audit.session` and a session seal, `audit.gap`, file seals, a final seal), with ChainLinker
 * doing the hashing, or for `format: 1` the format-1 linker (chain-v1.ts). The events are ordinary kubewire events (exec over WebSocket v5 with
 * payload-bearing k8s.data), stamped with seq, time, session and connection ids.
 *
 * `rechainAuditLog` plays the attacker who edits records and recomputes the hashes after them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { chainInfoOf, formatOf, linkerOf, type ChainFormat } from './chain-v1.js';
import { noteFor } from '../../src/events/notes.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { AuditSealEvent, ChainInfo, EventBody, K8sDataEvent } from '../../src/events/types.js';
import { prng } from './split.js';

export interface AuditLogSpec {
  dir: string;
  /** File name base: `<base>.jsonl`, or `<base>-0001.jsonl`, … when rotated. Default `audit`. */
  base?: string;
  /** HMAC key (`--audit-key-file`); null or absent for a plain SHA-256 chain. */
  key?: Buffer | null;
  /** About how many records in all (the sessions under way are finished). Default 300. */
  records?: number;
  /** Number of files (rotated parts). Default 1. */
  parts?: number;
  /** kubectl sessions under way at once, their records interleaved. Default 3. */
  concurrency?: number;
  /** A recorded gap: after `after` records, `records` seqs are lost and an audit.gap written. */
  gap?: { after: number; records: number } | null;
  /** A record for an already sealed session, which then gets a second seal. Default true. */
  lateRecord?: boolean;
  /** Seed of the interleaving and payload sizes. */
  seed?: number;
  /**
   * The chain format (src/audit/chain.ts): 2 (default) or 1, as older writers wrote them; each
   * record with a seq of its own. Format 3's rotations are AuditSink's (test/audit/audit-sink.test.ts).
   */
  format?: ChainFormat;
}

export interface AuditLog {
  files: string[];
  /** Records written, in all files. */
  records: number;
  /** Distinct sessions sealed. */
  sessions: number;
  gaps: { fromSeq: number; toSeq: number }[];
  chain: ChainInfo;
  lastHash: string;
}

const START_MS = Date.UTC(2026, 10, 21, 10, 0, 0);

export function writeAuditLog(spec: AuditLogSpec): AuditLog {
  const key = spec.key ?? null;
  const target = spec.records ?? 300;
  const parts = spec.parts ?? 1;
  const concurrency = spec.concurrency ?? 3;
  const base = spec.base ?? 'audit';
  const random = prng(spec.seed ?? 1);
  const perFile = Math.ceil(target / parts);
  const fileName = (part: number): string => join(spec.dir, parts === 1 ? `${base}.jsonl` : `${base}-${String(part).padStart(4, '0')}.jsonl`);

  const stamper = new EventStamper();
  const format = spec.format ?? 2;
  if (format === 3) throw new Error('writeAuditLog writes formats 1 and 2; a format-3 log comes from AuditSink');
  const linker = linkerOf(format, key);
  const files: string[] = [];
  let lines: string[] = [];
  let part = 1;
  let written = 0;
  let t = START_MS;
  const segments = new Map<string, { count: number; last: string }>();
  const sealed = new Set<string>();
  const gaps: AuditLog['gaps'] = [];

  const write = (body: EventBody, session?: string, conn?: string): void => {
    t += 1 + Math.floor(random() * 5);
    const ev = stamper.stamp(body, noteFor(body), { ts: timestampMicros(t, random() * 1000), ...(session ? { session } : {}), ...(conn ? { conn } : {}) });
    const { line, hash } = linker.link(ev);
    lines.push(line);
    written++;
    if (session && !(body.type === 'audit.seal' && body.scope === 'session')) {
      const seg = segments.get(session);
      if (seg) {
        seg.count++;
        seg.last = hash;
      } else segments.set(session, { count: 1, last: hash });
    }
  };
  const sealSession = (session: string): void => {
    const seg = segments.get(session);
    if (!seg) return;
    const seal: AuditSealEvent = { type: 'audit.seal', scope: 'session', count: seg.count, last: seg.last };
    segments.delete(session);
    write(seal, session);
    sealed.add(session);
  };
  const sealFile = (final: boolean): void => {
    const seal: AuditSealEvent = { type: 'audit.seal', scope: 'file', count: lines.length, last: linker.last, part, final };
    write(seal);
    const path = fileName(part);
    writeFileSync(path, lines.join('\n') + '\n');
    files.push(path);
    lines = [];
  };
  const rotateIfFull = (): void => {
    if (lines.length < perFile || part >= parts) return;
    sealFile(false);
    const previousFile = basename(files[files.length - 1]!);
    part++;
    write({ type: 'audit.file', part, chain: chainInfoOf(key, format), previousFile, previousHash: linker.last });
  };

  write(auditStart(key, format));
  write({ type: 'proxy.start', listen: '127.0.0.1:8001', upstream: 'https://10.0.0.1:6443', context: 'kind-dev', kubeconfig: '/home/ana/.kube/kubewire.kubeconfig', payloadMode: 'full', log: fileName(1), version: '0.1.0', pid: 4242 });

  let nextSession = 1;
  let nextConn = 1;
  const active: { id: string; events: { body: EventBody; conn?: string }[] }[] = [];
  let lateDone = !(spec.lateRecord ?? true);
  let gapDone = !spec.gap;
  for (let guard = 0; guard < target * 4 + 1000; guard++) {
    while (active.length < concurrency && written < target) {
      const id = sessionId(nextSession++);
      active.push({ id, events: sessionScript(id, () => `c${nextConn++}`, random) });
    }
    if (active.length === 0) break;
    const i = Math.floor(random() * active.length);
    const s = active[i]!;
    const next = s.events.shift()!;
    write(next.body, s.id, next.conn);
    if (s.events.length === 0) {
      active.splice(i, 1);
      sealSession(s.id);
    }
    if (!lateDone && sealed.size > 0 && written > target / 3) {
      // A late record for a sealed session opens a new segment, sealed before the end.
      const session = [...sealed][0]!;
      write({ type: 'finding', rule: 'late-close', severity: 'info', title: 'connection closed after the session summary', explanation: 'A connection of the session closed after its summary was written.', evidence: { facts: ['conn.close after audit.session'], seqs: [stamper.lastSeq] }, hop: { where: 'client↔kubewire', answeredBy: 'kubewire', why: 'late close' }, fix: 'none needed' }, session);
      lateDone = true;
    }
    if (!gapDone && written >= spec.gap!.after) {
      // Records the log could not take: their seqs are used, the records never written.
      const fromSeq = stamper.lastSeq + 1;
      for (let n = 0; n < spec.gap!.records; n++) stamper.stamp(lostData(), 'lost');
      const toSeq = stamper.lastSeq;
      write({ type: 'audit.gap', reason: 'ENOSPC: no space left on device, write', code: 'ENOSPC', fromSeq, toSeq, records: toSeq - fromSeq + 1, since: timestampMicros(t), failMode: 'open' });
      gaps.push({ fromSeq, toSeq });
      gapDone = true;
    }
    rotateIfFull();
  }
  for (const session of [...segments.keys()]) sealSession(session);
  write({ type: 'proxy.stop', reason: 'SIGINT', connections: nextConn - 1, dropped: 0 });
  sealFile(true);
  if (files.length !== parts) throw new Error(`asked for ${parts} parts, wrote ${files.length}: give more records`);
  return { files, records: written, sessions: sealed.size, gaps, chain: chainInfoOf(key, format), lastHash: linker.last };
}

export interface Rewrite {
  /** The key the attacker hashes with: null for plain SHA-256. */
  key: Buffer | null;
  /** Records before this line (file index, 1-based line) are left as they are. Default: all rewritten. */
  from?: { file: number; line: number };
  /**
   * Changes a record (given without prev and hash, its links already mended), drops it (null)
   * or replaces it with several (an array: records inserted).
   */
  edit?: (record: Record<string, unknown>, at: { file: number; line: number }) => Record<string, unknown> | Record<string, unknown>[] | null;
  /** Renumber seq to count up by one across dropped and inserted records. */
  renumber?: boolean;
  /** Recount seals (file and session counts) over the records as rewritten. */
  recount?: boolean;
}

/**
 * Rewrites a log as someone who edits it and recomputes the chain would: every record from
 * `from` on is re-linked (prev, hash), and the links inside records are mended too (audit.file
 * previousHash, a seal's `last`); seal counts only with `recount`. Test-sized logs only: it
 * holds the files in memory.
 */
export function rechainAuditLog(files: string[], rw: Rewrite): void {
  const from = rw.from ?? { file: 0, line: 1 };
  let linker: ReturnType<typeof linkerOf> | null = null;
  // The attacker links in the format the log declares: its first record's, or the one a
  // rewritten audit.start or audit.file declares from there on.
  const first = readFileSync(files[0]!, 'utf8');
  let format = formatOf((JSON.parse(first.slice(0, first.indexOf('\n'))) as { chain?: unknown }).chain);
  let lastHash = '0'.repeat(64);
  let lastSeq = 0;
  const sessions = new Map<string, { count: number; last: string }>();
  const track = (record: Record<string, unknown>, hash: string): void => {
    const session = record['session'];
    if (typeof session !== 'string') return;
    if (record['type'] === 'audit.seal') {
      sessions.delete(session);
      return;
    }
    const seg = sessions.get(session);
    if (seg) {
      seg.count++;
      seg.last = hash;
    } else sessions.set(session, { count: 1, last: hash });
  };
  files.forEach((path, f) => {
    const text = readFileSync(path, 'utf8');
    const lines = text.slice(0, text.lastIndexOf('\n')).split('\n');
    const out: string[] = [];
    lines.forEach((line, i) => {
      const at = { file: f, line: i + 1 };
      const record = JSON.parse(line) as Record<string, unknown>;
      if (f < from.file || (f === from.file && i + 1 < from.line)) {
        out.push(line);
        lastHash = record['hash'] as string;
        lastSeq = record['seq'] as number;
        track(record, lastHash);
        return;
      }
      let chain = (linker ??= linkerOf(format, rw.key, lastHash));
      const { prev: _prev, hash: _hash, ...content } = record;
      if (content['type'] === 'audit.file') content['previousHash'] = chain.last;
      if (content['type'] === 'audit.seal') {
        const seg = content['scope'] === 'file' ? { count: out.length, last: chain.last } : sessions.get(content['session'] as string);
        content['last'] = seg?.last ?? null;
        if (rw.recount) content['count'] = seg?.count ?? 0;
      }
      const edited = rw.edit ? rw.edit(content, at) : content;
      for (const r of edited === null ? [] : Array.isArray(edited) ? edited : [edited]) {
        if (rw.renumber && lastSeq > 0) r['seq'] = lastSeq + 1;
        if ((r['type'] === 'audit.start' || r['type'] === 'audit.file') && formatOf(r['chain']) !== format) {
          format = formatOf(r['chain']);
          chain = linker = linkerOf(format, rw.key, chain.last);
        }
        const linked = chain.link(r);
        out.push(linked.line);
        lastHash = linked.hash;
        lastSeq = r['seq'] as number;
        track(r, lastHash);
      }
    });
    writeFileSync(path, out.join('\n') + '\n');
  });
}

function auditStart(key: Buffer | null, format: ChainFormat): EventBody {
  return {
    type: 'audit.start',
    chain: chainInfoOf(key, format),
    identity: {
      source: 'SelfSubjectReview', username: 'ana@example.com', uid: 'b5a1c0de-0000-4000-8000-000000000001', groups: ['system:authenticated', 'sre'], extra: {},
      kubeconfigUser: 'ana', clientCertificate: null, reviewError: null,
    },
    os: { user: 'ana', uid: 1000, host: 'bastion-1', platform: 'linux' },
    kubewire: { version: '0.1.0', pid: 4242 },
    cluster: { server: 'https://10.0.0.1:6443', context: 'kind-dev', via: 'kubeconfig' },
    redactStdin: 'echo-off',
    failMode: 'open',
    maxSize: null,
  };
}

function sessionId(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `6f1c2a9e-4b7d-4e21-9c3a-${hex}`;
}

/** The records of one `kubectl exec -it` over WebSocket v5, ending with its audit.session. */
function sessionScript(session: string, newConn: () => string, random: () => number): { body: EventBody; conn?: string }[] {
  const pod = `web-${Math.floor(random() * 90 + 10)}`;
  const rest = newConn();
  const conn = newConn();
  const path = `/api/v1/namespaces/default/pods/${pod}/exec`;
  const k8s = { operation: 'exec' as const, namespace: 'default', pod, container: 'app', command: ['sh'], stdin: true, stdout: true, stderr: false, tty: true, ports: [] };
  const out: { body: EventBody; conn?: string }[] = [];
  const add = (body: EventBody, c: string): void => {
    out.push({ body, conn: c });
  };
  add({ type: 'conn.open', kind: 'http', client: '127.0.0.1:53110', upstream: 'https://10.0.0.1:6443' }, rest);
  add({ type: 'http.request', dir: 'c2s', offset: 0, method: 'GET', target: `/api/v1/namespaces/default/pods/${pod}`, path: `/api/v1/namespaces/default/pods/${pod}`, version: 'HTTP/1.1', headers: [['Host', '127.0.0.1:8001'], ['Kubectl-Session', session]], upgrade: null, offered: [], kubectlSession: session, kubectlCommand: 'kubectl exec', userAgent: 'kubectl/v1.33.1 (linux/amd64)', k8s: null }, rest);
  add({ type: 'http.response', dir: 's2c', offset: 0, status: 200, reason: 'OK', version: 'HTTP/1.1', headers: [['Content-Type', 'application/json'], ['Audit-Id', 'a1']], protocol: null, auditId: 'a1', server: null, contentType: 'application/json' }, rest);
  add({ type: 'conn.close', closedBy: 'client', bytes: { c2s: 310, s2c: 4096 }, durationMs: 12, error: null }, rest);
  add({ type: 'conn.open', kind: 'upgrade', client: '127.0.0.1:53112', upstream: 'https://10.0.0.1:6443' }, conn);
  add({ type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: `${path}?command=sh&container=app&stdin=true&stdout=true&tty=true`, path, version: 'HTTP/1.1', headers: [['Host', '127.0.0.1:8001'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io']], upgrade: 'websocket', offered: ['v5.channel.k8s.io', 'v4.channel.k8s.io'], kubectlSession: session, kubectlCommand: 'kubectl exec', userAgent: 'kubectl/v1.33.1 (linux/amd64)', k8s }, conn);
  add({ type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1', headers: [['Upgrade', 'websocket'], ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io']], protocol: 'v5.channel.k8s.io', auditId: 'a2', server: null, contentType: null }, conn);
  add({ type: 'decode.stack', transport: 'websocket', protocol: 'v5.channel.k8s.io', semantics: 'channel-v5', layers: ['websocket', 'channel'], reason: 'negotiated v5.channel.k8s.io' }, conn);
  let c2s = 0;
  let s2c = 0;
  const exchanges = 2 + Math.floor(random() * 6);
  for (let n = 0; n < exchanges; n++) {
    const typed = Buffer.from(`echo line-${n}\n`);
    const data = (dir: 'c2s' | 's2c', bytes: Buffer, redacted?: 'echo-off'): K8sDataEvent => {
      const offset = dir === 'c2s' ? c2s : s2c;
      if (dir === 'c2s') c2s += bytes.length + 1;
      else s2c += bytes.length + 1;
      const ev: K8sDataEvent = { type: 'k8s.data', dir, offset, channel: dir === 'c2s' ? 0 : 1, stream: dir === 'c2s' ? 'stdin' : 'stdout', size: bytes.length };
      if (redacted) ev.redacted = redacted;
      else ev.payload = bytes.toString('base64');
      return ev;
    };
    add(data('c2s', typed, n === 0 ? 'echo-off' : undefined), conn);
    const answer = Buffer.alloc(16 + Math.floor(random() * 200), `line-${n} output `);
    add(data('s2c', answer), conn);
  }
  add({ type: 'k8s.status', dir: 's2c', offset: s2c, status: 'Success', reason: null, message: null, code: null, format: 'json', exitCode: 0, raw: '{"metadata":{},"status":"Success"}' }, conn);
  add({ type: 'conn.end', dir: 'c2s', offset: c2s }, conn);
  add({ type: 'conn.end', dir: 's2c', offset: s2c }, conn);
  add({ type: 'conn.close', closedBy: 'client', bytes: { c2s, s2c }, durationMs: 900, error: null }, conn);
  out.push({
    body: {
      type: 'audit.session', kubectlVersion: 'v1.33.1', userAgent: 'kubectl/v1.33.1 (linux/amd64)', kubectlCommand: 'kubectl exec', operation: 'exec',
      namespace: 'default', pod, container: 'app', command: ['sh'], tty: true, stdin: true, start: timestampMicros(START_MS), end: timestampMicros(START_MS + 900),
      durationMs: 900, connections: [rest, conn], requests: 2, transport: 'websocket', protocol: 'v5.channel.k8s.io', bytes: { c2s, s2c },
      streams: { stdin: c2s, stdout: s2c, stderr: 0 }, exitCode: 0, status: 'Success', findings: [], endedBy: 'idle',
    },
  });
  return out;
}

function lostData(): EventBody {
  return { type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: 0 };
}

