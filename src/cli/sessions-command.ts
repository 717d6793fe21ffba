/**
 * `kubewire sessions --store S [--user U] [--pod P] [--verb V] [--command TEXT] [--since 24h]
 * [--limit N] [--json]`: searches the session index of an audit store
 * (src/store/session-index.ts), one line per session, oldest first. `--command` matches the
 * exec command and the command lines typed in tty sessions. At most `--limit` sessions (the
 * newest; DEFAULT_LIMIT) are read and shown, with a note on stderr when more matched.
 */
import { CliError, ExitCode } from '../io/errors.js';
import { StdoutOutput, type Output } from '../io/output.js';
import { describePgError } from '../store/pg-output.js';
import type { IndexedSession, SessionFilter } from '../store/session-index.js';
import { openStoreReader } from '../store/store-reader.js';
import { parseStoreSpec } from '../store/store-spec.js';
import { printable } from '../io/printable.js';

export interface SessionsOptions {
  store: string;
  user?: string;
  pod?: string;
  verb?: string;
  command?: string;
  since?: string;
  /** A number, or its text as given (`--limit 50`). */
  limit?: number | string;
  json?: boolean;
}

export const DEFAULT_LIMIT = 1000;

function parseLimit(v: number | string | undefined): number {
  if (v === undefined) return DEFAULT_LIMIT;
  const n = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError('KW_ERR_USAGE', `--limit ${v}: expected a whole number of sessions, 1 or more`, ExitCode.Usage);
  return n;
}

/** `90s`, `30m`, `24h`, `7d`: a duration back from now, in ms; or an RFC 3339 time. */
export function parseSince(text: string, now: number = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (m) return now - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(text);
  if (Number.isFinite(t) && /^\d{4}-\d{2}-\d{2}/.test(text)) return t;
  throw new CliError('KW_ERR_USAGE', `--since ${text}: expected a duration such as 90s, 30m, 24h or 7d, or a time such as 2026-11-21T10:00:00Z`, ExitCode.Usage);
}

export async function runSessions(opts: SessionsOptions, out: Output, err: Output = new StdoutOutput(process.stderr)): Promise<number> {
  const limit = parseLimit(opts.limit);
  const filter: SessionFilter = {
    ...(opts.user !== undefined ? { user: opts.user } : {}),
    ...(opts.pod !== undefined ? { pod: opts.pod } : {}),
    ...(opts.verb !== undefined ? { verb: opts.verb } : {}),
    ...(opts.command !== undefined ? { command: opts.command } : {}),
    ...(opts.since !== undefined ? { sinceMs: parseSince(opts.since) } : {}),
    // One more than shown: whether more matched.
    limit: limit + 1,
  };
  const reader = await openStoreReader(parseStoreSpec(opts.store));
  let found: IndexedSession[];
  try {
    found = await reader.sessions(filter);
  } catch (e) {
    if (e instanceof CliError) throw e;
    // A database that failed mid-query, a store directory that cannot be read: one line.
    throw new CliError('KW_ERR_AUDIT_STORE', `cannot search the audit store: ${describeStoreError(e)}`, ExitCode.Failure);
  } finally {
    await reader.close();
  }
  const more = found.length > limit;
  if (more) found = found.slice(found.length - limit);
  for (const s of found) out.line(opts.json ? JSON.stringify(jsonOf(s)) : sessionLine(s));
  if (more) err.line(`kubewire: more than ${limit} sessions matched; these are the newest ${limit} (narrow the search, or raise --limit)`);
  return ExitCode.Ok;
}

function describeStoreError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && err.code.startsWith('E') && err.path) return `${err.path}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`;
  return describePgError(e);
}

function jsonOf(s: IndexedSession): Record<string, unknown> {
  const { files: _f, ...rest } = s;
  return rest;
}

function sessionLine(s: IndexedSession): string {
  const where = s.pod ? `${s.namespace ?? 'default'}/${s.pod}${s.container ? `/${s.container}` : ''}` : '-';
  const what = s.command || '-';
  const typed = s.typed.length ? `  typed: ${s.typed.map((t) => JSON.stringify(t)).join(', ')}` : '';
  const exit = s.exitCode === null ? '' : `  exit ${s.exitCode}`;
  // Everything here but the times and counts is the client's to choose: printed, not obeyed.
  return `${s.start ?? '(no time)'}  ${printable(s.user ?? '?')}  ${s.replica}  ${s.verb}  ${printable(where)}  ${printable(what)}${s.tty ? ' (tty)' : ''}${exit}  ${printable(s.session)}${typed}`;
}
