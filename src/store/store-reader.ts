/**
 * Reading an audit store, for `verify --store`, `sessions`, `replay`/`export --store`: its
 * replicas, each replica's chains (one per run: a run of kubewire starts its chain with
 * `audit.start`), and the session index. A file store (`DIR/<replica>/audit-…jsonl`, see
 * open-store.ts) is read from its files, its index built as it is searched; a PostgreSQL store
 * from its tables (pg-reader.ts).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readLogEvents } from '../audit/log-reader.js';
import { followChain } from './file-follow.js';
import { replicaRuns } from './file-runs.js';
import type { ChainSource } from '../audit/verify.js';
import { fileSource } from '../audit/verify.js';
import type { KubewireEvent } from '../events/types.js';
import { fileLeaseHeld } from './file-lease.js';
import { CliError, describeFsError, ExitCode } from '../io/errors.js';
import { NewestRows, rowMatches, SessionIndexer, type IndexedSession, type SessionFilter } from './session-index.js';
import type { StoreSpec } from './store-spec.js';

export interface StoreRun {
  /** Its sources, in order (the parts of a rotated file chain; one for a database run). */
  sources: ChainSource[];
  /** Where it starts, for messages. */
  label: string;
}

export interface StoreReplica {
  name: string;
  /** The protection the store remembers the replica was created with (PostgreSQL), in words. */
  protection: string | null;
  /** A process holds the replica now: its last run may still be written. */
  live: boolean;
  /** A problem of the replica as a whole (rows missing between runs), found before its runs are read. */
  problem: { pos: number | null; message: string } | null;
  runs: StoreRun[];
}

/** Where a session's records are: its replica and its run (PostgreSQL: `runPos`; files: the chain's `files`). */
export type SessionPlace = Pick<IndexedSession, 'replica' | 'session' | 'start' | 'runPos' | 'files'>;

export interface StoreReader {
  readonly name: string;
  replicas(): Promise<StoreReplica[]>;
  sessions(filter: SessionFilter): Promise<IndexedSession[]>;
  /** The records a session's replay needs: its run's `audit.start`, then the session's records. */
  sessionRecords(s: IndexedSession): AsyncGenerator<KubewireEvent>;
  /**
   * The sessions with records in each replica's latest run whose id starts with `prefix`,
   * ended or not (`watch`: one still running has no index row yet).
   */
  latestRunSessions(prefix: string): Promise<SessionPlace[]>;
  /**
   * As `sessionRecords`, but as they are written: waits for more until the run ends (its chain's
   * final seal, a later run, the writer gone) or `signal` aborts. Returns why the run is over
   * when that is not its final seal or the abort (a later run, the writer gone), for `watch`.
   */
  follow(place: SessionPlace, signal: AbortSignal): AsyncGenerator<KubewireEvent, string | null, undefined>;
  close(): Promise<void>;
}

export async function openStoreReader(spec: StoreSpec): Promise<StoreReader> {
  if (spec.kind === 'postgres') {
    const { PgStoreReader } = await import('./pg-reader.js');
    return PgStoreReader.open(spec.url);
  }
  await stat(spec.dir).then((s) => {
    if (!s.isDirectory()) throw new CliError('KW_ERR_AUDIT_STORE', `--store ${spec.dir}: not a directory (a file store is the directory given to --audit-store)`, ExitCode.Usage);
  }, (e: unknown) => {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : describeFsError(e);
    throw new CliError('KW_ERR_AUDIT_STORE', `--store ${spec.dir}: ${why}`, ExitCode.Usage);
  });
  return new FileStoreReader(spec.dir);
}

/** Sessions of a replica's latest run named at most (a prefix that matches more is ambiguous anyway). */
export const MAX_MATCHES = 50;

export class FileStoreReader implements StoreReader {
  constructor(readonly name: string) {}

  async replicas(): Promise<StoreReplica[]> {
    const out: StoreReplica[] = [];
    for (const entry of (await readdir(this.name, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory()) continue;
      const chains = await this.chains(entry.name);
      // The last run is being written while its writer holds its lease (file-lease.ts).
      const live = chains.length > 0 && (await fileLeaseHeld(chains.at(-1)![0]!));
      if (chains.length) out.push({ name: entry.name, protection: null, live, problem: null, runs: chains.map((files) => ({ sources: files.map(fileSource), label: files[0]! })) });
    }
    return out;
  }

  /** The chains of a replica, oldest first, each as its files in part order. */
  private async chains(replica: string): Promise<string[][]> {
    return replicaRuns(join(this.name, replica));
  }

  async sessions(filter: SessionFilter): Promise<IndexedSession[]> {
    const out = new NewestRows<IndexedSession>(filter.limit);
    for (const r of await this.replicas()) {
      for (const run of r.runs) {
        const files = run.sources.map((s) => s.path);
        const indexer = new SessionIndexer();
        for await (const e of readLogEvents(files)) {
          const row = indexer.push(e);
          if (row && rowMatches(row, filter)) out.add({ ...row, replica: r.name, files });
        }
      }
    }
    return out.rows();
  }

  async *sessionRecords(s: IndexedSession): AsyncGenerator<KubewireEvent> {
    for await (const e of readLogEvents(s.files ?? [])) if (e.type === 'audit.start' || e.session === s.session) yield e;
  }

  async latestRunSessions(prefix: string): Promise<SessionPlace[]> {
    const out: SessionPlace[] = [];
    for (const entry of await readdir(this.name, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const files = (await this.chains(entry.name)).at(-1);
      if (!files) continue;
      // At most MAX_MATCHES per replica, as PostgreSQL's: once found, the rest of the run is not read.
      const seen = new Map<string, string | null>();
      for await (const e of readLogEvents(files)) {
        if (e.session !== undefined && e.session.startsWith(prefix) && !seen.has(e.session)) seen.set(e.session, e.ts ?? null);
        if (seen.size >= MAX_MATCHES) break;
      }
      for (const [session, start] of seen) out.push({ replica: entry.name, session, start, files });
    }
    return out;
  }

  async *follow(place: SessionPlace, signal: AbortSignal): AsyncGenerator<KubewireEvent, string | null, undefined> {
    const files = place.files ?? [];
    if (files.length === 0) return null;
    // Over once quiet when a later run has started, or when no writer holds the run's lock any
    // more (it stopped without a final seal, or died): as PostgreSQL's follow ends with the lease.
    let why: string | null = null;
    const newerRun = async (): Promise<boolean> => {
      if (!(await fileLeaseHeld(files[0]!))) {
        why = `replica ${place.replica}'s writer holds the run's lock no more (its .lock is gone, stale or its process is gone): it stopped or crashed`;
        return true;
      }
      const chains = await this.chains(place.replica).catch(() => []);
      why = chains.length > 0 && !chains.at(-1)!.includes(files[0]!) ? `replica ${place.replica} began a new run` : null;
      return why !== null;
    };
    for await (const e of followChain(files[0]!, { signal, newerRun })) if (e.type === 'audit.start' || e.session === place.session) yield e;
    return signal.aborted ? null : why;
  }

  async close(): Promise<void> {}
}
