/**
 * `openAuditStore`: the one entry point that opens where the audit records of `proxy`, `run`
 * and the gateway go, from the audit settings:
 * - no store: the log of `--log` (with `--max-size` rotation), as always;
 * - a file store (`DIR`): a chain per run of each replica, `DIR/<replica>/audit-<time>-<pid>.jsonl`
 *   (rotating into `…-0001.jsonl`, … with `--max-size`), so that several replicas, and restarts of
 *   one, never write into one file; the run holds `audit-<time>-<pid>.lock` while it is written,
 *   and its `audit.start` links to the replica's run before it (run-link.ts);
 * - PostgreSQL (`postgres://…`): the replica's chain in the database (pg-output.ts), indexed as
 *   it is written (session-index.ts), spooling to files beside `--log` while it is unreachable.
 * In every case the records are linked, hashed and sealed by the one writer (audit-sink.ts).
 */
import { join } from 'node:path';
import { AuditSink, type AuditSinkOptions } from '../audit/audit-sink.js';
import { chainInfo } from '../audit/chain.js';
import type { AuditSettings } from '../cli/audit-setup.js';
import { CliError } from '../io/errors.js';
import { FileLease, fileLeaseHeld } from './file-lease.js';
import type { PgAuditOutput } from './pg-output.js';
import { storeAnnotator } from './record-attachment.js';
import { previousRunLink } from './run-link.js';
import { StoreRefused } from './store-refused.js';
import { defaultReplica, describeStore } from './store-spec.js';

export interface StoreOpenOptions extends Omit<AuditSinkOptions, 'path' | 'maxSize' | 'failMode' | 'redactStdin' | 'output' | 'annotate'> {
  /** `--log`: the log without a store; the spool's base with PostgreSQL. */
  logPath: string;
  /** A line for the user's stderr. */
  report(text: string): void;
}

export async function openAuditStore(settings: AuditSettings, opts: StoreOpenOptions): Promise<AuditSink> {
  const { logPath, report, ...sinkOpts } = opts;
  const base = { ...sinkOpts, failMode: settings.failMode, redactStdin: settings.redactStdin, maxSize: settings.maxSize };
  const store = settings.store;
  const replica = settings.replica ?? defaultReplica();
  if (!store) return AuditSink.open({ ...base, path: logPath });
  if (store.kind === 'files') {
    // Read before the run's first file exists: the replica's latest run is the one before it.
    const previousRun = await previousRunLink(join(store.dir, replica));
    // Another process writing the replica now: its run goes on after the link is taken.
    if (previousRun && (await fileLeaseHeld(join(store.dir, replica, previousRun.file)))) {
      report(`kubewire: replica ${replica}'s run ${previousRun.file} is being written by another process (its .lock is held): give each process its own --audit-replica; this run's link to that run will not match its end`);
    }
    const path = fileStoreRunPath(store.dir, replica, new Date());
    // Held while the run is written, so that verify --store calls it open (file-lease.ts).
    let lease: FileLease | null = null;
    const sink = await AuditSink.open({ ...base, path, previousRun, onClosed: async () => lease?.release() });
    lease = await FileLease.take(path);
    return sink;
  }
  // Loaded only for PostgreSQL: the client library is a few MiB that no other audit log needs.
  const { PgAuditOutput } = await import('./pg-output.js');
  let output: PgAuditOutput;
  try {
    output = await PgAuditOutput.open({ url: store.url, replica, chain: chainInfo(opts.key, opts.signer?.info ?? null), spoolPath: logPath, report });
  } catch (e) {
    if (e instanceof StoreRefused) throw new CliError('KW_ERR_AUDIT_STORE', `${describeStore(store)}: ${e.message}`, e.exitCode);
    throw e;
  }
  return AuditSink.open({
    ...base,
    path: `${describeStore(store)} (replica ${replica})`,
    output,
    annotate: storeAnnotator(),
  });
}

/** A new chain's first file in a file store: one directory per replica, one chain per run. */
export function fileStoreRunPath(dir: string, replica: string, now: Date, pid: number = process.pid): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return join(dir, replica, `audit-${stamp}-${pid}.jsonl`);
}
