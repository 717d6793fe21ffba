/**
 * What `replay` and `export` read: the files of a log, or with `--store S` one session of an
 * audit store (src/store/store-session.ts), which must then be named.
 */
import { CliError, ExitCode } from '../io/errors.js';
import { logFiles, type LogSource } from './log-input.js';

export interface SourceChoice {
  files: string[];
  store?: string;
  session?: string;
}

export interface OpenedSource {
  source: LogSource;
  /** The session to pick in it: the store's session by its full id, or `--session` as given. */
  session: string | undefined;
  close(): Promise<void>;
}

export async function openSource(opts: SourceChoice): Promise<OpenedSource> {
  if (opts.store === undefined) return { source: logFiles(opts.files), session: opts.session, close: async () => undefined };
  if (opts.files.length > 0) throw new CliError('KW_ERR_USAGE', 'give log files or --store STORE SESSION, not both', ExitCode.Usage);
  if (opts.session === undefined || opts.session === '') {
    throw new CliError('KW_ERR_USAGE', 'with --store, name the session (its id as `kubewire sessions --store` prints it, or a unique prefix)', ExitCode.Usage);
  }
  const { openStoreSession } = await import('../store/store-session.js');
  const s = await openStoreSession(opts.store, opts.session);
  return { source: s.source, session: s.session.session, close: s.close };
}
