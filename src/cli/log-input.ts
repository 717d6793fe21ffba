/**
 * The logs that `replay` and `export` read: checked before any output is written (every file
 * readable and a kubewire log, src/sinks/log-head.ts), their bad lines reported on stderr with a bound, and the session they work on
 * chosen by one rule (src/audit/session-choice.ts).
 *
 * What they read is a `LogSource`: the files of a log, or one session's records in an audit
 * store (src/store/store-session.ts), both the same stream of events, read as often as needed.
 */
import { checkReadable, describeBadLine, readLogEvents, type BadLine, type LogReadOptions } from '../audit/log-reader.js';
import { chooseSession, type SessionUse } from '../audit/session-choice.js';
import { SessionScanner, type SessionInfo } from '../audit/terminal-session.js';
import { CliError, describeFsError, ExitCode } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { assertKubewireLog } from '../sinks/log-head.js';
import type { KubewireEvent } from '../events/types.js';

export interface LogSource {
  /** For messages and the commands they suggest: the files, or `--store S`. */
  readonly name: string;
  /** Fails with a usage error before any output is written. */
  check(): Promise<void>;
  /** The events, from the start, each time it is called. */
  events(options?: LogReadOptions): AsyncIterable<KubewireEvent>;
}

/** The files of a log (rotated parts in order), read as one. */
export function logFiles(files: readonly string[]): LogSource {
  return {
    name: logName(files),
    check: () => assertLogs(files),
    events: (options) => readLogEvents(files, options),
  };
}

/** Bad lines named one by one before the rest are only counted. */
const MAX_BAD_LINES_SHOWN = 10;

export async function assertLogs(files: readonly string[]): Promise<void> {
  if (files.length === 0) throw new CliError('KW_ERR_USAGE', 'name at least one log file (rotated parts in order: log-0001.jsonl log-0002.jsonl …)', ExitCode.Usage);
  const unreadable = await checkReadable(files);
  if (unreadable) throw new CliError('KW_ERR_LOG_UNREADABLE', `cannot read the log ${unreadable.file}: ${describeFsError(unreadable.error)}`, ExitCode.Usage);
  for (const file of files) await assertKubewireLog(file);
}

/**
 * Reads the log once to list its sessions, reports bad lines on `err`, and picks the session
 * for `use`; usage problems become CliErrors (exit 2) that list the sessions to pick from.
 */
export async function findSession(source: LogSource, wanted: string | undefined, use: SessionUse, err: Output): Promise<SessionInfo> {
  await source.check();
  const scanner = new SessionScanner();
  const bad = badLineReporter(err);
  try {
    for await (const event of source.events({ onBadLine: bad.report })) scanner.push(event);
  } catch (e) {
    throw logError(source, e);
  }
  bad.finish();
  const choice = chooseSession(scanner.sessions(), wanted, use, source.name);
  if (!choice.ok) throw new CliError(choice.code, choice.message, ExitCode.Usage);
  return choice.session;
}

export function badLineReporter(err: Output): { report: (b: BadLine) => void; finish: () => void } {
  let count = 0;
  return {
    report: (b) => {
      if (++count <= MAX_BAD_LINES_SHOWN) err.line(`kubewire: ${describeBadLine(b)}`);
    },
    finish: () => {
      if (count > MAX_BAD_LINES_SHOWN) err.line(`kubewire: ${count - MAX_BAD_LINES_SHOWN} more bad lines skipped`);
    },
  };
}

export function logName(files: readonly string[]): string {
  return files.join(' ');
}

/** A read error (the file went away, EIO) as the usage error it is. */
export function logError(source: LogSource, e: unknown): unknown {
  if (typeof (e as NodeJS.ErrnoException).code === 'string' && !(e instanceof CliError)) {
    return new CliError('KW_ERR_LOG_UNREADABLE', `cannot read the log ${source.name}: ${describeFsError(e)}`, ExitCode.Usage);
  }
  return e;
}
