/**
 * Everything kubewire observes, in one place, on the observer's thread: the connections'
 * decoders, the event bus with its log (the JSONL log or the audit chain), the one session
 * model, diagnosis, the audit recorder, the console lines, the live view's mirror, and for
 * `kubewire gateway` its JSON log on stdout.
 *
 * It takes the relay's batches in order (observer-messages.ts). Each step is stamped with the
 * relay's own clock, so an event's `ts` is when the relay saw the bytes, not when the observer
 * got round to them. What goes back to the relay is small: the lossless brake, lines for
 * the user, and, only while the live view runs, the events it shows.
 */
import type { ConnectionDecoderOptions } from '../codec/connection-decoder.js';
import { DiagnosisEngine, findingBody } from '../diagnose/engine.js';
import { EventBus, preciseNow } from '../events/event-bus.js';
import { noteFor } from '../events/notes.js';
import type { EventBody, KubewireEvent } from '../events/types.js';
import { CliError } from '../io/errors.js';
import { SessionObserver, TICK_MS } from '../session/session-observer.js';
import { ConsoleSink } from '../sinks/console-sink.js';
import { droppedLinesLine, JsonLog } from '../gateway/json-log.js';
import { SessionReports } from '../gateway/session-report.js';
import { FdLineWriter } from '../io/fd-line-writer.js';
import { JsonlSink } from '../sinks/jsonl-sink.js';
import type { AuditRecording } from './audit-recording.js';
import { ConnectionObservation } from './connection-observation.js';
import { RingReader } from './copy-ring.js';
import { Decoded } from './in-flight.js';
import type { AuditStartFacts, FromObserver, MirrorItem, ObserverConfig, RelayEntry, ToObserver } from './observer-messages.js';

/** How often the live view's mirror is sent: the view redraws at about this rate anyway. */
export const MIRROR_INTERVAL_MS = 50;
/** How often the store's backlog (and the log's dropped lines) are looked at for the gateway's metrics (sent only when they changed). */
export const BACKLOG_INTERVAL_MS = 500;
/** At shutdown, how long the stdout log may take to write what waits before it is let go. */
export const LOG_DRAIN_MS = 5000;

export class ObserverCore {
  /** The relay's time of the step being taken, or null between steps (timers, drains). */
  private at: number | null = null;
  readonly bus: EventBus;
  readonly sessions = new SessionObserver();
  private readonly detach: () => void;
  private readonly taps = new Map<string, ConnectionObservation>();
  private readonly engine: DiagnosisEngine;
  private audit: AuditRecording | null = null;
  private mirrorItems: MirrorItem[] | null = null;
  private mirrorTimer: NodeJS.Timeout | undefined;
  private backlogTimer: NodeJS.Timeout | undefined;
  private readonly decoding: ConnectionDecoderOptions;
  /** `kubewire gateway`'s stdout and the JSON lines written to it (config.stdoutLog). */
  private readonly stdout: FdLineWriter | null = null;
  private readonly jsonLog: JsonLog | null = null;
  private readonly ring: RingReader;
  private readonly decoded: Decoded;

  private constructor(private readonly config: ObserverConfig, private readonly post: (m: FromObserver) => void) {
    // Stream digests cost a SHA-256 of every byte: only the audit record lists them.
    this.decoding = { payload: config.payload, digests: config.digests };
    this.ring = new RingReader(config.ring);
    this.decoded = new Decoded(config.inFlight);
    this.bus = new EventBus({ lossless: config.lossless, now: () => this.at ?? preciseNow() });
    this.detach = this.sessions.attach(this.bus);
    this.engine = new DiagnosisEngine(this.sessions.model, (f) => {
      const body = findingBody(f);
      this.bus.publish(body, noteFor(body), { ...(f.session ? { session: f.session } : {}), ...(f.conn ? { conn: f.conn } : {}) });
    });
    this.sessions.add(this.engine);
    if (config.stdoutLog) {
      this.stdout = new FdLineWriter({ ...config.stdoutLog, droppedLine: droppedLinesLine });
      this.jsonLog = new JsonLog(this.stdout);
    }
  }

  /** Opens the log; a log that cannot be opened is a CliError, thrown before anything is relayed. */
  static async open(config: ObserverConfig, post: (m: FromObserver) => void): Promise<{ core: ObserverCore; logPath: string }> {
    const core = new ObserverCore(config, post);
    // The gateway's lines for the user are log lines, written here; otherwise stderr's, on the relay's side.
    const line = (text: string): void => (core.jsonLog ? core.jsonLog.line(text) : post({ t: 'line', to: 'error', text }));
    try {
      if (config.audit) {
        // Only `--audit` loads the chain, the recorder and the store: the other modes' observer stays lighter.
        const { AuditRecording } = await import('./audit-recording.js');
        const key = config.audit.key ? Buffer.from(config.audit.key) : null;
        core.audit = await AuditRecording.open(config.audit.settings, { key, signingKey: config.audit.signingKey ?? null }, config.logPath, { line, failing: (reason) => post({ t: 'audit-failing', reason }) });
        return { core, logPath: core.audit.sink.path };
      }
      const jsonl = await JsonlSink.open(config.logPath);
      jsonl.onError((e) => line(`kubewire: ${e.message} [${e.code}]`));
      core.bus.addSink(jsonl);
      return { core, logPath: jsonl.path };
    } catch (e) {
      core.detach();
      await core.bus.close();
      throw e;
    }
  }

  async handle(m: ToObserver): Promise<void> {
    switch (m.t) {
      case 'batch': {
        // Decoded straight out of the ring; its room is given back once the batch is done with.
        try {
          this.take(m.entries, m.ring ? m.ring[0] : 0, m.buffers);
        } finally {
          if (m.ring) this.ring.release(m.ring[1]);
        }
        // Counted in shared memory; a message only to a relay that waits for it (in-flight.ts).
        if (this.decoded.add(m.bytes)) this.post({ t: 'decoded' });
        return;
      }
      case 'console':
        this.sessions.add(new ConsoleSink({ line: (text) => this.post({ t: 'line', to: 'console', text }) }));
        return;
      case 'mirror':
        this.startMirror();
        return;
      case 'reports':
        this.sessions.add(new SessionReports((report) => {
          this.post({ t: 'report', report });
          this.jsonLog?.report(report);
        }));
        this.startBacklog();
        return;
      case 'log':
        this.stdout?.line(m.line);
        return;
      case 'audit-start':
        return this.startAudit(m.facts);
      case 'shutdown':
        return this.shutdown(m.reason, m.connections);
    }
  }

  /** `span`: where the batch's span of the ring starts. */
  private take(entries: readonly RelayEntry[], span: number, buffers: readonly ArrayBuffer[]): void {
    try {
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        this.at = e.at;
        switch (e.k) {
          case 'event':
            // The bus stamps only the ids that are set: the entry itself serves as the fields.
            this.bus.publish(e.body, noteFor(e.body), e);
            break;
          case 'tap':
            this.taps.set(e.conn, new ConnectionObservation(this.bus, e, this.decoding));
            break;
          case 'data': {
            const tap = this.taps.get(e.conn);
            if (tap === undefined) break;
            if (e.buf >= 0) {
              tap.push(e.dir, Buffer.from(buffers[e.buf]!, e.off, e.len));
              break;
            }
            // One entry is a run of chunks that followed each other in the ring, of one
            // connection and direction (the relay joins them, worker-observer.ts), decoded in one
            // push: what a frame decoder holds at the end of a push it copies (lent-bytes.ts),
            // what a push completes it never does. Their events take the first chunk's time.
            // One view of the ring, or two where the bytes cross its end.
            for (let at = span + e.off, left = e.len; left > 0; ) {
              const view = this.ring.view(at, left);
              tap.push(e.dir, view);
              at += view.length;
              left -= view.length;
            }
            break;
          }
          case 'end':
            this.taps.get(e.conn)?.end(e.dir);
            break;
          case 'skip':
            this.taps.get(e.conn)?.skipped(e.dir, e.bytes);
            break;
        }
        // The relay's conn.close comes after both ends: the connection is done with.
        if (e.k === 'event' && e.body.type === 'conn.close' && e.conn) this.taps.delete(e.conn);
      }
    } finally {
      this.at = null;
    }
    this.reportBrake();
  }

  private behindReported = false;

  /** Lossless: tell the relay when the log fell behind and when it drained. */
  private reportBrake(): void {
    const behind = !this.bus.writable;
    if (behind === this.behindReported) return;
    this.behindReported = behind;
    this.post({ t: 'behind', behind });
    if (behind) this.bus.onWritable(() => this.reportBrake());
  }

  private async startAudit(facts: AuditStartFacts): Promise<void> {
    try {
      await this.audit!.attach(this.bus, this.sessions, facts);
      this.post({ t: 'audit-started', error: null });
    } catch (e) {
      const err = e instanceof CliError ? e : new CliError('KW_ERR_AUDIT_UNWRITABLE', (e as Error).message, 1);
      this.post({ t: 'audit-started', error: { code: err.code, message: err.message, exitCode: err.exitCode } });
    }
  }

  /** The live view on the relay's thread reads a copy of the session model, fed the same events and ticks in the same order. */
  private startMirror(): void {
    if (this.mirrorItems) return;
    const items: MirrorItem[] = (this.mirrorItems = []);
    this.bus.subscribe((e: KubewireEvent) => void items.push({ e }));
    this.sessions.add({ tick: (now) => void items.push({ tick: now }) });
    this.mirrorTimer = setInterval(() => this.flushMirror(), MIRROR_INTERVAL_MS);
    this.mirrorTimer.unref();
  }

  /** The store's backlog for the relay's `/metrics`: the writer runs here, the scrape is answered there. */
  private startBacklog(): void {
    const sink = this.audit?.sink;
    if (!sink || this.backlogTimer) return;
    let sent = '';
    let dropped = 0;
    this.backlogTimer = setInterval(() => {
      const backlog = sink.backlog;
      const key = `${backlog.oldestUnstoredAt}/${backlog.spoolBytes}`;
      if (key !== sent) {
        sent = key;
        this.post({ t: 'backlog', backlog });
      }
      const lines = this.stdout?.droppedLines ?? 0;
      if (lines !== dropped) {
        dropped = lines;
        this.post({ t: 'log-dropped', lines });
      }
    }, BACKLOG_INTERVAL_MS);
    this.backlogTimer.unref();
  }

  private flushMirror(): void {
    if (!this.mirrorItems?.length) return;
    this.post({ t: 'mirror', items: this.mirrorItems.splice(0) });
  }

  private async shutdown(reason: string, connections: number): Promise<void> {
    this.engine.finish(preciseNow());
    this.sessions.remove(this.engine);
    this.sessions.finish();
    const body: EventBody = { type: 'proxy.stop', reason, connections, dropped: this.bus.dropped };
    this.bus.publish(body, noteFor(body));
    this.audit?.finish();
    this.detach();
    clearInterval(this.mirrorTimer);
    clearInterval(this.backlogTimer);
    await this.bus.close();
    this.flushMirror();
    // What the log pipeline has not taken yet gets a bounded while: a stalled one must not hold the exit.
    await this.stdout?.flushed(LOG_DRAIN_MS);
    this.stdout?.close();
    this.post({ t: 'closed', gap: this.audit?.unrecordedGap() ?? null });
  }
}
