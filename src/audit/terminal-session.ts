/**
 * Terminal sessions in a kubewire log: what `kubectl exec` / `kubectl attach` ran, on which
 * connection its bytes travelled, and the timed output, input and resizes to play back or
 * export. Sans-IO: a `SessionScanner` and a `TerminalChunker` are fed events one at a time
 * (the caller reads the log twice: once to find and pick the session, once for its bytes), so
 * memory holds one summary per session, never the log.
 *
 * A session is the envelope `session` field: the Kubectl-Session id every request of one
 * kubectl command carries. kubectl 1.30+ tries a WebSocket first and falls back to SPDY on the
 * same session (protocol.md B), so a session may hold a refused attempt and the connection that
 * carried the data; the data connection is the exec/attach upgrade that carried channel bytes.
 */
import type { K8sDataEvent, K8sRequestInfo, KubewireEvent, SessionTarget } from '../events/types.js';
import { parseTsMicros } from '../events/stamp.js';

export type SessionKind = 'exec' | 'attach' | 'portforward' | 'rest' | 'other';

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
  kind: SessionKind;
  /** The first event's `ts` (RFC 3339) and the same in microseconds since the epoch, if logged. */
  start: string | null;
  startUs: number | null;
  endUs: number | null;
  /** The `Kubectl-Command` header (`kubectl exec`), or null. */
  kubectlCommand: string | null;
  /** Every connection id of the session, in order of appearance. */
  connections: string[];
  /** The exec/attach connection that carried the terminal bytes, or null. */
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

interface ConnFacts {
  id: string;
  k8s: K8sRequestInfo | null;
  kubectlCommand: string | null;
  upgrade: boolean;
  status: number | null;
  transport: string | null;
  protocol: string | null;
  hasChannelData: boolean;
  output: ChunkCounts;
  input: ChunkCounts;
  firstResize: { width: number; height: number } | null;
  exitCode: number | null;
  k8sStatus: string | null;
  sawStatus: boolean;
}

interface SessionFacts {
  id: string;
  start: string | null;
  startUs: number | null;
  endUs: number | null;
  conns: Map<string, ConnFacts>;
  requests: number;
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

/** Collects one summary per session; `sessions()` after the last event. */
export class SessionScanner {
  private readonly byId = new Map<string, SessionFacts>();

  push(e: KubewireEvent): void {
    const id = e.session;
    if (id === undefined) return;
    let s = this.byId.get(id);
    const us = parseTsMicros(e.ts);
    if (!s) {
      s = { id, start: us === null ? null : e.ts!, startUs: us, endUs: us, conns: new Map(), requests: 0 };
      this.byId.set(id, s);
    } else if (us !== null) {
      if (s.startUs === null || us < s.startUs) {
        s.startUs = us;
        s.start = e.ts!;
      }
      if (s.endUs === null || us > s.endUs) s.endUs = us;
    }
    if (e.conn === undefined) return;
    let c = s.conns.get(e.conn);
    if (!c) {
      c = {
        id: e.conn, k8s: null, kubectlCommand: null, upgrade: false, status: null, transport: null, protocol: null, hasChannelData: false,
        output: emptyCounts(), input: emptyCounts(), firstResize: null, exitCode: null, k8sStatus: null, sawStatus: false,
      };
      s.conns.set(e.conn, c);
    }
    switch (e.type) {
      case 'http.request':
      case 'upgrade.request':
        s.requests++;
        c.k8s = e.k8s;
        c.kubectlCommand = e.kubectlCommand;
        c.upgrade = e.type === 'upgrade.request';
        break;
      case 'upgrade.response':
      case 'http.response':
        c.status = e.status;
        c.protocol = e.protocol;
        break;
      case 'decode.stack':
        c.transport = e.transport;
        c.protocol = e.protocol ?? c.protocol;
        break;
      case 'k8s.data':
        c.hasChannelData = true;
        if (e.dir === 's2c' && (e.stream === 'stdout' || e.stream === 'stderr') && e.size > 0) countChunk(c.output, e);
        else if (e.dir === 'c2s' && e.stream === 'stdin' && e.size > 0) countChunk(c.input, e);
        break;
      case 'k8s.resize':
        c.firstResize ??= { width: e.width, height: e.height };
        break;
      case 'k8s.status':
        c.sawStatus = true;
        c.exitCode = e.exitCode;
        c.k8sStatus = e.status;
        break;
      default:
        break;
    }
  }

  sessions(): SessionInfo[] {
    return [...this.byId.values()].map(describe);
  }
}

function kindOf(conns: ConnFacts[]): SessionKind {
  const ops = conns.filter((c) => c.upgrade).map((c) => c.k8s?.operation);
  if (ops.includes('exec')) return 'exec';
  if (ops.includes('attach')) return 'attach';
  if (ops.includes('portforward')) return 'portforward';
  if (conns.length > 0 && conns.every((c) => !c.upgrade)) return 'rest';
  return 'other';
}

function describe(s: SessionFacts): SessionInfo {
  const conns = [...s.conns.values()];
  const kind = kindOf(conns);
  const terminal = conns.filter((c) => c.upgrade && (c.k8s?.operation === 'exec' || c.k8s?.operation === 'attach'));
  // The connection that carried the bytes: output first, then any channel bytes, then a 101.
  const data = terminal.find((c) => c.output.chunks > 0) ?? terminal.find((c) => c.hasChannelData) ?? terminal.find((c) => c.status === 101) ?? null;
  // Metadata from the data connection, else the last attempt (its request asked the same).
  const meta = data ?? terminal[terminal.length - 1] ?? conns.find((c) => c.upgrade) ?? null;
  const k8s = meta?.k8s ?? null;
  return {
    id: s.id,
    kind,
    start: s.start,
    startUs: s.startUs,
    endUs: s.endUs,
    namespace: k8s?.namespace ?? null,
    pod: k8s?.pod ?? null,
    container: k8s?.container ?? null,
    command: k8s?.command ?? [],
    tty: k8s?.tty ?? false,
    stdin: k8s?.stdin ?? false,
    kubectlCommand: meta?.kubectlCommand ?? conns.find((c) => c.kubectlCommand)?.kubectlCommand ?? null,
    connections: conns.map((c) => c.id),
    dataConn: data?.id ?? null,
    transport: data?.transport ?? null,
    protocol: data?.protocol ?? null,
    output: data ? { ...data.output } : emptyCounts(),
    input: data ? { ...data.input } : emptyCounts(),
    firstResize: data?.firstResize ?? null,
    exitCode: data?.exitCode ?? null,
    status: data?.k8sStatus ?? null,
  };
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

export type SessionChoice =
  | { ok: true; session: SessionInfo }
  | { ok: false; code: `KW_ERR_${string}`; message: string };

const shortId = (id: string): string => (id.length > 12 ? `${id.slice(0, 8)}…` : id);

/** One line per session, for a list the user picks `--session` from. */
export function sessionListing(sessions: readonly SessionInfo[]): string[] {
  return sessions.map((s) => {
    const where = s.pod ? `${s.namespace ?? '?'}/${s.pod}` : '-';
    const what = s.kind === 'exec' ? s.command.join(' ') || '(no command)' : s.kind;
    const out = s.kind === 'exec' || s.kind === 'attach' ? `, ${s.output.bytes} B output` : '';
    return `  ${s.id}  ${s.start ?? '(no time)'}  ${where}  ${what}  (${s.kind}${out})`;
  });
}

const isTerminal = (s: SessionInfo): boolean => s.kind === 'exec' || s.kind === 'attach';

/**
 * The session to play: the one named (a unique prefix of its id is enough), or the only
 * exec/attach session with output. Never guesses between several.
 */
export function pickSession(sessions: readonly SessionInfo[], wanted: string | undefined, logName: string): SessionChoice {
  const list = (): string => (sessions.length ? `\nSessions in the log:\n${sessionListing(sessions).join('\n')}` : '');
  if (wanted !== undefined) {
    const exact = sessions.find((s) => s.id === wanted);
    const prefixed = sessions.filter((s) => s.id.startsWith(wanted));
    const found = exact ?? (prefixed.length === 1 ? prefixed[0]! : null);
    if (!found) {
      const why = prefixed.length > 1 ? `matches ${prefixed.length} sessions; give more of the id` : 'is not in the log';
      return { ok: false, code: 'KW_ERR_SESSION_NOT_FOUND', message: `session ${wanted} ${why} (${logName}).${list()}` };
    }
    if (!isTerminal(found)) {
      const what = found.kind === 'portforward' ? 'a port-forward session: its bytes are TCP streams, not terminal output'
        : found.kind === 'rest' ? 'a session of plain API requests only (no exec or attach)'
        : 'not an exec or attach session';
      return { ok: false, code: 'KW_ERR_SESSION_NOT_TERMINAL', message: `session ${shortId(found.id)} is ${what}; it cannot be replayed. Use \`kubewire export ${logName} --format har --session ${found.id}\` to look at it.` };
    }
    if (found.dataConn === null) {
      return { ok: false, code: 'KW_ERR_SESSION_NO_STREAM', message: `session ${shortId(found.id)} never got a stream: no ${found.kind} connection was upgraded, so there is no terminal output to replay.` };
    }
    return { ok: true, session: found };
  }
  const candidates = sessions.filter((s) => isTerminal(s) && s.dataConn !== null && s.output.chunks > 0);
  if (candidates.length === 1) return { ok: true, session: candidates[0]! };
  if (candidates.length === 0) {
    return { ok: false, code: 'KW_ERR_NO_TERMINAL_SESSION', message: `${logName} holds no exec or attach session with output to replay.${list()}` };
  }
  return { ok: false, code: 'KW_ERR_SESSION_AMBIGUOUS', message: `${logName} holds ${candidates.length} exec/attach sessions with output; choose one with --session ID.${list()}` };
}

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

export { shortId };
