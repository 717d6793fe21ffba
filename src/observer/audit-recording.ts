/**
 * `--audit` on the observer's side: the audit log (a hash-chained event log,
 * src/audit/audit-sink.ts) opened with an `audit.start` record that says who is acting, from
 * which machine, on which cluster; a record and a seal per kubectl session; and what happens
 * when the log cannot be written (`--audit-fail closed|open`): `failing` tells the relay, which
 * refuses new sessions and, closed, ends the open ones.
 */
import { hostname, userInfo } from 'node:os';
import type { AuditFailMode, AuditFailure, AuditSink } from '../audit/audit-sink.js';
import { sealSigner } from '../audit/seal-signature.js';
import { openAuditStore } from '../store/open-store.js';
import { SessionRecorder, sessionSeal } from '../audit/session-recorder.js';
import type { AuditSettings } from '../cli/audit-setup.js';
import type { EventBus } from '../events/event-bus.js';
import { noteFor } from '../events/notes.js';
import type { AuditStartEvent, EventBody } from '../events/types.js';
import { CliError } from '../io/errors.js';
import type { SessionObserver } from '../session/session-observer.js';
import { VERSION } from '../version.js';
import type { AuditStartFacts } from './observer-messages.js';

export interface AuditReports {
  /** A line for the user's stderr. */
  line(text: string): void;
  /** The log cannot be written (reason), or takes writes again (null). */
  failing(reason: string | null): void;
}

export class AuditRecording {
  private bus: EventBus | null = null;
  private recording: { recorder: SessionRecorder; sessions: SessionObserver } | null = null;
  private failedOnce = false;

  private constructor(readonly sink: AuditSink, private readonly settings: AuditSettings) {}

  /** Opens the log; throws CliError when it cannot be created (in either fail mode: a chain starts in a file that takes writes). */
  static async open(settings: AuditSettings, keys: { key: Buffer | null; signingKey: string | null }, logPath: string, reports: AuditReports): Promise<AuditRecording> {
    let self: AuditRecording | null = null;
    // The file log, a file store or a PostgreSQL store: src/store/open-store.ts.
    const sink = await openAuditStore(settings, {
      logPath, key: keys.key, signer: keys.signingKey ? sealSigner(keys.signingKey) : null,
      publish: (body) => self?.publish(body),
      report: (text) => reports.line(text),
    });
    self = new AuditRecording(sink, settings);
    sink.onFailure((f) => {
      self!.failedOnce = true;
      self!.recording?.recorder.auditFailed();
      reports.line(`kubewire: ${failureMessage(f, sink.currentPath, settings.failMode)}`);
      reports.failing(f.reason);
    });
    sink.onRecovered(() => {
      reports.line(`kubewire: the audit log ${sink.currentPath} takes writes again; the records lost meanwhile are listed in an audit.gap record`);
      reports.failing(null);
    });
    return self;
  }

  /**
   * Writes the chain's first record and waits until it is on disk, then records the sessions of
   * `sessions`. Throws CliError when even that record cannot be written.
   */
  async attach(bus: EventBus, sessions: SessionObserver, facts: AuditStartFacts): Promise<void> {
    this.bus = bus;
    bus.addSink(this.sink);
    this.publish(auditStartBody(this.settings, this.sink, facts));
    await this.sink.flushed();
    const f = this.sink.failed;
    if (f) throw new CliError('KW_ERR_AUDIT_UNWRITABLE', `cannot write the audit log ${this.sink.currentPath}: ${f.reason}`, 1);
    const recorder = new SessionRecorder(sessions.model, { publish: (body, session) => this.publish(body, { session }) });
    sessions.add(recorder);
    this.recording = { recorder, sessions };
  }

  /** Records and seals every session, then seals the chain; call after `sessions.finish()`, before the bus closes. */
  finish(): void {
    if (this.recording) {
      this.recording.recorder.finish();
      this.recording.sessions.remove(this.recording.recorder);
    }
    // After a failure some session seals may have been lost with the records around them:
    // every session with unsealed records in the chain gets one now.
    if (this.failedOnce) for (const session of this.sink.unsealedSessions) this.publish(sessionSeal(), { session });
    this.publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
  }

  /** After the bus closed: the records no gap record could describe, if the log was failing at the end. */
  unrecordedGap(): string | null {
    const lost = this.sink.lostRecords;
    const f = this.sink.failed;
    return lost && f ? `the audit log ends with ${lost.toSeq - lost.fromSeq + 1} records (seq ${lost.fromSeq}-${lost.toSeq}) that could not be written: ${f.reason}` : null;
  }

  private publish(body: EventBody, fields: { session?: string } = {}): void {
    this.bus?.publish(body, noteFor(body), fields);
  }
}

function failureMessage(f: AuditFailure, path: string, mode: AuditFailMode): string {
  return mode === 'closed'
    ? `cannot write the audit log ${path}: ${f.reason}; open sessions were ended and new ones get 503 until it can be written (--audit-fail closed)`
    : `cannot write the audit log ${path}: ${f.reason}; sessions go on unrecorded and the gap will be noted when it can be written (--audit-fail open)`;
}

export function auditStartBody(settings: AuditSettings, sink: AuditSink, facts: AuditStartFacts): AuditStartEvent {
  const user = safeUser();
  return {
    type: 'audit.start',
    chain: sink.chain,
    identity: facts.identity,
    os: { user: user.username, uid: user.uid, host: hostname(), platform: `${process.platform}/${process.arch}` },
    kubewire: { version: VERSION, pid: process.pid },
    cluster: facts.cluster,
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
