/**
 * One session of an audit store as a log: `replay --store S SESSION` and `export --store S
 * SESSION` name it as `kubewire sessions` prints it (its id, or a prefix of exactly one), and
 * read its run's `audit.start` and its own records (store-reader.ts `sessionRecords`) as the
 * same stream of events a log file gives, so the file readers replay and export it unchanged.
 */
import { CliError, ExitCode } from '../io/errors.js';
import type { LogSource } from '../cli/log-input.js';
import type { IndexedSession } from './session-index.js';
import { openStoreReader } from './store-reader.js';
import { describeStore, parseStoreSpec } from './store-spec.js';

const INDEX_HINT = '`kubewire sessions --store` lists its sessions; one still running is listed once it ends, `kubewire watch` follows it now';

/** Places named one by one in an ambiguity before the rest are only counted. */
const MAX_NAMED = 5;

export interface StoreSession {
  session: IndexedSession;
  source: LogSource;
  close(): Promise<void>;
}

export async function openStoreSession(store: string, wanted: string): Promise<StoreSession> {
  const spec = parseStoreSpec(store);
  const reader = await openStoreReader(spec);
  try {
    const session = pickSession(await reader.sessions({ sessionPrefix: wanted }), wanted, describeStore(spec));
    const source: LogSource = {
      name: `--store ${describeStore(spec)}`,
      check: async () => undefined,
      events: () => reader.sessionRecords(session),
    };
    return { session, source, close: () => reader.close() };
  } catch (e) {
    await reader.close();
    throw e;
  }
}

/**
 * The one session `wanted` names among the index rows whose id starts with it: the id itself,
 * else a prefix of one id only. One id in several places (two replicas, or two runs of one that
 * reuse a connection id) is ambiguous too: each place is named.
 */
export function pickSession<T extends Pick<IndexedSession, 'session' | 'replica' | 'start'>>(rows: readonly T[], wanted: string, storeName: string, hint = INDEX_HINT): T {
  const exact = rows.filter((r) => r.session === wanted);
  const candidates = exact.length > 0 ? exact : rows;
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    throw new CliError('KW_ERR_SESSION_NOT_FOUND', `session ${wanted} is not in the audit store ${storeName} (${hint})`, ExitCode.Usage);
  }
  const ids = [...new Set(candidates.map((r) => r.session))];
  if (ids.length > 1) {
    const named = ids.slice(0, MAX_NAMED).join(', ') + (ids.length > MAX_NAMED ? `, … (${ids.length - MAX_NAMED} more)` : '');
    throw new CliError('KW_ERR_SESSION_AMBIGUOUS', `session ${wanted} matches ${ids.length} sessions in ${storeName} (${named}); give more of the id`, ExitCode.Usage);
  }
  const places = candidates.slice(0, MAX_NAMED).map((r) => `replica ${r.replica} at ${r.start ?? '(no time)'}`).join(', ');
  throw new CliError('KW_ERR_SESSION_AMBIGUOUS', `session ${ids[0]} is recorded ${candidates.length} times in ${storeName} (${places}); kubewire cannot tell which is meant`, ExitCode.Usage);
}
