/**
 * The PostgreSQL output of the audit writer (`--audit-store postgres://…`): each batch of
 * records of this replica's chain goes into `audit_records` in one transaction, with the
 * session index rows of its `audit.session` records and the replica's last position and hash
 * (pg-schema.ts). The writer (audit-sink.ts) links, hashes and orders the records exactly as for
 * files; this only stores their lines.
 *
 * Several replicas write to one database at once: each owns its rows (`replica`, `pos`), and
 * holds its row of `audit_replicas` as a lease (an owner token and a heartbeat, with an advisory
 * lock on its connection: pg-lease.ts) so that two processes given the same `--audit-replica` do
 * not interleave one chain, while a process that crashed leaves its replica to a restart at once.
 *
 * When the database cannot take a batch (unreachable, restarting), the batch and every later one
 * go to a local spool file instead, as the chained lines they are; every second the spool is
 * uploaded, in order, once the database answers again, and then records go to it directly again.
 * Only when the spool cannot be written either does `append` fail, and the writer's fail mode
 * applies (`--audit-fail closed` refuses sessions). A batch whose commit was lost in flight may
 * be in the database and in the spool: the upload skips what the database already holds, by
 * the replica's last hash.
 *
 * While spooling, memory does not grow with the records spooled (a long outage of a busy
 * gateway spools gigabytes): the spool file holds them, and the writer keeps only its size, its
 * record count and where the next upload resumes (the byte after the last record the database
 * took). The upload reads the file back in bounded pieces and rebuilds each record's type and
 * session index row from its line (record-attachment.ts), as for a spool left by an earlier run:
 * one upload path for both (uploadSpool).
 *
 * Spools are named for their replica (`<log stem>.spool-<replica>-0001.jsonl` beside `--log`).
 * One left over by a run that stopped or died while the database was down is uploaded at the
 * next start of the same replica, in order and before any new record, once the database
 * answers: it must continue the replica's chain (its first record links to the replica's last
 * hash, or starts a run of its own), else it is left where it is, with a message.
 */
import { randomUUID } from 'node:crypto';
import { readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import pg from 'pg';
import { AuditFile, partPath } from '../audit/audit-file.js';
import { GENESIS } from '../audit/chain.js';
import type { AuditLine, AuditOutput } from '../audit/audit-sink.js';
import type { StoreBacklog } from '../audit/store-backlog.js';
import type { ChainInfo } from '../events/types.js';
import { readFileLines } from '../sinks/jsonl-lines.js';
import type { KubewireEvent } from '../events/types.js';
import { HEARTBEAT_MS } from './lease-period.js';
import { giveLeaseBack, renewLease, takeLease, takenOver } from './pg-lease.js';
import { migrate } from './pg-schema.js';
import { recordAttachment, type RecordAttachment } from './record-attachment.js';
import { ReplicaRefused, StoreRefused } from './store-refused.js';
import { SessionIndexer, type SessionRow } from './session-index.js';

export type { RecordAttachment } from './record-attachment.js';

export interface PgOutputOptions {
  url: string;
  replica: string;
  chain: ChainInfo;
  /** The spool's base path (`--log`): spools are `<stem>-0001.jsonl`, … beside it. */
  spoolPath: string;
  /** A line for the user's stderr. */
  report(text: string): void;
  /** How often the spool tries the database again, ms. */
  retryMs?: number;
  /** How often the lease is renewed, ms (HEARTBEAT_MS). */
  heartbeatMs?: number;
}

/** A record on its way into `audit_records`, with its index row (an `audit.session`'s). */
interface Pending {
  line: string;
  seq: number;
  hash: string;
  session: string | null;
  type: string;
  row: SessionRow | undefined;
}

/** A record as the writer hands it over or as a spool holds it: one builder, so both store alike. */
function pending(line: string, seq: number, hash: string, session: string | null | undefined, a: RecordAttachment | undefined): Pending {
  return { line, seq, hash, session: session ?? null, type: a?.type ?? 'unknown', row: a?.row };
}

/** A record of a spool as read back: its line, parsed, and the byte offset past it in the spool. */
interface Spooled {
  line: string;
  event: KubewireEvent & { prev?: string; hash?: string };
  end: number;
}

/**
 * The spool of this run while the database cannot take records: the file and a few numbers,
 * never anything per record (the file holds the records).
 */
interface LiveSpool {
  path: string;
  file: AuditFile;
  /** Bytes and records written to it. */
  bytes: number;
  records: number;
  /** Where the next upload resumes: the byte past the last record in the database, and how many records that is. */
  uploadedBytes: number;
  uploadedRecords: number;
  /** When its first record came. */
  since: number;
  /**
   * The session index rows of its `audit.session` records, by seq: one per session that ended
   * while spooling, not one per record. Kept so that the upload need not rebuild them by reading
   * the replica's whole run back from the database, which for a gateway up for weeks is large.
   */
  rows: Map<number, SessionRow>;
}

/** What an upload of a spool did: records stored, and whether a line was left out. */
interface Uploaded {
  uploaded: number;
  cut: boolean;
}

/** What the writer keeps in memory about its spool (for tests and diagnostics): numbers, and how many index rows it holds. */
export type SpoolState = Omit<LiveSpool, 'file' | 'rows'> & { indexRows: number };

const UPLOAD_BATCH = 500;
const UPLOAD_BATCH_BYTES = 4 * 1024 * 1024;
/** A spool line longer than this is not a record the writer wrote (the writer's lines are far shorter). */
const MAX_SPOOL_LINE_BYTES = 64 * 1024 * 1024;

export class PgAuditOutput implements AuditOutput {
  readonly regular = false;
  private client: pg.Client | null = null;
  private lastPos = 0;
  private lastHash: string | null = null;
  private runPos = 0;
  private spool: LiveSpool | null = null;
  /** When each batch handed to `append` and not yet stored or spooled came, oldest first. */
  private readonly unstored: number[] = [];
  private spools = 0;
  /** Spools of earlier runs of this replica, oldest first, not uploaded yet. */
  private leftovers: string[] = [];
  private serial: Promise<unknown> = Promise.resolve();
  private readonly token = randomUUID();
  private readonly retryTimer: NodeJS.Timeout;
  private uploadQueued = false;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private closed = false;
  /** Why records can no longer go to this replica at all (its lease lost, the spool refused): every append fails. */
  private refusal: Error | null = null;
  /** This process has held the replica's lease: a refusal to take it again means it was taken over. */
  private leased = false;
  /** The connection holds the replica's advisory lock (pg-lease.ts). */
  private locked = false;

  private constructor(private readonly opts: PgOutputOptions) {
    // One try at a time: against a database that drops packets a try lasts the connect timeout,
    // and tries queued every second would pile up ahead of every append.
    this.retryTimer = setInterval(() => {
      if (!this.spool || this.refusal || this.uploadQueued) return;
      this.uploadQueued = true;
      void this.enqueue(() => this.upload())
        .catch((e: unknown) => this.refusedLater(e))
        .finally(() => void (this.uploadQueued = false));
    }, opts.retryMs ?? 1000);
    this.retryTimer.unref();
    this.heartbeatTimer = setInterval(() => void this.enqueue(() => this.heartbeat()).catch(() => undefined), opts.heartbeatMs ?? HEARTBEAT_MS);
    this.heartbeatTimer.unref();
  }

  /**
   * Connects, migrates the schema and takes the replica's lease. A database that cannot be
   * reached is not fatal (records spool until it can); a replica held by another process, or
   * created with another protection, is, and so is a store configured wrong (startupRefusal).
   */
  static async open(opts: PgOutputOptions): Promise<PgAuditOutput> {
    const out = new PgAuditOutput(opts);
    await out.findLeftovers();
    try {
      await out.connect();
    } catch (e) {
      const refused = e instanceof StoreRefused ? e : startupRefusal(e);
      if (refused) {
        await out.close();
        throw refused;
      }
      opts.report(`kubewire: cannot reach the audit database yet (${describePgError(e)}); records spool to local files beside ${opts.spoolPath} and are uploaded once it answers`);
    }
    return out;
  }

  /** The records in the spool, not yet in the database. */
  get spooled(): number {
    return this.spool ? this.spool.records - this.spool.uploadedRecords : 0;
  }

  /** What is kept in memory about the spool of this run, if any: a copy. */
  get spoolState(): SpoolState | null {
    if (!this.spool) return null;
    const { file: _file, rows, ...state } = this.spool;
    return { ...state, indexRows: rows.size };
  }

  /** Records in the spool are older than those on their way: the spool's first says how far behind. */
  backlog(): StoreBacklog {
    return { oldestUnstoredAt: this.spool?.since ?? this.unstored[0] ?? null, spoolBytes: this.spool?.bytes ?? 0 };
  }

  append(_data: readonly Buffer[], lines: readonly AuditLine[]): Promise<void> {
    const at = Date.now();
    this.unstored.push(at);
    const items = lines.map((l) => pending(l.data.toString('utf8', 0, l.data.length - 1), l.seq, l.hash, l.session, l.attachment as RecordAttachment | undefined));
    const data = lines.map((l) => l.data);
    // Stored, spooled or refused, the batch is off the list; the queue is serial, so in order.
    return this.enqueue(() => this.write(items, data, at)).finally(() => void this.unstored.shift());
  }

  async sync(): Promise<void> {
    await this.enqueue(async () => {
      await this.spool?.file.sync();
    });
  }

  /** Uploads what is spooled (one last try), gives the lease back and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    await this.enqueue(async () => {
      if (this.spool && !this.refusal) await this.upload().catch(() => undefined);
      if (this.spool) {
        this.opts.report(`kubewire: the audit database is still unreachable: ${this.spooled} records stay in the spool ${this.spool.path}`);
        await this.spool.file.close();
      }
      const c = this.client;
      this.client = null;
      if (c) {
        await giveLeaseBack(c, this.opts.replica, this.token).catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    }).catch(() => undefined);
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.serial.then(task, task);
    this.serial = run.catch(() => undefined);
    return run;
  }

  /**
   * A batch into the database, or the spool while the database cannot be reached. Only an
   * unreachable database spools (connectionLost): a refusal waiting does not cure (the lease
   * taken over, a protection mismatch on reconnect) or an error of the batch itself fails the
   * append, so the writer's fail mode applies at once instead of a spool that never uploads.
   */
  private async write(items: Pending[], data: Buffer[], at: number): Promise<void> {
    if (this.refusal) throw this.refusal;
    if (!this.spool) {
      try {
        if (!this.client) await this.connect();
        await this.insert(items);
        return;
      } catch (e) {
        this.dropClient();
        if (e instanceof ReplicaRefused) throw this.refuse(e);
        if (!connectionLost(e)) throw new Error(`the audit database refused a batch of records: ${describePgError(e)}`);
        this.opts.report(`kubewire: the audit database cannot take records (${describePgError(e)}); they spool to local files beside ${this.opts.spoolPath} until it can`);
      }
    }
    await this.spoolWrite(items, data, at);
  }

  /**
   * A refusal that holds from now on: every later append fails with it (the writer reports the
   * failure and applies its fail mode), and the spool, if any, stays as it is.
   */
  private refuse(e: Error): Error {
    if (!this.refusal) {
      const kept = this.spool ? `; ${this.spooled} records stay in the spool ${this.spool.path}` : '';
      this.refusal = new Error(`${e.message}${kept}`);
    }
    return this.refusal;
  }

  /**
   * A failure away from any append (a spool upload, the heartbeat): retried while the database
   * is unreachable; anything else would fail again on every try, so it is a refusal, told now.
   */
  private refusedLater(e: unknown): void {
    if (connectionLost(e) || this.refusal) return;
    const r = this.refuse(e instanceof ReplicaRefused ? e : new Error(`the audit database refuses the spooled records: ${describePgError(e)}`));
    this.opts.report(`kubewire: the audit store takes no more records: ${r.message}`);
  }

  /** The batch's lines at the end of the spool; only their count and size are kept. */
  private async spoolWrite(items: Pending[], data: Buffer[], at: number): Promise<void> {
    if (!this.spool) {
      const path = partPath(this.spoolBase(), ++this.spools, true);
      this.spool = { path, file: await AuditFile.create(path), bytes: 0, records: 0, uploadedBytes: 0, uploadedRecords: 0, since: at, rows: new Map() };
    }
    await this.spool.file.append(data);
    for (const d of data) this.spool.bytes += d.length;
    this.spool.records += items.length;
    for (const it of items) if (it.row) this.spool.rows.set(it.seq, it.row);
  }

  /**
   * The spool of this run into the database, in order, from where the last try stopped; then the
   * spool is removed. Appends wait meanwhile (the queue is serial): records spooled after a try
   * that stopped half-way follow in the file and are read on the next try.
   */
  private async upload(): Promise<void> {
    const spool = this.spool;
    if (!spool) return;
    if (!this.client) await this.connect();
    let done: Uploaded | null;
    try {
      // Its lines are whole records (AuditFile cuts a failed write back): any other line is a spool changed under the writer.
      done = await this.uploadSpool(spool.path, spool.uploadedBytes, spool.rows, (end, records) => {
        spool.uploadedBytes = end;
        spool.uploadedRecords += records;
      });
    } catch (e) {
      this.dropClient();
      throw e;
    }
    // Its records link to the replica's head by construction: this is a spool changed under the writer.
    if (!done) throw new Error(`the spool ${spool.path} no longer continues the replica's chain (its next record does not link to the replica's last)`);
    await spool.file.close();
    await unlink(spool.path).catch(() => undefined);
    this.spool = null;
    this.opts.report(`kubewire: the audit database takes records again; ${spool.records} spooled records were uploaded in order`);
  }

  /**
   * The records of the spool at `path` from byte `start` on into the database, in order, in
   * batches of at most UPLOAD_BATCH records or UPLOAD_BATCH_BYTES; `stored(end, records)` after
   * each batch committed (and after the records the database held already), with the byte past
   * its last record. Streaming, so memory does not grow with the spool. `rows`: the index rows
   * the writer made for this run's spool as it wrote it (live); null for a spool left by an
   * earlier run, whose rows are rebuilt from its lines by the function the writer uses
   * (recordAttachment), after that run's records in the database, as its writer read them.
   *
   * What the database holds already (a commit whose answer was lost in flight: the replica's
   * last hash is a record of the spool) is skipped. Null when the first record left does not
   * continue the replica's chain (it neither links to the replica's last hash nor starts a run):
   * nothing is stored then. A line cut short or not JSON (the last line of a spool whose writer
   * died mid-write) is left out and told in `cut`; in a live spool it fails the upload instead.
   */
  private async uploadSpool(path: string, start: number, rows: Map<number, SessionRow> | null, stored: (end: number, records: number) => void): Promise<Uploaded | null> {
    const whole = rows !== null;
    const from = await this.firstUnheld(path, start);
    if (from.held > 0) stored(from.offset, from.held);
    const first = from.first?.event;
    if (first && first.type !== 'audit.start' && first.prev !== (this.lastHash ?? GENESIS)) return null;
    // The index rows of its audit.session records, read as the writer reads them: from the run's start.
    const indexer = new SessionIndexer();
    if (rows === null && first && first.type !== 'audit.start' && this.runPos > 0) {
      for await (const e of this.runRecords()) indexer.push(e);
    }
    let uploaded = 0;
    let cut = false;
    let batch: Pending[] = [];
    let batchFrom = from.offset;
    let end = from.offset;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await this.insert(batch);
      uploaded += batch.length;
      stored(end, batch.length);
      batch = [];
      batchFrom = end;
    };
    for await (const r of spooledRecords(path, from.offset)) {
      if (r === null) {
        if (whole) throw new Error(`the spool ${path} does not hold what was written to it (a line is cut short or not a record)`);
        cut = true;
        continue;
      }
      const e = r.event;
      batch.push(pending(r.line, e.seq, e.hash ?? '', e.session, rows === null ? recordAttachment(indexer, e) : { type: e.type, row: rows.get(e.seq) }));
      end = r.end;
      if (batch.length >= UPLOAD_BATCH || end - batchFrom >= UPLOAD_BATCH_BYTES) await flush();
    }
    await flush();
    return { uploaded, cut };
  }

  /**
   * Where the records of the spool that the database does not hold start, from byte `start`:
   * there, unless the replica's last hash is one of its records (a commit lost in flight), then
   * after that one; `held` records skipped. One record is read when the first links to the
   * replica's last hash (its hash cannot come again in the chain), the spool once otherwise.
   */
  private async firstUnheld(path: string, start: number): Promise<{ offset: number; held: number; first: Spooled | null }> {
    const last = this.lastHash;
    let first: Spooled | null = null;
    let held = 0;
    let found: number | null = null;
    for await (const r of spooledRecords(path, start)) {
      if (r === null) continue;
      if (found !== null) return { offset: found, held, first: r };
      if (first === null) {
        first = r;
        if (last === null || r.event.prev === last) break;
      }
      held++;
      if (r.event.hash === last) found = r.end;
    }
    return found === null ? { offset: start, held: 0, first } : { offset: found, held, first: null };
  }

  /** One batch, one transaction: the records, their index rows and the replica's head. */
  private async insert(items: Pending[]): Promise<void> {
    const c = this.client;
    if (!c) throw new Error('not connected');
    const positions = items.map((_, i) => this.lastPos + 1 + i);
    let runPos = this.runPos;
    const rows: { pos: number; runPos: number; row: SessionRow }[] = [];
    items.forEach((it, i) => {
      if (it.type === 'audit.start') runPos = positions[i]!;
      if (it.row) rows.push({ pos: positions[i]!, runPos, row: it.row });
    });
    const last = items.at(-1)!;
    await c.query('BEGIN');
    try {
      await c.query(
        `INSERT INTO audit_records (replica, pos, seq, type, session, hash, line)
         SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])`,
        [this.opts.replica, positions, items.map((i) => i.seq), items.map((i) => pgText(i.type)), items.map((i) => pgText(i.session)), items.map((i) => i.hash), items.map((i) => i.line)],
      );
      for (const { pos, runPos: rp, row } of rows) await insertSessionRow(c, this.opts.replica, pos, rp, row);
      const head = await c.query('UPDATE audit_replicas SET last_pos = $2, last_hash = $3, heartbeat = now() WHERE name = $1 AND owner = $4', [this.opts.replica, positions.at(-1), last.hash, this.token]);
      if (head.rowCount !== 1) throw new ReplicaRefused(takenOver(this.opts.replica));
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    this.lastPos = positions.at(-1)!;
    this.lastHash = last.hash;
    this.runPos = runPos;
  }

  /**
   * Renews the lease. While spooling the retry timer's upload does it (its connect takes the
   * lease again, pg-lease.ts); an idle writer whose connection was lost reconnects here, so that
   * it holds its lock and stays heard from without waiting for a record. A lease found taken
   * over is told now, not at the next record, which may be long in coming on an idle gateway.
   */
  private async heartbeat(): Promise<void> {
    if (this.spool || this.refusal || this.closed) return;
    try {
      if (!this.client) {
        await this.connect();
        return;
      }
      const r = await renewLease(this.client, this.opts.replica, this.token, this.locked);
      this.locked = r.locked;
      if (!r.ours) throw new ReplicaRefused(takenOver(this.opts.replica));
    } catch (e) {
      if (!(e instanceof ReplicaRefused)) this.dropClient();
      this.refusedLater(e);
    }
  }

  private async connect(): Promise<void> {
    const c = new pg.Client({ connectionString: this.opts.url, connectionTimeoutMillis: 3000, query_timeout: 15_000, application_name: `kubewire ${this.opts.replica}` });
    // A connection lost between queries: the next write finds no client and reconnects or spools.
    c.on('error', () => {
      if (this.client === c) this.dropClient();
    });
    try {
      await c.connect();
      await migrate(c);
      await this.lease(c);
    } catch (e) {
      await c.end().catch(() => undefined);
      throw e;
    }
    this.client = c;
    try {
      while (this.leftovers.length > 0) {
        await this.recover(this.leftovers[0]!);
        this.leftovers.shift();
      }
    } catch (e) {
      this.dropClient();
      throw e;
    }
  }

  /** `<log stem>.spool-<replica>.jsonl`: the base of this replica's spool parts. */
  private spoolBase(): string {
    const ext = extname(this.opts.spoolPath) || '.jsonl';
    return join(dirname(this.opts.spoolPath), `${basename(this.opts.spoolPath, extname(this.opts.spoolPath))}.spool-${this.opts.replica}${ext}`);
  }

  /** This replica's spools beside `--log`, oldest first; new spools are numbered after them. */
  private async findLeftovers(): Promise<void> {
    const dir = dirname(this.opts.spoolPath);
    const name = new RegExp(`\\.spool-${this.opts.replica.replace(/[.]/g, '\\.')}-(\\d{4,})\\.jsonl$`);
    const found: { path: string; mtime: number; part: number }[] = [];
    for (const f of await readdir(dir).catch(() => [] as string[])) {
      const m = name.exec(f);
      if (!m) continue;
      const path = join(dir, f);
      const st = await stat(path).catch(() => null);
      if (st?.isFile()) found.push({ path, mtime: st.mtimeMs, part: Number(m[1]) });
    }
    found.sort((a, b) => a.mtime - b.mtime || a.part - b.part || a.path.localeCompare(b.path));
    this.leftovers = found.map((f) => f.path);
    this.spools = Math.max(0, ...found.map((f) => f.part));
    if (found.length) this.opts.report(`kubewire: ${found.length} spool file${found.length === 1 ? '' : 's'} of replica ${this.opts.replica} left by an earlier run: uploaded before new records once the database answers`);
  }

  /**
   * A spool left by an earlier run into the database, if it continues the replica's chain; then
   * it is removed. Streaming, as the spool of this run (uploadSpool), so memory does not grow
   * with the spool (a long outage leaves gigabytes).
   */
  private async recover(path: string): Promise<void> {
    const done = await this.uploadSpool(path, 0, null, () => undefined);
    if (!done) {
      this.opts.report(`kubewire: the spool ${path} does not continue replica ${this.opts.replica}'s chain (its first record does not link to the replica's last); it is left in place`);
      return;
    }
    await unlink(path).catch(() => undefined);
    this.opts.report(`kubewire: uploaded ${done.uploaded} records left in the spool ${path} by an earlier run of replica ${this.opts.replica}${done.cut ? ' (its last line was cut short and is left out)' : ''}`);
  }

  /** The records of the replica's current run in the database, in order. */
  private async *runRecords(): AsyncGenerator<KubewireEvent> {
    for (let at = this.runPos; at <= this.lastPos; ) {
      const { rows } = await this.client!.query<{ pos: string; line: string }>(
        'SELECT pos, line FROM audit_records WHERE replica = $1 AND pos >= $2 AND pos <= $3 ORDER BY pos LIMIT $4', [this.opts.replica, at, this.lastPos, UPLOAD_BATCH]);
      if (rows.length === 0) return;
      for (const r of rows) yield JSON.parse(r.line) as KubewireEvent;
      at = Number(rows.at(-1)!.pos) + 1;
    }
  }

  /**
   * Takes the replica's lease (pg-lease.ts) and reads its head. A row taken from a process that
   * is gone (crashed, or cut off from the database) is told: its last run ends without a final
   * seal, and this run follows it in the replica's chain.
   */
  private async lease(c: pg.Client): Promise<void> {
    const { replica, chain } = this.opts;
    const taken = await takeLease(c, replica, this.token, chain, this.leased);
    // Back after losing the connection: the replica's head must still be this process's last
    // record (or one of the spooled ones, whose commit was lost in flight), else another process
    // wrote the replica meanwhile and gave it back: records of this chain would not link there.
    if (this.leased && taken.lastHash !== this.lastHash && !(this.spool && taken.lastHash !== null && (await spoolHolds(this.spool.path, this.spool.uploadedBytes, taken.lastHash)))) {
      await giveLeaseBack(c, replica, this.token).catch(() => undefined);
      throw new ReplicaRefused(takenOver(replica));
    }
    this.leased = true;
    this.locked = taken.locked;
    if (taken.fromGone) this.opts.report(`kubewire: replica ${replica} was held by a process that is gone (it crashed or lost the database without giving it back): this process takes it over`);
    this.lastPos = taken.lastPos;
    this.lastHash = taken.lastHash;
    const run = await c.query<{ p: string | null }>("SELECT max(pos) AS p FROM audit_records WHERE replica = $1 AND type = 'audit.start'", [replica]);
    this.runPos = Number(run.rows[0]?.p ?? 0);
  }

  private dropClient(): void {
    const c = this.client;
    this.client = null;
    void c?.end().catch(() => undefined);
  }
}

/**
 * A value for a text column. PostgreSQL text cannot hold NUL (U+0000), and the index columns
 * take what the client sent (`exec?command=%00` decodes to a NUL): each NUL becomes U+FFFD, as
 * any other invalid text does on its way to UTF-8 (a lone surrogate). The record itself keeps
 * every byte: its line is JSON, where a NUL is the escape `\u0000` (and the column is text, not
 * jsonb, which would refuse that escape too).
 */
function pgText<T extends string | null>(s: T): T {
  return (s !== null && s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s) as T;
}

async function insertSessionRow(c: pg.Client, replica: string, pos: number, runPos: number, r: SessionRow): Promise<void> {
  await c.query(
    `INSERT INTO audit_sessions (replica, pos, run_pos, session, username, groups, cluster, verb, namespace, pod, container, command, typed, tty,
       started_at, ended_at, exit_code, bytes_c2s, bytes_s2c, transport, findings)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
    [replica, pos, runPos, pgText(r.session), pgText(r.user), r.groups.map(pgText), pgText(r.cluster), pgText(r.verb), pgText(r.namespace), pgText(r.pod),
      pgText(r.container), pgText(r.command), r.typed.map(pgText), r.tty, r.start, r.end, r.exitCode, r.bytes.c2s, r.bytes.s2c, pgText(r.transport), r.findings.map(pgText)],
  );
}

/**
 * Errors of the connection, not of what was sent: the database is down, restarting or out of
 * reach, and a later try can succeed (so records spool). Node's socket errors, SQLSTATE class 08
 * (connection exception), 57P01-57P03 (admin/crash shutdown, cannot connect now), and node-pg's
 * own errors for a connection that ended or timed out.
 */
export function connectionLost(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03'].includes(code)) return true;
  if (code.startsWith('08')) return true;
  if (code) return false;
  const message = typeof err?.message === 'string' ? err.message : '';
  return /connection terminated|connection timeout|timeout exceeded|query read timeout|not connected|client was closed|connection error|not queryable/i.test(message);
}

/**
 * A store that cannot work as configured, however long it is waited for: the URL does not
 * parse, the password or user is refused (SQLSTATE 28P01, 28000), the database does not exist
 * (3D000). Start-up fails on these with one line; other errors wait for the database.
 */
export function startupRefusal(e: unknown): StoreRefused | null {
  const err = e as { code?: unknown; message?: unknown; name?: unknown };
  const message = typeof err?.message === 'string' ? err.message : String(e);
  if (err?.code === 'ERR_INVALID_URL' || e instanceof URIError) return new StoreRefused(`the PostgreSQL URL does not parse (${message}): expected postgres://user:password@host:port/database`, 2);
  if (err?.code === '28P01') return new StoreRefused(`the audit database refused the password (${message}, SQLSTATE 28P01)`);
  if (err?.code === '28000') return new StoreRefused(`the audit database refused the user (${message}, SQLSTATE 28000)`);
  if (err?.code === '3D000') return new StoreRefused(`the audit database does not exist (${message}, SQLSTATE 3D000): create it first, kubewire creates only its tables`);
  return null;
}

export function describePgError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ENOTFOUND') return 'host not found';
  return err.message ?? String(e);
}

/**
 * A spool's records in order from byte `start` (read in bounded pieces: jsonl-lines.ts), as lines
 * and parsed; null for a line cut short, too long or not JSON.
 */
async function* spooledRecords(path: string, start: number): AsyncGenerator<Spooled | null> {
  for await (const l of readFileLines(path, MAX_SPOOL_LINE_BYTES, start)) {
    if (l.bytes === null || !l.newline) {
      yield null;
      continue;
    }
    const line = l.bytes.toString('utf8');
    try {
      yield { line, event: JSON.parse(line) as Spooled['event'], end: l.end };
    } catch {
      yield null;
    }
  }
}

/** Whether the spool holds, from byte `start` on, the record whose hash is `hash`. */
async function spoolHolds(path: string, start: number, hash: string): Promise<boolean> {
  for await (const r of spooledRecords(path, start)) if (r?.event.hash === hash) return true;
  return false;
}
