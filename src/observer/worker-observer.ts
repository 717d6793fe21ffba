/**
 * The relay's side of the observer thread. Each copy goes into the shared ring (copy-ring.ts),
 * or where it finds no room there into a buffer of the batch's own, and a per-process batch
 * names them. A batch is handed over once it holds BATCH_BYTES, and short of that FLUSH_MS
 * after its first entry: a stream, whose TLS records come one per turn, costs one message per
 * MiB instead of one per 16 KiB record, and a keystroke's batch goes after its echo came
 * back, not between the two (see FLUSH_MS). How soon the observer sees bytes never delays them:
 * they went onward before they were copied. The relay's events travel in the same batches, in
 * order (observer-messages.ts).
 *
 * In flight means copied and not yet decoded, a count both threads keep in shared memory
 * (in-flight.ts), so streaming sends nothing back to the relay. Lossless modes hold the relay
 * (`writable` false) while more than LOSSLESS_IN_FLIGHT is in flight or a sink of the observer
 * is behind, so their guarantee holds across threads. Lossy modes never hold it: past
 * LOSSY_IN_FLIGHT, copies are not made, the connection is no longer decoded and an event says
 * so.
 *
 * A worker that dies (an exception, `terminate`) is reported once on stderr. From then on the
 * relay relays without copying, the brake is off, and with `--audit-fail closed` new sessions
 * are refused: they could not be recorded. Open sessions go on: ending them would turn an
 * observer's fault into the user's.
 */
import { Worker } from 'node:worker_threads';
import { NO_BACKLOG, type StoreBacklog } from '../audit/store-backlog.js';
import { fileURLToPath } from 'node:url';
import type { PublishFields } from '../events/event-bus.js';
import { preciseNow } from '../events/event-bus.js';
import type { Direction, EventBody } from '../events/types.js';
import type { GatewayReport } from '../gateway/session-report.js';
import { CliError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import type { SessionListener } from '../session/session-observer.js';
import { SessionObserver } from '../session/session-observer.js';
import type { AuditStartFacts, FromObserver, ObserverConfig, RelayEntry, ToObserver } from './observer-messages.js';
import type { ConnectionTap, RelayObserver } from './relay-observer.js';
import { ringMemory, RingWriter } from './copy-ring.js';
import { InFlight, inFlightMemory } from './in-flight.js';
import { afterIsolateStart } from '../proxy/relay-heap.js';

type DataEntry = Extract<RelayEntry, { k: 'data' }>;

/**
 * A batch is handed over once it holds this much. Each hand-over costs both threads a message
 * (its entries structured-cloned, the worker woken: an eventfd write, and on a 2-core VM the
 * woken thread often takes the relay's core there and then), and the observer a drain of its log
 * and an open payload segment copied out of the ring (lent-bytes.ts). 128 MiB streams through
 * `--payload head`, 7 interleaved pairs, per thread: at 64 KiB the relay's thread took 5.97-6.03
 * ms/MiB and the observer's 2.49-2.56; at 256 KiB 5.62-5.67 and 1.68-1.76 (the process 1.2 ms/MiB
 * less in all, 6% more throughput). On a faster machine (the bare relay at 1.2 ms/MiB), 256 MiB
 * streams, 9 pairs: at 1 MiB the observer took 0.27 ms/MiB against 0.43 at 256 KiB, and
 * `--payload head` moved 0.83x the bare relay's bytes against 0.77x. A batch is 2-3 ms of a fast
 * stream: the observer still sees it long before anyone looks. Larger batches were not worth
 * their ring: at 4 MiB (in an 8 MiB ring), 21 pairs, head moved 0.91x against 0.915x at 1 MiB,
 * the observer took 0.20 ms/MiB against 0.27, and with 100 sessions streaming the process peaked
 * 4-7 MiB higher, the whole ring resident.
 */
export const BATCH_BYTES = 1024 * 1024;
/** A copy that finds no room in the ring goes into a buffer of this size (or one of its own, from this size up). */
const OVERFLOW_BUFFER_BYTES = 256 * 1024;
/**
 * The observer's young generation, in MiB. V8 grows an isolate's young generation up to 48 MiB
 * (three 16 MiB semi-spaces) on a busy thread, and the observer's isolate is a second one beside
 * the relay's. With 100 sessions streaming through `--payload head` (and each batch then copied
 * out of the ring into an ArrayBuffer of its own, freed when a scavenge found it dead), the
 * process peaked at 187 MiB of RSS uncapped, 171 at 8 MiB (the observer's ArrayBuffers at 43 MiB),
 * 161-162 at 4 (24 MiB) and no lower at 2, with no change in CPU per MiB that a run could tell
 * from its noise.
 */
export const OBSERVER_YOUNG_GENERATION_MB = 4;
/**
 * Short of BATCH_BYTES, a batch is handed over this long after its first entry (ms). Waking the
 * observer while a keystroke's round trip is under way puts its thread on a core the round trip
 * needs: handed over at the end of the event-loop turn (or 1 ms after the last hand-over), the
 * keystroke round trip through `--payload head` was 267-355 µs over direct at p50, 3 ms later
 * 214, and 10 ms later 194-199, each in interleaved blocks against the same cluster. The live
 * view redraws every 50 ms and events carry the relay's own times, so nobody sees the wait.
 */
export const FLUSH_MS = 10;
/** Lossless: the relay holds its sources past this much in flight. */
export const LOSSLESS_IN_FLIGHT = 8 * 1024 * 1024;
/** Lossy: past this much in flight, copies are skipped. */
export const LOSSY_IN_FLIGHT = 64 * 1024 * 1024;

export interface WorkerObserverOptions extends Omit<ObserverConfig, 'ring' | 'inFlight'> {
  /** Where the observer's error lines go (stderr). */
  errors: Output;
}

export class WorkerObserver implements RelayObserver {
  readonly logPath: string;
  private entries: RelayEntry[] = [];
  /**
   * The batch's last entry while it is a copy into the ring, which the next chunk of its
   * connection and direction lengthens. Kept apart so the check reads one shape of object: the
   * entries are of five.
   */
  private lastData: DataEntry | null = null;
  private buffers: ArrayBuffer[] = [];
  private current: Buffer | null = null;
  private used = 0;
  private batchBytes = 0;
  /** How long the batch's span of the ring is: it ends where the ring's next write goes. */
  private ringBytes = 0;
  /** The hand-over of a batch short of BATCH_BYTES, while one is pending. */
  private flushTimer: NodeJS.Timeout | null = null;
  private sinkBehind = false;
  private held = false;
  private writableListeners: (() => void)[] = [];
  private dead: string | null = null;
  private stopping = false;
  private shutdownSent = false;
  private auditFailing: string | null = null;
  private auditFailureListeners: (() => void)[] = [];
  private console: Output | null = null;
  private reports: ((r: GatewayReport) => void) | null = null;
  private mirror: SessionObserver | null = null;
  private latestBacklog: StoreBacklog = NO_BACKLOG;
  private logDropped = 0;
  private waiting: { t: FromObserver['t']; resolve: (m: FromObserver) => void }[] = [];
  private readonly flushNow = (): void => {
    this.flushTimer = null;
    this.flush();
  };

  private constructor(
    private readonly worker: Worker,
    private readonly options: WorkerObserverOptions,
    logPath: string,
    private readonly ring: RingWriter,
    private readonly inFlight: InFlight,
  ) {
    this.logPath = logPath;
  }

  /** Starts the worker and waits until its log is open; throws the CliError it reports. */
  static async start(options: WorkerObserverOptions): Promise<WorkerObserver> {
    const { errors, ...rest } = options;
    const config: ObserverConfig = { ...rest, ring: ringMemory(), inFlight: inFlightMemory() };
    const worker = new Worker(workerFile(), { workerData: config, stdout: false, stderr: false, resourceLimits: { maxYoungGenerationSizeMb: OBSERVER_YOUNG_GENERATION_MB } });
    // Listeners are removed one by one: removeAllListeners would also drop the Worker's own.
    const listeners: { message?: (m: FromObserver) => void; error?: (e: Error) => void; exit?: (code: number) => void } = {};
    const first = await new Promise<FromObserver>((resolve, reject) => {
      // Lines told while the log opens (a store's spool or lease, pg-output.ts) come before `ready`.
      worker.on('message', (listeners.message = (m: FromObserver) => {
        if (m.t !== 'line') resolve(m);
        else if (m.to === 'error') errors.line(m.text);
      }));
      worker.once('error', (listeners.error = reject));
      worker.once('exit', (listeners.exit = (code) => reject(new Error(`exited with code ${code}`))));
    }).catch((e: Error) => ({ t: 'fatal' as const, code: 'KW_ERR_OBSERVER' as const, message: `the observer could not start: ${e.message}`, exitCode: 1 }));
    worker.off('message', listeners.message!).off('error', listeners.error!).off('exit', listeners.exit!);
    // The worker's isolate set V8's flags back (src/proxy/relay-heap.ts).
    afterIsolateStart();
    if (first.t !== 'ready') {
      await worker.terminate();
      if (first.t === 'fatal') throw new CliError(first.code, first.message, first.exitCode);
      throw new CliError('KW_ERR_OBSERVER', `the observer could not start: unexpected ${first.t}`, 1);
    }
    const observer = new WorkerObserver(worker, options, first.logPath, new RingWriter(config.ring), new InFlight(config.inFlight));
    worker.on('message', (m: FromObserver) => observer.received(m));
    worker.on('error', (e: Error) => observer.died(e.message));
    worker.on('exit', (code) => observer.died(`exited with code ${code}`));
    // The relay's thread must be able to exit while the observer idles.
    worker.unref();
    return observer;
  }

  publish(body: EventBody, ids: PublishFields = {}): void {
    const entry: RelayEntry = { k: 'event', at: preciseNow(), body };
    if (ids.conn !== undefined) entry.conn = ids.conn;
    if (ids.session !== undefined) entry.session = ids.session;
    this.add(entry);
  }

  tap(ids: { conn: string; session: string }): ConnectionTap {
    const { conn } = ids;
    this.add({ k: 'tap', at: preciseNow(), conn, session: ids.session });
    // Two flags, not a record keyed by direction: a keyed load whose key varies goes megamorphic.
    let skippingC2s = false;
    let skippingS2c = false;
    return {
      push: (dir, chunk) => {
        if (this.dead || chunk.length === 0) return;
        if ((dir === 'c2s' ? skippingC2s : skippingS2c) || (!this.options.lossless && this.inFlight.bytes + chunk.length > LOSSY_IN_FLIGHT)) {
          // Lossy and far behind: the decoder of this connection stops for good (it cannot resync).
          if (dir === 'c2s') skippingC2s = true;
          else skippingS2c = true;
          this.add({ k: 'skip', at: preciseNow(), conn, dir, bytes: chunk.length });
          return;
        }
        this.copy(conn, dir, chunk);
      },
      end: (dir) => this.add({ k: 'end', at: preciseNow(), conn, dir }),
    };
  }

  get writable(): boolean {
    return !this.held;
  }

  onWritable(listener: () => void): void {
    if (!this.held) queueMicrotask(listener);
    else this.writableListeners.push(listener);
  }

  /** Why new sessions are refused: the audit log cannot be written, or its recorder stopped (`--audit-fail closed`). */
  refusal(): string | null {
    const audit = this.options.audit;
    if (!audit || audit.settings.failMode !== 'closed') return null;
    if (this.dead) return `kubewire's audit recorder stopped (${this.dead}); new sessions are refused (--audit-fail closed)`;
    if (this.auditFailing) return `kubewire cannot write its audit log (${this.auditFailing}); new sessions are refused until it can (--audit-fail closed)`;
    return null;
  }

  /** Called when the audit log starts failing (closed mode: the proxy ends its open connections). */
  onAuditFailure(listener: () => void): void {
    this.auditFailureListeners.push(listener);
  }

  /** Writes `audit.start` and waits until it is on disk; throws the CliError the observer reports. */
  async startAudit(facts: AuditStartFacts): Promise<void> {
    this.send({ t: 'audit-start', facts });
    const m = await this.next('audit-started');
    if (m.t === 'audit-started' && m.error) throw new CliError(m.error.code, m.error.message, m.error.exitCode);
  }

  /**
   * A finished line for the stdout log (`stdoutLog`), written by the worker in order with
   * everything before it; false when the worker does not take it (stopping, stopped, dead, or
   * no stdout log), and the caller writes it itself.
   */
  log(line: string): boolean {
    if (this.dead || this.shutdownSent || !this.options.stdoutLog) return false;
    this.send({ t: 'log', line });
    return true;
  }

  /** `kubewire gateway`: its reports (one per command, finding and error) from now on go to `listener`. */
  onReports(listener: (r: GatewayReport) => void): void {
    this.reports = listener;
    this.send({ t: 'reports' });
  }

  /** Lines of the stdout log dropped so far, as the observer last said (with `onReports` and `stdoutLog`). */
  get droppedLogLines(): number {
    return this.logDropped;
  }

  /** How far the audit store was behind when the observer last said (with `onReports`; files: never). */
  get backlog(): StoreBacklog {
    return this.latestBacklog;
  }

  /** Console lines (one per kubectl command, `!` lines) from now on go to `out`. */
  showConsole(out: Output): void {
    this.console = out;
    this.send({ t: 'console' });
  }

  /** The live view's copy of the session model, fed from now on; add listeners to it. */
  mirrorSessions(): SessionObserver {
    if (!this.mirror) {
      this.mirror = new SessionObserver();
      this.send({ t: 'mirror' });
    }
    return this.mirror;
  }

  /**
   * Writes `proxy.stop`, settles every session, seals and closes the log, and ends the worker.
   * Returns the records the audit log could not take at the end, if any.
   */
  async shutdown(reason: string, connections: number): Promise<string | null> {
    if (this.dead) {
      this.mirror?.finish();
      return null;
    }
    this.send({ t: 'shutdown', reason, connections });
    this.shutdownSent = true;
    const m = await this.next('closed');
    this.stopping = true;
    this.mirror?.finish();
    await this.worker.terminate();
    return m.t === 'closed' ? m.gap : null;
  }

  /** Ends the worker at once, as a crash would: for tests of what the relay does then. */
  async kill(): Promise<void> {
    await this.worker.terminate();
  }

  private copy(conn: string, dir: Direction, chunk: Buffer): void {
    const n = chunk.length;
    let buf: number;
    let off = 0;
    if (this.ring.write(chunk)) {
      buf = -1;
      off = this.ringBytes;
      this.ringBytes += n;
    } else if (n >= OVERFLOW_BUFFER_BYTES) {
      const own = Buffer.allocUnsafeSlow(n);
      chunk.copy(own);
      buf = this.buffers.push(own.buffer as ArrayBuffer) - 1;
    } else {
      if (!this.current || this.current.length - this.used < n) {
        this.current = Buffer.allocUnsafeSlow(OVERFLOW_BUFFER_BYTES);
        this.used = 0;
        this.buffers.push(this.current.buffer as ArrayBuffer);
      }
      chunk.copy(this.current, this.used);
      buf = this.buffers.length - 1;
      off = this.used;
      this.used += n;
    }
    this.batchBytes += n;
    this.inFlight.copy(n);
    // A chunk that follows the last one in the ring, of the same connection and direction, only
    // lengthens that entry: the observer decodes such a run in one push at the first chunk's
    // time anyway (observer-core.ts), and a stream's 16 KiB TLS records made 16 entries per
    // batch, each stamped, cloned and read back.
    const last = this.lastData;
    if (buf < 0 && last !== null && last.conn === conn && last.dir === dir && last.off + last.len === off) {
      last.len += n;
      this.handOverIfFull();
    } else {
      const entry: DataEntry = { k: 'data', at: preciseNow(), conn, dir, buf, off, len: n };
      this.add(entry);
      if (buf < 0) this.lastData = entry;
    }
    if (this.options.lossless && this.inFlight.bytes > LOSSLESS_IN_FLIGHT) this.setHeld();
  }

  private add(entry: RelayEntry): void {
    if (this.dead) return;
    this.lastData = null;
    this.entries.push(entry);
    this.handOverIfFull();
  }

  private handOverIfFull(): void {
    if (this.batchBytes >= BATCH_BYTES) this.flush();
    else this.flushTimer ??= setTimeout(this.flushNow, FLUSH_MS);
  }

  private flush(): void {
    // A batch handed over full takes its timer with it: left to fire, it hands the next batch
    // over early (384 MiB streamed took 2294 hand-overs of 175 KiB on average, against 1553).
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.entries.length === 0 || this.dead) return;
    const batch: ToObserver = { t: 'batch', entries: this.entries, ring: this.ringBytes ? [this.ring.startOfLast(this.ringBytes), this.ringBytes] : null, buffers: this.buffers, bytes: this.batchBytes };
    this.entries = [];
    this.lastData = null;
    this.buffers = [];
    this.current = null;
    this.used = 0;
    this.batchBytes = 0;
    this.ringBytes = 0;
    this.worker.postMessage(batch, batch.t === 'batch' ? batch.buffers : []);
  }

  /** Everything queued goes first, so the worker takes `m` after every step before it. */
  private send(m: ToObserver): void {
    if (this.dead) return;
    this.flush();
    this.worker.postMessage(m);
  }

  /** The answer `t`; the worker keeps the process alive until it came. */
  private next(t: FromObserver['t']): Promise<FromObserver> {
    this.worker.ref();
    return new Promise<FromObserver>((resolve) => this.waiting.push({ t, resolve })).finally(() => {
      if (this.waiting.length === 0) this.worker.unref();
    });
  }

  private received(m: FromObserver): void {
    switch (m.t) {
      case 'decoded':
        this.updateHeld();
        break;
      case 'behind':
        this.sinkBehind = m.behind;
        if (m.behind) this.setHeld();
        else this.updateHeld();
        break;
      case 'line':
        (m.to === 'console' ? this.console : this.options.errors)?.line(m.text);
        break;
      case 'audit-failing':
        this.auditFailing = m.reason;
        if (m.reason) for (const l of this.auditFailureListeners) l();
        break;
      case 'report':
        this.reports?.(m.report);
        break;
      case 'backlog':
        this.latestBacklog = m.backlog;
        break;
      case 'log-dropped':
        this.logDropped = m.lines;
        break;
      case 'mirror':
        for (const item of m.items) {
          if ('tick' in item) this.mirror?.tick(item.tick);
          else this.mirror?.ingest(item.e);
        }
        break;
      default: {
        const i = this.waiting.findIndex((w) => w.t === m.t);
        if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
      }
    }
  }

  private setHeld(): void {
    if (!this.options.lossless || this.held) return;
    this.held = true;
    this.updateHeld();
  }

  /** Released once the log keeps up and half the bound is left in flight; until then, woken by the observer's progress. */
  private updateHeld(): void {
    if (!this.held || this.sinkBehind) return;
    // Asked first, then read: a decode in between shows in the count or sends `decoded` (in-flight.ts).
    if (this.inFlight.wake() > LOSSLESS_IN_FLIGHT / 2) return;
    this.release();
  }

  private release(): void {
    this.held = false;
    this.inFlight.settle();
    const listeners = this.writableListeners;
    this.writableListeners = [];
    for (const l of listeners) l();
  }

  private died(why: string): void {
    if (this.dead || this.stopping) return;
    this.dead = why;
    this.entries = [];
    this.buffers = [];
    this.current = null;
    this.ringBytes = 0;
    this.lastData = null;
    this.sinkBehind = false;
    this.options.errors.line(`kubewire: the observer stopped (${why}); bytes still flow, but nothing more is decoded, logged or diagnosed${this.refusal() ? '; new sessions are refused (--audit-fail closed)' : ''}`);
    this.release();
    // Whoever waits for an answer gets none: shutdown and audit start go on without it.
    for (const w of this.waiting.splice(0)) w.resolve({ t: 'closed', gap: null });
  }
}

/**
 * The worker's module, compiled: beside this file in dist/, and under vitest (which runs the
 * TypeScript sources) the built copy, which `npm test` makes before the tests run.
 */
function workerFile(): URL {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.ts')) return new URL('../../dist/src/observer/observer-worker.js', here);
  return new URL('./observer-worker.js', here);
}
