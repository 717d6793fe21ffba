/**
 * The audit log (`--audit`): the event log as a hash chain. Every event of the bus becomes one
 * record, in seq order, linked to the one before (chain.ts); files rotate at `--max-size` with
 * the chain continuing across them; sessions and files end with seals.
 *
 * A rotating log keeps every file at or below `--max-size`. Before a record that would not fit
 * (with room kept for the file's seal), the writer itself seals the file and opens the next one
 * with its `audit.file`: these two records take the seq of the record before them (chain
 * format 3), so the switch happens exactly there, whatever the bus or the redactor still holds.
 * A payload event too long for any file is written as pieces (record-pieces.ts). Only a record
 * that has no payload to cut and is longer than a file can hold goes over: it stands alone in
 * its file, between that file's `audit.file` and its seal.
 *
 * Three stages, all behind the bus's `write`:
 * 1. the stdin redactor (`--redact-stdin`), which may hold events for a moment to see whether
 *    typed input comes back as echo;
 * 2. linking: `prev`/`hash`, and the counts and hashes seals carry, filled in here because only
 *    the chain knows them (the bus carries seals with null counts); in a file store, the link of
 *    `audit.start` to the replica's run before (`previousRun`, src/store/run-link.ts);
 * 3. one serial writer: lines go to the file in order, in batches (up to BATCH_BYTES, one
 *    `writev` each), each batch whole or not at all (audit-file.ts).
 *
 * A record is serialized once, into reused memory (line-arena.ts), hashed over those bytes in
 * one pass (chain formats 2 and 3, chain.ts), and the same bytes are written.
 *
 * Nothing is dropped while the file takes writes: a queue above its bound makes `write` return
 * false, and the lossless bus pauses the relay (backpressure). When a write fails (disk full,
 * read-only) the chain rewinds to the last record on disk and the sink fails: the listeners
 * hear why (closed mode: the proxy refuses new sessions and ends open ones). Every second it
 * asks the bus for an `audit.gap` record; the first one that can be written says which seqs
 * were lost, the chain goes on from there, and the listeners hear it recovered.
 */
import { unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { EventSink } from '../events/event-bus.js';
import { EVENT_SCHEMA_VERSION, type AuditFileEvent, type AuditRunLink, type AuditStartEvent, type AuditGapEvent, type AuditSealEvent, type ChainInfo, type EventBody, type KubewireEvent } from '../events/types.js';
import { timestampMicros } from '../events/stamp.js';
import { CliError } from '../io/errors.js';
import { noteFor } from '../events/notes.js';
import { LineArena } from '../sinks/line-arena.js';
import { describeLogError } from '../sinks/log-files.js';
import { AuditFile, partPath } from './audit-file.js';
import { NO_BACKLOG, type StoreBacklog } from './store-backlog.js';
import { ChainLinker, chainInfo, GENESIS, type LinkedRecord } from './chain.js';
import { pieces } from './record-pieces.js';
import { StdinRedactor, type RedactStdinMode } from './stdin-redactor.js';

export type AuditFailMode = 'closed' | 'open';

/** One record on its way out: its line (with the newline), and what a store indexes it by. */
export interface AuditLine {
  data: Buffer;
  seq: number;
  hash: string;
  session: string | undefined;
  /** What `annotate` said about the record, for the output (a store's session index). */
  attachment?: unknown;
}

/**
 * Where the records go: a file of the log (audit-file.ts), or a store's writer (src/store/).
 * `append` takes a batch whole or throws, leaving the output as it was.
 */
export interface AuditOutput {
  /** A regular file, whose directory is checked for room before a retry. */
  readonly regular: boolean;
  append(data: readonly Buffer[], lines: readonly AuditLine[]): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
  /** A store that can be behind (a database with a local spool) says how far; files never are. */
  backlog?(): StoreBacklog;
}

/** Signs seals (`--audit-signing-key`, src/audit/seal-signature.ts). */
export interface SealSigner {
  readonly info: NonNullable<ChainInfo['signature']>;
  /** The seal with its `signature`, made over it and `prev`, the hash of the record before it. */
  sign(seal: KubewireEvent, prev: string): KubewireEvent;
}

export interface AuditSinkOptions {
  /** `--log`: the file, or with rotation the base of `<stem>-0001.jsonl`, … */
  path: string;
  /** Instead of files: the output records go to (a store); `path` then only names it. No rotation. */
  output?: AuditOutput;
  /** Called for every record as it is linked; what it returns travels with the line to the output. */
  annotate?(e: KubewireEvent, hash: string): unknown;
  signer?: SealSigner | null;
  /** `--max-size` in bytes, or null for one file. */
  maxSize: number | null;
  key: Buffer | null;
  failMode: AuditFailMode;
  redactStdin: RedactStdinMode;
  /** Publishes on the bus (gap records), which hands them back to `write`. */
  publish(body: EventBody, fields?: { session?: string }): void;
  /** Bytes linked but not yet on disk before `write` returns false. */
  maxQueueBytes?: number;
  now?: () => number;
  /** Called once the log is closed (a file store's run gives its lease back, file-lease.ts). */
  onClosed?: () => Promise<void>;
  /**
   * A file store's run: the replica's run before it (or null for its first), which the chain's
   * `audit.start` is given as `previousRun` (src/store/run-link.ts). Undefined elsewhere.
   */
  previousRun?: AuditRunLink | null;
}

export const AUDIT_MAX_QUEUE_BYTES = 8 * 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;
const RETRY_MS = 1000;
/** Free space a failed log must show before it is written again (see AuditFile.hasRoom). */
const RECOVERY_ROOM_BYTES = 1024 * 1024;
const REDACT_TICK_MS = 100;
const MAX_HELD_EVENTS = 20_000;
/**
 * Room kept in every file of a rotating log for the seal that ends it, and for the `audit.file`
 * that starts it: each is a few hundred bytes (a count, two hashes, a file name).
 */
const SEAL_ROOM_BYTES = 1024;
const FILE_HEADER_ROOM_BYTES = 1024;

/** What the chain knows after a record: enough to undo to the last record on disk. */
interface ChainState {
  hash: string;
  /** The seq of the last record, which the records of a rotation repeat. */
  seq: number;
  part: number;
  fileCount: number;
  fileBytes: number;
  sessions: Map<string, { count: number; last: string }>;
}

interface LineItem {
  kind: 'line'; data: Buffer; seq: number; hash: string; session: string | undefined; sessionSeal: boolean; sync: boolean;
  attachment?: unknown;
  /** A rotation's `audit.file`, which repeats the seq before it: no event of its own. */
  rotation?: true;
}

/** A file seal that ends its part, and the switch to the next. */
interface RotateItem { kind: 'rotate'; part: number; seal: LineItem }

type QueueItem = LineItem | RotateItem;

export interface AuditFailure {
  reason: string;
  code: string | null;
  since: string;
}

export class AuditSink implements EventSink {
  readonly name = 'audit';
  readonly chain: ChainInfo;
  private readonly redactor: StdinRedactor;
  private readonly maxQueueBytes: number;
  private readonly now: () => number;
  private readonly arena = new LineArena();
  private readonly alloc = (n: number): Buffer => this.arena.alloc(n);
  private linker: ChainLinker;
  private linked: ChainState;
  private committed: ChainState;
  private file: AuditOutput | null;
  private readonly queue: QueueItem[] = [];
  private queueBytes = 0;
  private writing = false;
  private idleWaiters: (() => void)[] = [];
  private behind = false;
  private drainListeners: (() => void)[] = [];
  private failure: (AuditFailure & { lostFrom: number | null }) | null = null;
  /** A gap record is linked and on its way to disk. */
  private probing = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly redactTimer: NodeJS.Timeout | undefined;
  private failureListeners: ((f: AuditFailure) => void)[] = [];
  private recoveryListeners: (() => void)[] = [];
  private closed = false;
  private lastSeq = 0;

  private constructor(private readonly opts: AuditSinkOptions, file: AuditOutput) {
    this.chain = chainInfo(opts.key, opts.signer?.info ?? null);
    this.redactor = new StdinRedactor(opts.redactStdin);
    this.maxQueueBytes = opts.maxQueueBytes ?? AUDIT_MAX_QUEUE_BYTES;
    this.now = opts.now ?? Date.now;
    this.linker = new ChainLinker(opts.key, GENESIS, this.alloc);
    this.linked = freshState(1);
    this.committed = freshState(1);
    this.file = file;
    if (opts.redactStdin === 'echo-off') {
      this.redactTimer = setInterval(() => this.chainAll(this.redactor.tick(this.now())), REDACT_TICK_MS);
      this.redactTimer.unref();
    }
  }

  /**
   * Creates the first file. Throws KW_ERR_AUDIT_UNWRITABLE when it cannot: a chain must start
   * in a file that takes writes, whatever the fail mode.
   */
  static async open(opts: AuditSinkOptions): Promise<AuditSink> {
    if (opts.output) return new AuditSink({ ...opts, maxSize: null }, opts.output);
    const path = partPath(opts.path, 1, opts.maxSize !== null);
    try {
      return new AuditSink(opts, await AuditFile.create(path));
    } catch (e) {
      throw new CliError('KW_ERR_AUDIT_UNWRITABLE', `cannot write the audit log ${path}: ${describeLogError(e)}; pass --log with a new file in a directory you can write`, 1);
    }
  }

  /** The first file of the log. */
  get path(): string {
    if (this.opts.output) return this.opts.path;
    return partPath(this.opts.path, 1, this.opts.maxSize !== null);
  }

  /** How far the store is behind (a files log never is). */
  get backlog(): StoreBacklog {
    return this.opts.output?.backlog?.() ?? NO_BACKLOG;
  }

  /** The file being written now. */
  get currentPath(): string {
    if (this.opts.output) return this.opts.path;
    return partPath(this.opts.path, this.linked.part, this.opts.maxSize !== null);
  }

  /** Why the log cannot be written now, or null. */
  get failed(): AuditFailure | null {
    return this.failure ? { reason: this.failure.reason, code: this.failure.code, since: this.failure.since } : null;
  }

  onFailure(listener: (f: AuditFailure) => void): void {
    this.failureListeners.push(listener);
  }

  onRecovered(listener: () => void): void {
    this.recoveryListeners.push(listener);
  }

  write(event: KubewireEvent): boolean {
    if (this.closed) return true;
    this.chainAll(this.redactor.push(event, this.now()));
    this.updateBehind();
    return !this.behind;
  }

  onDrain(listener: () => void): void {
    if (this.behind) this.drainListeners.push(listener);
    else queueMicrotask(listener);
  }

  /** Resolves once every record handed over so far is on disk (or the log failed). */
  flushed(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Releases what the redactor holds, writes everything, syncs and closes. A failure that is
   * still on is left for the caller to report (`failed`, `lostRecords`).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.chainAll(this.redactor.flush());
    this.closed = true;
    clearInterval(this.redactTimer);
    clearTimeout(this.retryTimer);
    await this.flushed();
    if (this.file && !this.failure) await this.file.sync().catch((e: unknown) => this.fail(e));
    await this.file?.close();
    this.file = null;
    this.releaseDrain();
    await this.opts.onClosed?.();
  }

  /** Sessions with records in the chain after their last seal. */
  get unsealedSessions(): string[] {
    return [...this.linked.sessions.keys()];
  }

  /** Seqs lost while the log failed and not yet covered by a gap record. */
  get lostRecords(): { fromSeq: number; toSeq: number } | null {
    const from = this.failure?.lostFrom ?? null;
    return from === null ? null : { fromSeq: from, toSeq: this.lastSeq };
  }

  private chainAll(events: KubewireEvent[]): void {
    for (const e of events) this.chainOne(e);
    if (events.length) this.kick();
  }

  private chainOne(e: KubewireEvent): void {
    this.lastSeq = e.seq;
    if (this.failure && !this.probing) {
      if (e.type === 'audit.gap') {
        // The probe: it says what was lost, and is the first record after the failure.
        this.probing = true;
        const fromSeq = this.failure.lostFrom ?? e.seq;
        const toSeq = e.seq - 1;
        this.link(filled(e, { fromSeq, toSeq, records: Math.max(0, toSeq - fromSeq + 1) }), true);
      } else {
        this.failure.lostFrom ??= e.seq;
      }
      return;
    }
    switch (e.type) {
      case 'audit.seal':
        // The file seals of rotations are the writer's own (startNextPart); the bus brings the final one.
        if (e.scope === 'file') this.link(filled(e, { part: this.linked.part, count: this.linked.fileCount, last: this.linked.hash, final: true }), true);
        else this.linkSessionSeal(e);
        return;
      case 'audit.gap':
        // A probe that is no longer needed (the log recovered through an earlier one): it is
        // still a record in seq order, and says nothing was lost.
        this.link(filled(e, { fromSeq: null, toSeq: null, records: 0 }), false);
        return;
      case 'audit.start':
        // A file store's run links to the replica's run before it: only the store knows which.
        this.link(this.opts.previousRun !== undefined ? withPreviousRun(e, this.opts.previousRun) : e, false);
        return;
      default:
        this.link(e, false);
    }
  }

  private linkSessionSeal(e: KubewireEvent & AuditSealEvent): void {
    const s = e.session ? this.linked.sessions.get(e.session) : undefined;
    this.link(filled(e, { count: s?.count ?? 0, last: s?.last ?? null }), true, true);
  }

  /**
   * Links one record, queues its line and keeps the chain's counts. In a rotating log, a record
   * that does not fit in the file after those before it (and its seal) goes into the next file;
   * one that fits in no file is cut into pieces when it can be.
   */
  private link(e: KubewireEvent, sync: boolean, sessionSeal = false): void {
    const max = this.opts.maxSize;
    let line = this.linkLine(e);
    // The final seal always fits: every file keeps room for its seal.
    if (max !== null && this.linked.fileBytes + line.data.length + SEAL_ROOM_BYTES > max && !(e.type === 'audit.seal' && e.scope === 'file')) {
      this.unlink(line);
      const room = max - FILE_HEADER_ROOM_BYTES - SEAL_ROOM_BYTES;
      const cut = line.data.length > room ? pieces(e, line.data.length - 1, room) : null;
      if (cut) {
        for (const piece of cut) this.link(piece, sync, sessionSeal);
        return;
      }
      // A file holding only its first record gains nothing from a switch.
      if (this.linked.fileCount > 1) this.startNextPart();
      line = this.linkLine(e);
    }
    this.queueLine(line, e, sync, sessionSeal);
  }

  /** Links one record; a seal is signed first (`--audit-signing-key`), over the hash it follows. */
  private linkLine(e: KubewireEvent): LinkedRecord {
    const signer = this.opts.signer;
    return this.linker.link(signer && e.type === 'audit.seal' ? signer.sign(e, this.linker.last) : e);
  }

  private queueLine(line: LinkedRecord, e: KubewireEvent, sync: boolean, sessionSeal: boolean): LineItem {
    advance(this.linked, line.hash, line.data.length, e.session, sessionSeal, e.seq);
    const item: LineItem = { kind: 'line', data: line.data, seq: e.seq, hash: line.hash, session: e.session, sessionSeal, sync };
    if (this.opts.annotate) {
      const attachment = this.opts.annotate(e, line.hash);
      if (attachment !== undefined) item.attachment = attachment;
    }
    this.queue.push(item);
    this.queueBytes += item.data.length;
    return item;
  }

  /** Takes back a line just linked and not queued: the next one links to the record before it. */
  private unlink(line: LinkedRecord): void {
    this.arena.release(line.data);
    this.linker = new ChainLinker(this.opts.key, this.linked.hash, this.alloc);
  }

  /**
   * Seals this file and starts the next: the seal, the switch and the next file's `audit.file`,
   * records of the writer that repeat the seq of the record before them. The seal and the switch
   * are one step of the writer: if the next file cannot be created, the seal is not written
   * either and the chain stays in this part.
   */
  private startNextPart(): void {
    const seq = this.linked.seq;
    const ts = timestampMicros(this.now());
    const previousFile = basename(this.currentPath);
    const seal: AuditSealEvent = { type: 'audit.seal', scope: 'file', count: this.linked.fileCount, last: this.linked.hash, part: this.linked.part, final: false };
    const sealLine = this.linkLine(writerRecord(seal, seq, ts));
    advance(this.linked, sealLine.hash, sealLine.data.length, undefined, false, seq);
    const item: LineItem = { kind: 'line', data: sealLine.data, seq, hash: sealLine.hash, session: undefined, sessionSeal: false, sync: false };
    this.queue.push({ kind: 'rotate', part: this.linked.part + 1, seal: item });
    this.queueBytes += item.data.length;
    this.linked.part++;
    this.linked.fileCount = 0;
    this.linked.fileBytes = 0;
    const next: AuditFileEvent = { type: 'audit.file', part: this.linked.part, chain: this.chain, previousFile, previousHash: this.linked.hash };
    const record = writerRecord(next, seq, ts);
    this.queueLine(this.linker.link(record), record, true, false).rotation = true;
  }

  /** The one writer: batches of whole lines, in order, then rotations. */
  private kick(): void {
    if (this.writing) return;
    this.writing = true;
    void this.drainQueue().finally(() => {
      this.writing = false;
      if (this.queue.length > 0 && !this.failure) this.kick();
      else this.releaseIdle();
    });
  }

  private async drainQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const first = this.queue[0]!;
      try {
        if (first.kind === 'rotate') {
          await this.rotate(first);
          this.queue.shift();
          this.arena.release(first.seal.data);
          this.queueBytes -= first.seal.data.length;
          advance(this.committed, first.seal.hash, first.seal.data.length, undefined, false, first.seal.seq);
          this.committed.part = first.part;
          this.committed.fileCount = 0;
          this.committed.fileBytes = 0;
          continue;
        }
        const batch: LineItem[] = [];
        let bytes = 0;
        for (const item of this.queue) {
          if (item.kind !== 'line' || (batch.length > 0 && bytes + item.data.length > BATCH_BYTES)) break;
          batch.push(item);
          bytes += item.data.length;
        }
        if (!this.file) throw Object.assign(new Error('the audit file is not open'), { code: 'EBADF' });
        await this.file.append(batch.map((b) => b.data), batch);
        if (batch.some((b) => b.sync)) await this.file.sync();
        this.queue.splice(0, batch.length);
        this.queueBytes -= bytes;
        for (const item of batch) {
          this.arena.release(item.data);
          advance(this.committed, item.hash, item.data.length, item.session, item.sessionSeal, item.seq);
        }
        if (this.probing) this.recovered();
        this.updateBehind();
      } catch (e) {
        this.fail(e);
        return;
      }
    }
  }

  private async rotate(item: RotateItem): Promise<void> {
    const old = this.file as AuditFile | null;
    if (!old) throw Object.assign(new Error('the audit file is not open'), { code: 'EBADF' });
    const nextPath = partPath(this.opts.path, item.part, true);
    const next = await AuditFile.create(nextPath);
    try {
      await old.append(item.seal.data);
      await old.sync();
    } catch (e) {
      await next.close();
      await unlink(nextPath).catch(() => undefined);
      throw e;
    }
    await old.close();
    this.file = next;
  }

  private fail(e: unknown): void {
    const err = e as NodeJS.ErrnoException;
    // The first event not on disk: a rotation's records repeat the seq before them and are no
    // event, and a piece whose event began on disk makes that event's seq the first lost.
    const head = this.queue.find((item): item is LineItem => item.kind === 'line' && item.rotation !== true);
    const firstLost = head ? head.seq : this.lastSeq + 1;
    const since = this.failure?.since ?? new Date(this.now()).toISOString();
    const lostFrom = this.failure?.lostFrom ?? firstLost;
    const first = this.failure === null;
    this.failure = { reason: describeLogError(e), code: err?.code ?? null, since, lostFrom };
    this.probing = false;
    this.queue.length = 0;
    this.queueBytes = 0;
    // The lines dropped with the queue are never written: their memory goes to the collector.
    this.arena.reset();
    // Back to the last record on disk: the next record links to it.
    this.linked = cloneState(this.committed);
    this.linker = new ChainLinker(this.opts.key, this.committed.hash, this.alloc);
    this.updateBehind();
    if (first) for (const l of this.failureListeners) l(this.failed!);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.failure || this.closed) return;
      const gap: AuditGapEvent = { type: 'audit.gap', reason: this.failure.reason, code: this.failure.code, fromSeq: null, toSeq: null, records: null, since: this.failure.since, failMode: this.opts.failMode };
      // A device or pipe (/dev/stdout) has no directory to check: just try the record.
      const check = this.file && !this.file.regular ? Promise.resolve(true) : AuditFile.hasRoom(dirname(this.currentPath), RECOVERY_ROOM_BYTES);
      void check.then((room) => {
        if (room && this.failure && !this.closed && !this.probing) this.opts.publish(gap);
        this.scheduleRetry();
      });
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private recovered(): void {
    this.probing = false;
    this.failure = null;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const l of this.recoveryListeners) l();
  }

  private updateBehind(): void {
    const behind = !this.failure && (this.queueBytes > this.maxQueueBytes || this.redactor.held > MAX_HELD_EVENTS);
    if (behind) this.behind = true;
    else if (this.behind && (this.failure || (this.queueBytes <= this.maxQueueBytes / 2 && this.redactor.held <= MAX_HELD_EVENTS / 2))) {
      this.behind = false;
      this.releaseDrain();
    }
  }

  private releaseDrain(): void {
    const listeners = this.drainListeners;
    this.drainListeners = [];
    for (const l of listeners) l();
  }

  private releaseIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** A record of the writer's own, stamped as the bus stamps events, with the seq it repeats. */
function writerRecord(body: EventBody, seq: number, ts: string): KubewireEvent {
  return { v: EVENT_SCHEMA_VERSION, seq, ts, ...body, note: noteFor(body) } as KubewireEvent;
}

/** A copy of `e` with the fields only the chain knows, and the note they change. */
function filled(e: KubewireEvent, fields: Record<string, unknown>): KubewireEvent {
  const out = { ...e, ...fields } as KubewireEvent;
  out.note = noteFor(out);
  return out;
}

/** `audit.start` with `previousRun`, put before its note as the schema lists it. */
function withPreviousRun(e: KubewireEvent & AuditStartEvent, previousRun: AuditRunLink | null): KubewireEvent {
  const { note: _note, ...rest } = e;
  const out = { ...rest, previousRun, note: '' } as KubewireEvent;
  out.note = noteFor(out);
  return out;
}

function freshState(part: number): ChainState {
  return { hash: GENESIS, seq: 0, part, fileCount: 0, fileBytes: 0, sessions: new Map() };
}

function cloneState(s: ChainState): ChainState {
  return { ...s, sessions: new Map([...s.sessions].map(([k, v]) => [k, { ...v }])) };
}

function advance(s: ChainState, hash: string, bytes: number, session: string | undefined, sessionSeal: boolean, seq: number): void {
  s.hash = hash;
  s.seq = seq;
  s.fileCount++;
  s.fileBytes += bytes;
  if (!session) return;
  if (sessionSeal) s.sessions.delete(session);
  else {
    const cur = s.sessions.get(session);
    if (cur) {
      cur.count++;
      cur.last = hash;
    } else s.sessions.set(session, { count: 1, last: hash });
  }
}
