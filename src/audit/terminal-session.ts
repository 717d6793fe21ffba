/**
 * Terminal sessions in a kubewire log: what `kubectl exec` / `kubectl attach` ran, on which
 * connection its bytes travelled, and the timed output, input and resizes to play back or
 * export. Sans-IO: a `SessionScanner` and a `TerminalChunker` are fed events one at a time
 * (the caller reads the log twice: once to find and pick the session, once for its bytes), so
 * memory holds one summary per session, never the log.
 *
 * What a session is and did is the session model's (src/session): the kubectl command that
 * every request carrying one Kubectl-Session id belongs to, its verb, target, exit code, and
 * its stream, the connection that carried the command (a refused WebSocket attempt, the SPDY
 * fallback that carried the bytes, kubectl cp's `test -d` probe before the copy are told
 * apart there). The scanner adds only what replay and export need of the stream: its chunks.
 */
import type { K8sDataEvent, KubewireEvent, SessionTarget } from '../events/types.js';
import { parseTsMicros } from '../events/stamp.js';
import type { ConnectionFacts } from '../session/connection-facts.js';
import type { SessionFacts } from '../session/session-facts.js';
import type { SessionVerb } from '../session/verb.js';
import { LogReplay } from '../session/log-replay.js';

export interface ChunkCounts {
  chunks: number;
  /** Real byte count (`size`). */
  bytes: number;
  /** Bytes the log does not hold (`--payload head|none`). */
  missingBytes: number;
  /** Chunks whose payload was removed by `--redact-stdin` (audit logs). */
  redactedChunks: number;
  redactedBytes: number;
}

export interface SessionInfo extends SessionTarget {
  id: string;
  /** The session's verb (src/session/verb.ts). */
  kind: SessionVerb;
  /** The first event's `ts` (RFC 3339) and the same in microseconds since the epoch, if logged. */
  start: string | null;
  startUs: number | null;
  endUs: number | null;
  /** The `Kubectl-Command` header (`kubectl exec`), or null. */
  kubectlCommand: string | null;
  /** Every connection id of the session, in order of appearance. */
  connections: string[];
  /** The session's stream: the connection that carried the command (the terminal bytes), or null. */
  dataConn: string | null;
  transport: string | null;
  protocol: string | null;
  /** stdout + stderr of the data connection (server → client). */
  output: ChunkCounts;
  /** stdin of the data connection (client → server). */
  input: ChunkCounts;
  firstResize: { width: number; height: number } | null;
  exitCode: number | null;
  status: string | null;
}

export type TerminalChunk =
  | { kind: 'output'; seq: number; tsUs: number; stream: 'stdout' | 'stderr'; bytes: Buffer; size: number }
  | { kind: 'input'; seq: number; tsUs: number; bytes: Buffer; size: number; redacted: 'all' | 'echo-off' | null }
  | { kind: 'resize'; seq: number; tsUs: number; width: number; height: number }
  | { kind: 'exit'; seq: number; tsUs: number; exitCode: number | null; status: string | null };

/** Payload bytes an event holds (none with `--payload none` or when redacted). */
export function payloadBytes(e: { payload?: string }): Buffer {
  return e.payload ? Buffer.from(e.payload, 'base64') : Buffer.alloc(0);
}

/** Earlier first; a session with no time after those with one. */
function byStart(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === null ? (b === null ? 0 : 1) : -1;
  return a - b;
}

/** The chunks one connection carried each way. */
interface ChunkTally {
  output: ChunkCounts;
  input: ChunkCounts;
}

const emptyCounts = (): ChunkCounts => ({ chunks: 0, bytes: 0, missingBytes: 0, redactedChunks: 0, redactedBytes: 0 });

function countChunk(counts: ChunkCounts, e: K8sDataEvent): void {
  counts.chunks++;
  counts.bytes += e.size;
  if (e.redacted) {
    counts.redactedChunks++;
    counts.redactedBytes += e.size;
    return;
  }
  counts.missingBytes += Math.max(0, e.size - payloadBytes(e).length);
}

/**
 * Collects one summary per session as its story settles; `sessions()` after the last event.
 * The chunks are counted for every connection that carries any, since which one is the stream
 * is known only once the session settled (kubectl cp's probe carries bytes before the copy);
 * the tallies live as long as the model keeps their connection.
 */
export class SessionScanner {
  private readonly found = new Map<string, SessionInfo>();
  private readonly tallies = new WeakMap<ConnectionFacts, ChunkTally>();
  /** Sessions of events with no `session` (a decoded capture): nothing to replay by id. */
  private readonly anonymous = new WeakSet<SessionFacts>();
  private readonly replay = new LogReplay();

  constructor() {
    this.replay.observer.add({
      primary: (e, session) => {
        if (!session) return;
        if (e.session === undefined) this.anonymous.add(session);
        if (e.type === 'k8s.data' && e.size > 0) this.count(session.conns.get(e.conn ?? ''), e);
      },
      settled: (session) => {
        if (this.anonymous.has(session)) return;
        const info = this.describe(session);
        // Only a proxy.start, or findings alone: no kubectl command to replay or export.
        if (info.connections.length === 0) return;
        // A run's sessions settle before the next run is counted, so `run` is theirs.
        this.found.set(`${this.replay.run}\0${session.id}`, info);
      },
    });
  }

  push(e: KubewireEvent): void {
    this.replay.ingest(e);
  }

  /** Every session, in order of its first event. */
  sessions(): SessionInfo[] {
    this.replay.finish();
    return [...this.found.values()].sort((a, b) => byStart(a.startUs, b.startUs));
  }

  private count(conn: ConnectionFacts | undefined, e: K8sDataEvent): void {
    if (!conn) return;
    let tally = this.tallies.get(conn);
    if (!tally) {
      tally = { output: emptyCounts(), input: emptyCounts() };
      this.tallies.set(conn, tally);
    }
    if (e.dir === 's2c' && (e.stream === 'stdout' || e.stream === 'stderr')) countChunk(tally.output, e);
    else if (e.dir === 'c2s' && e.stream === 'stdin') countChunk(tally.input, e);
  }

  private describe(s: SessionFacts): SessionInfo {
    const story = s.story();
    const stream = story.stream === null ? undefined : s.conns.get(story.stream);
    const tally = stream ? this.tallies.get(stream) : undefined;
    return {
      id: s.id,
      kind: story.verb,
      start: s.firstTs,
      startUs: parseTsMicros(s.firstTs ?? undefined),
      endUs: parseTsMicros(s.lastTs ?? undefined),
      ...story.target,
      kubectlCommand: story.kubectlCommand,
      connections: story.connections.map((c) => c.id),
      dataConn: story.stream,
      transport: story.transport,
      protocol: story.protocol,
      output: tally ? { ...tally.output } : emptyCounts(),
      input: tally ? { ...tally.input } : emptyCounts(),
      firstResize: stream?.firstResize ?? null,
      exitCode: story.exitCode,
      status: story.status,
    };
  }
}

/**
 * The chunks of one session's data connection, in log order, with times in microseconds. An
 * event without a usable `ts` takes the previous one's, so times never run backwards.
 */
export class TerminalChunker {
  private lastUs: number;

  constructor(private readonly session: SessionInfo) {
    this.lastUs = session.startUs ?? 0;
  }

  push(e: KubewireEvent): TerminalChunk | null {
    if (e.session !== this.session.id || e.conn === undefined || e.conn !== this.session.dataConn) return null;
    const us = parseTsMicros(e.ts);
    if (us !== null && us > this.lastUs) this.lastUs = us;
    const tsUs = this.lastUs;
    switch (e.type) {
      case 'k8s.data':
        if (e.size === 0) return null;
        if (e.dir === 's2c' && (e.stream === 'stdout' || e.stream === 'stderr')) {
          return { kind: 'output', seq: e.seq, tsUs, stream: e.stream, bytes: payloadBytes(e), size: e.size };
        }
        if (e.dir === 'c2s' && e.stream === 'stdin') {
          return { kind: 'input', seq: e.seq, tsUs, bytes: e.redacted ? Buffer.alloc(0) : payloadBytes(e), size: e.size, redacted: e.redacted ?? null };
        }
        return null;
      case 'k8s.resize':
        return { kind: 'resize', seq: e.seq, tsUs, width: e.width, height: e.height };
      case 'k8s.status':
        return { kind: 'exit', seq: e.seq, tsUs, exitCode: e.exitCode, status: e.status };
      default:
        return null;
    }
  }
}

export const shortId = (id: string): string => (id.length > 12 ? `${id.slice(0, 8)}…` : id);

/** A shell word, quoted only when it needs it. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The kubectl command line the session ran, rebuilt from what its upgrade request asked for:
 * `kubectl exec -it web -c app -- sh`. Flags are kubectl's own; the namespace is named when it is
 * not `default`.
 */
export function kubectlCommandLine(s: SessionInfo): string {
  const verb = s.kind === 'attach' ? 'attach' : 'exec';
  const words = ['kubectl', verb];
  const flags = `${s.stdin ? 'i' : ''}${s.tty ? 't' : ''}`;
  if (flags) words.push(`-${flags}`);
  if (s.namespace && s.namespace !== 'default') words.push('-n', shellWord(s.namespace));
  words.push(shellWord(s.pod ?? '?'));
  if (s.container) words.push('-c', shellWord(s.container));
  if (verb === 'exec' && s.command.length) words.push('--', ...s.command.map(shellWord));
  return words.join(' ');
}

/** A short title: `default/web: sh`. */
export function sessionTitle(s: SessionInfo): string {
  const where = `${s.namespace ?? 'default'}/${s.pod ?? '?'}`;
  const what = s.kind === 'attach' ? `attach${s.container ? ` ${s.container}` : ''}` : s.command.join(' ');
  return what ? `${where}: ${what}` : where;
}

/** How much of the session's output the log lacks, or null when it is complete. */
export function missingOutputWarning(s: SessionInfo): string | null {
  if (s.output.missingBytes === 0) return null;
  return `${s.output.missingBytes} of ${s.output.bytes} output bytes of session ${shortId(s.id)} are not in the log (it was recorded with --payload head or none); `
    + 'what was kept is used as is. Record with --audit or --payload full to keep every byte.';
}

