/**
 * `kubewire export FILE... --format asciicast|har [--session ID] [--include-input]
 * [--asciicast-version 2|3] [-o OUT]`: turns a recording into files other tools open; with
 * `--store S SESSION`, one session of an audit store (read as a log, src/store/store-session.ts).
 * - asciicast: one exec/attach session for asciinema (`asciinema play OUT`), v2 by default
 *   since most installed players read only v2; v3 adds the exit status.
 * - har: the log's HTTP requests and upgrades for devtools and HAR viewers, WebSocket messages
 *   included.
 *
 * Both are written line by line as the log is read, never built as one string: a cast event by
 * event, a HAR entry by entry as each connection closes (see ../audit/har.ts), so memory does
 * not grow with the log. Every write to stdout or to the `-o` file waits for the stream to drain
 * when it is full, so a slow reader holds the export back instead of letting it pile up; a
 * closed stdout (`| head`) ends the export quietly. With `-o` the file is opened only once there
 * is something to write (the session is known; the first HAR entry, or the end of the log), so
 * a usage error leaves no empty file behind.
 *
 * An export holds what its log holds (a HAR of a `--payload full` or `--audit` log, every byte of
 * the sessions), so the `-o` file is for the user alone, as the logs are: created 0600, and an
 * existing file it replaces is made 0600 before anything is written to it.
 */
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { AsciicastBuilder, type AsciicastVersion } from '../audit/asciicast.js';
import { HarBuilder, HarLines, type HarEntry } from '../audit/har.js';
import { missingOutputWarning, TerminalChunker } from '../audit/terminal-session.js';
import { CliError, describeFsError, ExitCode } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { LOG_FILE_MODE } from '../sinks/log-files.js';
import { VERSION } from '../version.js';
import { badLineReporter, findSession, type LogSource } from './log-input.js';
import { openSource } from './store-input.js';

export interface ExportOptions {
  files: string[];
  /** An audit store to read `session` from instead of files. */
  store?: string;
  format: 'asciicast' | 'har';
  session?: string;
  includeInput?: boolean;
  asciicastVersion?: AsciicastVersion;
  /** A file to write; stdout when absent. */
  output?: string;
}

interface LineSink {
  /** The reader went away (stdout closed, e.g. `| head`): nothing more is written, quietly. */
  readonly closed: boolean;
  /** Resolves once the stream can take more (after 'drain' when it was full). */
  line(text: string): Promise<void>;
  close(): Promise<void>;
}

/** Writes to `stdout` unless `opts.output` names a file. */
export async function runExport(opts: ExportOptions, stdout: NodeJS.WritableStream, err: Output): Promise<number> {
  if (opts.format !== 'asciicast' && opts.format !== 'har') {
    throw new CliError('KW_ERR_USAGE', `unknown --format ${String(opts.format)}: use asciicast or har`, ExitCode.Usage);
  }
  const version = opts.asciicastVersion ?? 2;
  if (version !== 2 && version !== 3) throw new CliError('KW_ERR_USAGE', `--asciicast-version must be 2 or 3 (got ${String(version)})`, ExitCode.Usage);
  if (opts.format === 'har' && opts.includeInput) err.line('kubewire: --include-input applies to --format asciicast; a HAR holds every message anyway');
  const input = await openSource(opts);
  try {
    const o = { ...opts, ...(input.session !== undefined ? { session: input.session } : {}) };
    return await (opts.format === 'asciicast' ? exportAsciicast(input.source, o, version, stdout, err) : exportHar(input.source, o, stdout, err));
  } finally {
    await input.close();
  }
}

async function exportAsciicast(source: LogSource, opts: ExportOptions, version: AsciicastVersion, stdout: NodeJS.WritableStream, err: Output): Promise<number> {
  const session = await findSession(source, opts.session, 'terminal', err);
  const missing = missingOutputWarning(session);
  if (missing) err.line(`kubewire: warning: ${missing}`);
  const builder = new AsciicastBuilder(session, { version, includeInput: opts.includeInput ?? false });
  const chunker = new TerminalChunker(session);
  const sink = await openSink(opts.output, stdout);
  try {
    await sink.line(builder.header());
    for await (const event of source.events()) {
      const chunk = chunker.push(event);
      if (!chunk) continue;
      for (const line of builder.push(chunk)) await sink.line(line);
      if (sink.closed) break;
    }
    for (const line of builder.finish()) await sink.line(line);
  } finally {
    await sink.close();
  }
  const { redactedInputChunks, redactedInputBytes } = builder.stats;
  if (redactedInputChunks > 0) {
    err.line(`kubewire: ${redactedInputChunks} stdin chunk${redactedInputChunks === 1 ? '' : 's'} (${redactedInputBytes} bytes) were redacted in the log (--redact-stdin) and are left out of the cast`);
  }
  return ExitCode.Ok;
}

async function exportHar(source: LogSource, opts: ExportOptions, stdout: NodeJS.WritableStream, err: Output): Promise<number> {
  // --session names a session as replay's does (a unique prefix is enough): the log is read once
  // more to resolve it (which checks the logs too).
  const session = opts.session === undefined ? undefined : (await findSession(source, opts.session, 'requests', err)).id;
  if (session === undefined) await source.check();
  const builder = new HarBuilder({ creatorVersion: VERSION, ...(session !== undefined ? { session } : {}) });
  const lines = new HarLines(VERSION);
  // Bad lines were reported by the read that resolved --session.
  const bad = session === undefined ? badLineReporter(err) : null;
  // Opened with the first entry, so a --session that matches nothing writes nothing.
  let sink = null as LineSink | null;
  const open = async (): Promise<LineSink> => {
    if (!sink) {
      sink = await openSink(opts.output, stdout);
      await sink.line(lines.head());
    }
    return sink;
  };
  const write = async (entries: HarEntry[]): Promise<void> => {
    for (const entry of entries) {
      const s = await open();
      if (s.closed) return;
      await s.line(lines.entry(entry));
    }
  };
  try {
    for await (const event of source.events(bad ? { onBadLine: bad.report } : {})) {
      // Each finished entry is written and dropped at once: the builder holds only open connections.
      const done = builder.push(event);
      if (done.length > 0) await write(done);
      if (sink?.closed) break;
    }
    bad?.finish();
    await write(builder.finish());
    if (session !== undefined && lines.count === 0) {
      throw new CliError('KW_ERR_SESSION_NOT_FOUND', `session ${session} has no requests in ${source.name}`, ExitCode.Usage);
    }
    await (await open()).line(lines.tail());
  } finally {
    await sink?.close();
  }
  return ExitCode.Ok;
}

async function openSink(path: string | undefined, stdout: NodeJS.WritableStream): Promise<LineSink> {
  if (path === undefined || path === '-') return streamSink(stdout, { name: 'stdout', own: false });
  return streamSink(await openPrivate(path), { name: path, own: true });
}

/**
 * `path` for writing, emptied, readable by the user alone. A device or pipe (`-o /dev/stdout`)
 * is not ours to chmod; a file someone else owns, which cannot be made private, is refused.
 */
async function openPrivate(path: string): Promise<NodeJS.WritableStream> {
  let fh;
  try {
    fh = await open(path, 'w', LOG_FILE_MODE);
  } catch (e) {
    throw new CliError('KW_ERR_OUTPUT_UNWRITABLE', `cannot write ${path}: ${describeFsError(e)}`, ExitCode.Usage);
  }
  try {
    const st = await fh.stat();
    if (st.isFile() && (st.mode & 0o777) !== LOG_FILE_MODE) await fh.chmod(LOG_FILE_MODE);
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw new CliError('KW_ERR_OUTPUT_UNWRITABLE', `cannot make ${path} readable by you alone (${describeFsError(e)}); an export holds the log's payloads: write it to a new file`, ExitCode.Usage);
  }
  return fh.createWriteStream();
}

/**
 * Lines onto a stream, honouring backpressure. A file (`own`) is ended on close and any write
 * error fails the export; stdout is not ours to end, so close waits until what was written has
 * been taken, and a reader that went away (EPIPE, the stream closed) stops the export quietly;
 * other errors fail it.
 */
function streamSink(stream: NodeJS.WritableStream, { name, own }: { name: string; own: boolean }): LineSink {
  let failure: unknown = null;
  let closed = false;
  /** Writes not yet taken by the stream; the last one taken wakes `close`. */
  let unwritten = 0;
  let flushed: (() => void) | null = null;
  const written = (): void => {
    if (--unwritten === 0) flushed?.();
  };
  // Left in place after close: a late EPIPE on stdout must not become an uncaught 'error'.
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (!own && e.code === 'EPIPE') closed = true;
    else failure ??= e;
  });
  if (!own) stream.on('close', () => (closed = true));
  const check = (): void => {
    if (failure) throw new CliError('KW_ERR_OUTPUT_UNWRITABLE', `cannot write ${name}: ${describeFsError(failure)}`, ExitCode.Failure);
  };
  const gone = (): boolean => closed || failure !== null || (stream as Partial<Writable>).destroyed === true;
  return {
    get closed() {
      return closed;
    },
    line: async (text) => {
      check();
      if (gone()) return;
      unwritten++;
      if (!stream.write(text + '\n', written)) await drained(stream);
      check();
    },
    close: async () => {
      if (own && !(stream as Partial<Writable>).closed) {
        stream.end();
        await settled(stream, ['finish', 'close', 'error']);
      } else if (!own && unwritten > 0 && !gone()) {
        await Promise.race([new Promise<void>((resolve) => (flushed = resolve)), settled(stream, ['close', 'error'])]);
      }
      check();
    },
  };
}

/** Until the stream can take more, or can never again (closed, failed). */
function drained(stream: NodeJS.WritableStream): Promise<void> {
  if ((stream as Partial<Writable>).destroyed === true) return Promise.resolve();
  return settled(stream, ['drain', 'close', 'error']);
}

/**
 * Until the first of these events. Every listener is removed again: a write that waits for
 * 'drain' millions of times must not leave a 'close' listener behind each time.
 */
function settled(stream: NodeJS.WritableStream, events: readonly string[]): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      for (const name of events) stream.off(name, done);
      resolve();
    };
    for (const name of events) stream.on(name, done);
  });
}
