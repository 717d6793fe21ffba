/**
 * The session index of an audit store: one row per `audit.session` record, with who ran it
 * (the record's own `user` when it carries one, as a gateway's per-user sessions do; else the
 * chain's `audit.start` identity), where, what, when, how it ended, and the command lines typed
 * in it (typed-commands.ts). `kubewire sessions` searches these rows: a PostgreSQL store keeps
 * them in `audit_sessions` as it writes, a file store builds them when it is searched.
 *
 * Sans-IO: fed the records of one chain in order (after the stdin redactor, so redacted input
 * never reaches it), it returns a row for each `audit.session`.
 */
import type { AuditIdentity, AuditSessionEvent, KubewireEvent, SessionUser } from '../events/types.js';
import { TypedCommands } from './typed-commands.js';

export interface SessionRow {
  session: string;
  user: string | null;
  groups: string[];
  cluster: string | null;
  verb: string;
  namespace: string | null;
  pod: string | null;
  container: string | null;
  /** The exec command, words joined by spaces. */
  command: string;
  /** Command lines typed in a tty session. */
  typed: string[];
  tty: boolean;
  start: string | null;
  end: string | null;
  exitCode: number | null;
  bytes: { c2s: number; s2c: number };
  transport: string | null;
  findings: string[];
}

/** Where a row's session is in its store: the replica and its record's position (or file). */
export interface IndexedSession extends SessionRow {
  replica: string;
  /** PostgreSQL: the position of the `audit.session` record and of its run's `audit.start`. */
  pos?: number;
  runPos?: number;
  /** Files: the files of the chain that holds it. */
  files?: string[];
}

/** Sessions whose typed commands are followed at once: beyond it the oldest is dropped. */
const MAX_OPEN_SESSIONS = 10_000;

interface Identity {
  user: string | null;
  groups: string[];
}

function identityOf(id: Partial<AuditIdentity> | Partial<SessionUser> | undefined | null): Identity | null {
  if (!id || typeof id !== 'object') return null;
  const kubeconfigUser = (id as Partial<AuditIdentity>).kubeconfigUser;
  const user = typeof id.username === 'string' ? id.username : typeof kubeconfigUser === 'string' ? kubeconfigUser : null;
  return user === null ? null : { user, groups: Array.isArray(id.groups) ? id.groups.filter((g): g is string => typeof g === 'string') : [] };
}

export class SessionIndexer {
  private start: Identity = { user: null, groups: [] };
  private cluster: string | null = null;
  private readonly typed = new Map<string, TypedCommands>();

  push(e: KubewireEvent): SessionRow | null {
    switch (e.type) {
      case 'audit.start':
        this.start = identityOf(e.identity) ?? { user: e.os?.user ?? null, groups: [] };
        this.cluster = e.cluster?.context ?? e.cluster?.server ?? null;
        this.typed.clear();
        return null;
      case 'k8s.data': {
        if (e.session === undefined || e.size === 0) return null;
        const stdin = e.dir === 'c2s' && e.stream === 'stdin';
        const stdout = e.dir === 's2c' && (e.stream === 'stdout' || e.stream === 'stderr');
        if (!stdin && !stdout) return null;
        const t = this.commandsOf(e.session);
        if (stdin) t.stdin(e.redacted || typeof e.payload !== 'string' ? null : Buffer.from(e.payload, 'base64'));
        else if (typeof e.payload === 'string') t.stdout(Buffer.from(e.payload, 'base64'));
        return null;
      }
      case 'audit.session':
        return this.row(e);
      default:
        return null;
    }
  }

  private commandsOf(session: string): TypedCommands {
    let t = this.typed.get(session);
    if (!t) {
      if (this.typed.size >= MAX_OPEN_SESSIONS) this.typed.delete(this.typed.keys().next().value!);
      t = new TypedCommands();
      this.typed.set(session, t);
    }
    return t;
  }

  private row(e: KubewireEvent & AuditSessionEvent): SessionRow | null {
    if (e.session === undefined) return null;
    const typed = this.typed.get(e.session);
    this.typed.delete(e.session);
    // A gateway's sessions each carry the user they serve (`user`, a SessionUser: see
    // session-recorder.ts); an `identity` on the record, then the chain's, stand in otherwise.
    const who = identityOf(e.user) ?? identityOf((e as { identity?: AuditIdentity }).identity) ?? this.start;
    return {
      session: e.session,
      user: who.user,
      groups: who.groups,
      cluster: this.cluster,
      verb: e.operation,
      namespace: e.namespace,
      pod: e.pod,
      container: e.container,
      command: e.command.join(' '),
      typed: e.tty && typed ? typed.commands() : [],
      tty: e.tty,
      start: e.start,
      end: e.end,
      exitCode: e.exitCode,
      bytes: { c2s: e.bytes.c2s, s2c: e.bytes.s2c },
      transport: e.transport,
      findings: [...e.findings],
    };
  }
}

/** What `kubewire sessions` asks for. */
export interface SessionFilter {
  user?: string;
  pod?: string;
  verb?: string;
  /** Matches the exec command or a typed command line, as a substring. */
  command?: string;
  /** Sessions that started at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Sessions whose id starts with this (`replay --store S SESSION` takes a unique prefix). */
  sessionPrefix?: string;
  /** At most this many sessions, the newest (by start time), so memory stays bounded. */
  limit?: number;
}

/** The `--verb` words a user may give for a record's operation. */
export function verbMatches(verb: string, wanted: string): boolean {
  const norm = (v: string): string => (v === 'port-forward' ? 'portforward' : v === 'logs' ? 'log' : v);
  return norm(verb) === norm(wanted);
}

/** Sessions by start time, oldest first (a session without one first). */
export function byStart(a: SessionRow, b: SessionRow): number {
  return (a.start ?? '').localeCompare(b.start ?? '');
}

/**
 * Keeps the newest `limit` rows of those added, in bounded memory: past twice the limit the
 * oldest are dropped (amortised n log n). `rows()` gives them oldest first.
 */
export class NewestRows<T extends SessionRow> {
  private kept: T[] = [];

  constructor(private readonly limit: number = Infinity) {}

  add(row: T): void {
    this.kept.push(row);
    if (this.kept.length >= 2 * this.limit) this.trim();
  }

  rows(): T[] {
    this.trim();
    return this.kept;
  }

  private trim(): void {
    this.kept.sort(byStart);
    if (this.kept.length > this.limit) this.kept = this.kept.slice(this.kept.length - this.limit);
  }
}

export function rowMatches(row: SessionRow, f: SessionFilter): boolean {
  if (f.sessionPrefix !== undefined && !row.session.startsWith(f.sessionPrefix)) return false;
  if (f.user !== undefined && row.user !== f.user) return false;
  if (f.pod !== undefined && row.pod !== f.pod) return false;
  if (f.verb !== undefined && !verbMatches(row.verb, f.verb)) return false;
  if (f.command !== undefined && !row.command.includes(f.command) && !row.typed.some((t) => t.includes(f.command!))) return false;
  if (f.sinceMs !== undefined) {
    const t = row.start ? Date.parse(row.start) : NaN;
    if (!(t >= f.sinceMs)) return false;
  }
  return true;
}
