/**
 * `--audit` for `proxy` and `run`: the flags, checked before anything starts; the audit log
 * (a hash-chained event log, src/audit/audit-sink.ts) opened with an `audit.start` record that
 * says who is acting (SelfSubjectReview, else the kubeconfig user), from which machine, on which
 * cluster; a record and a seal per kubectl session; and what the proxy does when the log
 * cannot be written (`--audit-fail closed|open`).
 */
import { hostname, userInfo } from 'node:os';
import type { EventBus } from '../events/event-bus.js';
import { noteFor } from '../events/notes.js';
import type { AuditStartEvent, EventBody } from '../events/types.js';
import { AuditSink, type AuditFailMode, type AuditFailure } from '../audit/audit-sink.js';
import { KeyFileError, readKeyFile } from '../audit/chain.js';
import { whoAmI } from '../audit/identity.js';
import { SessionRecorder, sessionSeal } from '../audit/session-recorder.js';
import type { RedactStdinMode } from '../audit/stdin-redactor.js';
import { CliError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import type { Upstream } from '../proxy/upstream.js';
import type { SessionObserver } from '../session/session-observer.js';
import { VERSION } from '../version.js';

export interface AuditFlags {
  audit?: boolean;
  auditFail?: AuditFailMode;
  auditKeyFile?: string;
  redactStdin?: RedactStdinMode;
  maxSize?: string;
}

export interface AuditSettings {
  failMode: AuditFailMode;
  keyFile: string | null;
  redactStdin: RedactStdinMode;
  maxSize: number | null;
}

/** The smallest `--max-size`: a file must hold a few records besides its header and seal. */
export const MIN_MAX_SIZE = 64 * 1024;

/**
 * Checks the audit flags together: they need `--audit`, and `--audit` records every byte, so a
 * `--payload` other than full contradicts it. Returns null without `--audit`.
 */
export function auditSettings(flags: AuditFlags & { payload?: string }, payloadExplicit: boolean): AuditSettings | null {
  if (!flags.audit) {
    const stray = [flags.auditKeyFile && '--audit-key-file', flags.redactStdin && '--redact-stdin', flags.maxSize && '--max-size', flags.auditFail && '--audit-fail'].filter(Boolean);
    if (stray.length) throw new CliError('KW_ERR_USAGE', `${stray.join(', ')} only ${stray.length === 1 ? 'applies' : 'apply'} to an audit log: add --audit`, 2);
    return null;
  }
  if (payloadExplicit && flags.payload !== 'full') {
    throw new CliError('KW_ERR_USAGE', `--audit records every byte; it cannot be combined with --payload ${flags.payload}`, 2);
  }
  return {
    failMode: flags.auditFail ?? 'closed',
    keyFile: flags.auditKeyFile ?? null,
    redactStdin: flags.redactStdin ?? 'none',
    maxSize: flags.maxSize === undefined ? null : parseSize(flags.maxSize),
  };
}

/** `100M`, `1G`, `512K`, `64KiB`, `1048576`: bytes, with binary multiples. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new CliError('KW_ERR_USAGE', `--max-size ${text}: expected a size such as 100M, 1G or 65536`, 2);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(m[1]) * scale);
  if (bytes < MIN_MAX_SIZE) throw new CliError('KW_ERR_USAGE', `--max-size ${text} is too small: at least 64K`, 2);
  return bytes;
}

export interface AuditRecording {
  sink: AuditSink;
  /**
   * Writes the chain's first record (who, where, which cluster) and waits until it is on disk,
   * then records the sessions of `sessions` (the proxy's one session model of the bus's events).
   * Throws CliError when even that record cannot be written.
   */
  attach(bus: EventBus, sessions: SessionObserver): Promise<void>;
  /** The reason new sessions are refused now (closed mode, log failing), or null. */
  refusal(): string | null;
  /** Listeners for a log failure (closed mode: the proxy ends its open connections). */
  onFailure(listener: (f: AuditFailure) => void): void;
  /** Records and seals every session, then seals the chain; call after `sessions.finish()`, before the bus closes. */
  finish(): void;
  /** After the bus closed: the records no gap record could describe, if the log was failing at the end. */
  unrecordedGap(): string | null;
}

/**
 * Reads the key and opens the audit log; throws CliError when the key cannot be read or the
 * log cannot be created (in either fail mode: a chain starts in a file that takes writes).
 */
export async function startAudit(settings: AuditSettings, logPath: string, upstream: Upstream, errors: Output): Promise<AuditRecording> {
  let key: Buffer | null = null;
  if (settings.keyFile) {
    try {
      key = await readKeyFile(settings.keyFile);
    } catch (e) {
      if (e instanceof KeyFileError) throw new CliError('KW_ERR_AUDIT_KEY', e.message, 1);
      throw e;
    }
  }
  let bus: EventBus | null = null;
  const publish = (body: EventBody, fields: { session?: string } = {}): void => void bus?.publish(body, noteFor(body), fields);
  const sink = await AuditSink.open({ path: logPath, maxSize: settings.maxSize, key, failMode: settings.failMode, redactStdin: settings.redactStdin, publish });
  const identity = await whoAmI(upstream);
  /** Set by `attach`: the recorder, listening to the proxy's sessions. */
  let recording: { recorder: SessionRecorder; sessions: SessionObserver } | null = null;
  let failedOnce = false;
  const failureListeners: ((f: AuditFailure) => void)[] = [];
  sink.onFailure((f) => {
    failedOnce = true;
    recording?.recorder.auditFailed();
    errors.line(`kubewire: ${failureMessage(f, sink.currentPath, settings.failMode)}`);
    for (const l of failureListeners) l(f);
  });
  sink.onRecovered(() => errors.line(`kubewire: the audit log ${sink.currentPath} takes writes again; the records lost meanwhile are listed in an audit.gap record`));
  return {
    sink,
    attach: async (b, sessions) => {
      bus = b;
      b.addSink(sink);
      publish(auditStartBody(settings, sink, upstream, identity));
      await sink.flushed();
      const f = sink.failed;
      if (f) throw new CliError('KW_ERR_AUDIT_UNWRITABLE', `cannot write the audit log ${sink.currentPath}: ${f.reason}`, 1);
      const recorder = new SessionRecorder(sessions.model, { publish: (body, session) => publish(body, { session }) });
      sessions.add(recorder);
      recording = { recorder, sessions };
    },
    refusal: () => {
      const f = sink.failed;
      return f && settings.failMode === 'closed' ? `kubewire cannot write its audit log (${f.reason}); new sessions are refused until it can (--audit-fail closed)` : null;
    },
    onFailure: (l) => void failureListeners.push(l),
    finish: () => {
      if (recording) {
        recording.recorder.finish();
        recording.sessions.remove(recording.recorder);
      }
      // After a failure some session seals may have been lost with the records around them:
      // every session with unsealed records in the chain gets one now.
      if (failedOnce) for (const session of sink.unsealedSessions) publish(sessionSeal(), { session });
      publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
    },
    unrecordedGap: () => {
      const lost = sink.lostRecords;
      const f = sink.failed;
      return lost && f ? `the audit log ends with ${lost.toSeq - lost.fromSeq + 1} records (seq ${lost.fromSeq}-${lost.toSeq}) that could not be written: ${f.reason}` : null;
    },
  };
}

function failureMessage(f: AuditFailure, path: string, mode: AuditFailMode): string {
  return mode === 'closed'
    ? `cannot write the audit log ${path}: ${f.reason}; open sessions were ended and new ones get 503 until it can be written (--audit-fail closed)`
    : `cannot write the audit log ${path}: ${f.reason}; sessions go on unrecorded and the gap will be noted when it can be written (--audit-fail open)`;
}

export function auditStartBody(settings: AuditSettings, sink: AuditSink, upstream: Upstream, identity: AuditStartEvent['identity']): AuditStartEvent {
  const user = safeUser();
  return {
    type: 'audit.start',
    chain: sink.chain,
    identity,
    os: { user: user.username, uid: user.uid, host: hostname(), platform: `${process.platform}/${process.arch}` },
    kubewire: { version: VERSION, pid: process.pid },
    cluster: { server: upstream.server.toString(), context: upstream.contextName || null, via: upstream.describe() },
    redactStdin: settings.redactStdin,
    failMode: settings.failMode,
    maxSize: settings.maxSize,
  };
}

function safeUser(): { username: string; uid: number } {
  try {
    const u = userInfo();
    return { username: u.username, uid: u.uid };
  } catch {
    // No passwd entry (a container running as an arbitrary uid).
    return { username: process.env['USER'] ?? String(process.getuid?.() ?? -1), uid: process.getuid?.() ?? -1 };
  }
}
