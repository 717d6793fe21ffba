/**
 * `kubewire export FILE... --format asciicast|har [--session ID] [--include-input]
 * [--asciicast-version 2|3] [-o OUT]`: turns a recording into files other tools open.
 * - asciicast: one exec/attach session for asciinema (`asciinema play OUT`), v2 by default
 *   since most installed players read only v2; v3 adds the exit status.
 * - har: the log's HTTP requests and upgrades for devtools and HAR viewers, WebSocket messages
 *   included.
 *
 * Casts are written line by line as the log is read, never built as one string. With `-o` the
 * file is opened only once the session is known, so a usage error leaves no empty file behind.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { AsciicastBuilder, type AsciicastVersion } from '../audit/asciicast.js';
import { HarBuilder, harLines } from '../audit/har.js';
import { readLogEvents } from '../audit/log-reader.js';
import { missingOutputWarning, TerminalChunker } from '../audit/terminal-session.js';
import { VERSION } from '../version.js';
import { CliError, describeFsError, ExitCode } from './errors.js';
import type { Output } from './output.js';
import { assertLogs, badLineReporter, findTerminalSession, logName } from './replay-command.js';

export interface ExportOptions {
  files: string[];
  format: 'asciicast' | 'har';
  session?: string;
  includeInput?: boolean;
  asciicastVersion?: AsciicastVersion;
  /** A file to write; stdout when absent. */
  output?: string;
}

interface LineSink {
  line(text: string): Promise<void> | void;
  close(): Promise<void>;
}

export async function runExport(opts: ExportOptions, out: Output, err: Output): Promise<number> {
  if (opts.format !== 'asciicast' && opts.format !== 'har') {
    throw new CliError('KW_ERR_USAGE', `unknown --format ${String(opts.format)}: use asciicast or har`, ExitCode.Usage);
  }
  const version = opts.asciicastVersion ?? 2;
  if (version !== 2 && version !== 3) throw new CliError('KW_ERR_USAGE', `--asciicast-version must be 2 or 3 (got ${String(version)})`, ExitCode.Usage);
  if (opts.format === 'har' && opts.includeInput) err.line('kubewire: --include-input applies to --format asciicast; a HAR holds every message anyway');
  return opts.format === 'asciicast' ? exportAsciicast(opts, version, out, err) : exportHar(opts, out, err);
}

async function exportAsciicast(opts: ExportOptions, version: AsciicastVersion, out: Output, err: Output): Promise<number> {
  const session = await findTerminalSession(opts.files, opts.session, err);
  const missing = missingOutputWarning(session);
  if (missing) err.line(`kubewire: warning: ${missing}`);
  const builder = new AsciicastBuilder(session, { version, includeInput: opts.includeInput ?? false });
  const chunker = new TerminalChunker(session);
  const sink = await openSink(opts.output, out);
  try {
    await sink.line(builder.header());
    for await (const event of readLogEvents(opts.files)) {
      const chunk = chunker.push(event);
      if (!chunk) continue;
      for (const line of builder.push(chunk)) await sink.line(line);
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

async function exportHar(opts: ExportOptions, out: Output, err: Output): Promise<number> {
  await assertLogs(opts.files);
  const builder = new HarBuilder({ creatorVersion: VERSION, ...(opts.session !== undefined ? { session: opts.session } : {}) });
  const bad = badLineReporter(err);
  for await (const event of readLogEvents(opts.files, { onBadLine: bad.report })) builder.push(event);
  bad.finish();
  const har = builder.build();
  if (opts.session !== undefined && har.log.entries.length === 0) {
    throw new CliError('KW_ERR_SESSION_NOT_FOUND', `session ${opts.session} has no requests in ${logName(opts.files)} (the id must match exactly for --format har)`, ExitCode.Usage);
  }
  const sink = await openSink(opts.output, out);
  try {
    for (const line of harLines(har)) await sink.line(line);
  } finally {
    await sink.close();
  }
  return ExitCode.Ok;
}

async function openSink(path: string | undefined, out: Output): Promise<LineSink> {
  if (path === undefined || path === '-') return { line: (text) => out.line(text), close: async () => {} };
  const stream = createWriteStream(path, { flags: 'w' });
  try {
    await once(stream, 'open');
  } catch (e) {
    throw new CliError('KW_ERR_OUTPUT_UNWRITABLE', `cannot write ${path}: ${describeFsError(e)}`, ExitCode.Usage);
  }
  return fileSink(path, stream);
}

function fileSink(path: string, stream: WriteStream): LineSink {
  let failure: unknown = null;
  stream.on('error', (e) => (failure ??= e));
  const check = (): void => {
    if (failure) throw new CliError('KW_ERR_OUTPUT_UNWRITABLE', `cannot write ${path}: ${describeFsError(failure)}`, ExitCode.Failure);
  };
  return {
    line: async (text) => {
      check();
      if (!stream.write(text + '\n')) await Promise.race([once(stream, 'drain'), once(stream, 'close')]).catch(() => {});
      check();
    },
    close: async () => {
      if (!stream.closed) {
        stream.end();
        await Promise.race([once(stream, 'finish'), once(stream, 'close')]).catch(() => {});
      }
      check();
    },
  };
}
