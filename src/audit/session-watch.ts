/**
 * What `kubewire watch` shows of one session while it runs: the output its terminal saw
 * (stdout and stderr of the session's stream, as the bytes came) and a status (who, where,
 * what, how many bytes, live or ended, the exit code). Fed the records of the session as the
 * store gives them (its run's `audit.start` first), it reads them into the one session model
 * (src/session, through LogReplay) and takes the target, stream and exit code from its story;
 * the session has ended once its `audit.session` record is there, which also says who ran it
 * and how it ended.
 *
 * Sans-IO: `push` returns the bytes to write and whether the status changed.
 */
import type { AuditSessionEvent, KubewireEvent } from '../events/types.js';
import { LogReplay } from '../session/log-replay.js';
import type { SessionFacts } from '../session/session-facts.js';
import { payloadBytes } from './terminal-session.js';
import { printable } from '../io/printable.js';

export interface WatchStatus {
  session: string;
  user: string | null;
  namespace: string | null;
  pod: string | null;
  container: string | null;
  command: string[];
  verb: string | null;
  /** Output bytes (stdout + stderr) and input bytes (stdin) of the stream so far. */
  bytes: { output: number; input: number };
  state: 'waiting' | 'live' | 'ended';
  exitCode: number | null;
  status: string | null;
}

export interface WatchStep {
  output: { stream: 'stdout' | 'stderr'; bytes: Buffer } | null;
  /** Something other than the byte counts changed. */
  changed: boolean;
  ended: boolean;
}

export class SessionWatch {
  private readonly replay = new LogReplay();
  private facts: SessionFacts | null = null;
  private runUser: string | null = null;
  private record: AuditSessionEvent | null = null;
  private readonly bytes = { output: 0, input: 0 };
  private last = '';

  constructor(readonly session: string) {
    this.replay.observer.add({
      primary: (e, s) => {
        if (s && e.session === this.session) this.facts = s;
      },
    });
  }

  push(e: KubewireEvent): WatchStep {
    if (e.type === 'audit.start') this.runUser = e.identity?.username ?? e.identity?.kubeconfigUser ?? e.os?.user ?? null;
    let output: WatchStep['output'] = null;
    if (this.record === null && e.session === this.session) {
      this.replay.ingest(e);
      if (e.type === 'audit.session') this.record = e;
      else if (e.type === 'k8s.data' && e.size > 0 && this.onStream(e.conn)) {
        if (e.dir === 's2c' && (e.stream === 'stdout' || e.stream === 'stderr')) {
          this.bytes.output += e.size;
          const bytes = payloadBytes(e);
          if (bytes.length > 0) output = { stream: e.stream, bytes };
        } else if (e.dir === 'c2s' && e.stream === 'stdin') this.bytes.input += e.size;
      }
    }
    const now = JSON.stringify({ ...this.status(), bytes: null });
    const changed = now !== this.last;
    this.last = now;
    return { output, changed, ended: this.record !== null };
  }

  get ended(): boolean {
    return this.record !== null;
  }

  status(): WatchStatus {
    const story = this.facts?.story() ?? null;
    const r = this.record;
    const target = r ?? story?.target ?? null;
    const user = r?.user?.username ?? story?.user?.username ?? this.runUser;
    return {
      session: this.session,
      user,
      namespace: target?.namespace ?? null,
      pod: target?.pod ?? null,
      container: target?.container ?? null,
      command: target?.command ?? [],
      verb: r?.operation ?? story?.verb ?? null,
      bytes: { ...this.bytes },
      state: r ? 'ended' : story ? 'live' : 'waiting',
      exitCode: r ? r.exitCode : story?.exitCode ?? null,
      status: r ? r.status : story?.status ?? null,
    };
  }

  /** The session's stream once the model knows it; before, any of its connections. */
  private onStream(conn: string | undefined): boolean {
    const stream = this.facts?.story().stream ?? null;
    return stream === null || conn === stream;
  }
}

/** The status as one line: `alice  default/web  sh -c …  12 B out  live`. */
export function watchLine(s: WatchStatus): string {
  const where = s.pod ? `${s.namespace ?? 'default'}/${s.pod}${s.container ? `/${s.container}` : ''}` : '-';
  const what = s.command.length ? s.command.join(' ') : s.verb ?? '-';
  const state = s.state === 'ended'
    ? `ended${s.exitCode !== null ? `, exit ${s.exitCode}` : s.status ? ` (${s.status})` : ''}`
    : s.state === 'live' ? `live${s.exitCode !== null ? `, exit ${s.exitCode}` : ''}` : 'waiting for records';
  return `kubewire watch: ${printable(s.user ?? '?')}  ${printable(where)}  ${printable(what)}  ${s.bytes.output} B out, ${s.bytes.input} B in  ${state}`;
}
