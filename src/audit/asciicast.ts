/**
 * A terminal session as an asciinema recording, so it can be played with `asciinema play`,
 * embedded with asciinema-player or uploaded. Sans-IO: fed chunks, it returns the lines to write
 * (one JSON document per line), so a long session is written as it is read.
 *
 * Formats, as specified at docs.asciinema.org/manual/asciicast/v2/ and /v3/:
 * - v2: header `{version: 2, width, height, timestamp, command, title}`; events
 *   `[time, code, data]` with `time` in seconds since the start of the recording.
 * - v3: header `{version: 3, term: {cols, rows}, timestamp, command, title}`; events
 *   `[interval, code, data]` with `interval` the seconds since the previous event (the first
 *   since the start); adds the exit event `[interval, "x", "<status>"]`.
 * - codes: `o` output (stdout and stderr: one terminal), `i` input (stdin), `r` resize `"COLSxROWS"`.
 *
 * Output is written as the user's terminal received it: a session without a tty has bare `\n` on
 * the wire, which kubectl's terminal turned into `\r\n` (src/session/terminal-newlines.ts); a
 * cast with bare `\n` would draw a staircase in `asciinema play`.
 *
 * Event data must be valid UTF-8 text, but a server cuts its output where its buffer ends, so a
 * character can be split across two frames. Each stream has its own streaming TextDecoder: the
 * first bytes of a split character wait for the rest and go out with the next chunk of that
 * stream, never as U+FFFD. Only bytes that are not UTF-8 at all become U+FFFD.
 *
 * Times are kept in integer microseconds (the log's precision) and turned into seconds only when
 * written, so long sessions do not drift; they never run backwards.
 */
import type { SessionInfo, TerminalChunk } from './terminal-session.js';
import { kubectlCommandLine, sessionTitle } from './terminal-session.js';
import { asTerminalShowed } from '../session/terminal-newlines.js';

export type AsciicastVersion = 2 | 3;

export interface AsciicastOptions {
  version: AsciicastVersion;
  /** Also write stdin as `i` events. */
  includeInput: boolean;
}

/** The size a terminal has when kubectl sent no resize (non-tty, or a log cut short). */
export const DEFAULT_TERMINAL = { width: 80, height: 24 } as const;

export interface AsciicastStats {
  outputEvents: number;
  inputEvents: number;
  resizeEvents: number;
  /** stdin chunks left out because `--redact-stdin` removed their bytes. */
  redactedInputChunks: number;
  redactedInputBytes: number;
}

type Code = 'o' | 'i' | 'r' | 'x';

export class AsciicastBuilder {
  readonly stats: AsciicastStats = { outputEvents: 0, inputEvents: 0, resizeEvents: 0, redactedInputChunks: 0, redactedInputBytes: 0 };
  private readonly startUs: number;
  /** Time of the last event written, for v3 intervals and to keep times monotonic. */
  private lastUs: number;
  private readonly decoders = { stdout: new TextDecoder('utf-8'), stderr: new TextDecoder('utf-8'), stdin: new TextDecoder('utf-8') };
  /** The resize the header already carries is not repeated as an event. */
  private headerResizeSeq: number | null = null;
  private exit: { tsUs: number; exitCode: number } | null = null;

  constructor(private readonly session: SessionInfo, private readonly options: AsciicastOptions) {
    this.startUs = session.startUs ?? 0;
    this.lastUs = this.startUs;
  }

  /** The first line. */
  header(): string {
    const s = this.session;
    const size = s.firstResize ?? DEFAULT_TERMINAL;
    // A log decoded from captures has no clock: then the header has no timestamp (it is optional).
    const timestamp = s.startUs === null ? undefined : Math.floor(s.startUs / 1e6);
    const command = kubectlCommandLine(s);
    const title = sessionTitle(s);
    const header = this.options.version === 2
      ? { version: 2, width: size.width, height: size.height, timestamp, command, title }
      : { version: 3, term: { cols: size.width, rows: size.height }, timestamp, command, title };
    return JSON.stringify(header);
  }

  /** The event lines for one chunk: none (held, skipped or in the header) or one. */
  push(chunk: TerminalChunk): string[] {
    switch (chunk.kind) {
      case 'output':
        return this.text('o', chunk.stream, chunk.bytes, chunk.bytes.length < chunk.size, chunk.tsUs);
      case 'input':
        if (!this.options.includeInput) return [];
        if (chunk.redacted) {
          this.stats.redactedInputChunks++;
          this.stats.redactedInputBytes += chunk.size;
          return [];
        }
        return this.text('i', 'stdin', chunk.bytes, chunk.bytes.length < chunk.size, chunk.tsUs);
      case 'resize':
        if (this.headerResizeSeq === null && this.session.firstResize) {
          // The first resize of the session is the header's size.
          this.headerResizeSeq = chunk.seq;
          return [];
        }
        this.stats.resizeEvents++;
        return [this.event(chunk.tsUs, 'r', `${chunk.width}x${chunk.height}`)];
      case 'exit':
        if (chunk.exitCode !== null) this.exit = { tsUs: chunk.tsUs, exitCode: chunk.exitCode };
        return [];
    }
  }

  /** The last lines: characters still held by the decoders, then (v3) the exit status. */
  finish(): string[] {
    const lines: string[] = [];
    for (const [stream, code] of [['stdout', 'o'], ['stderr', 'o'], ['stdin', 'i']] as const) {
      const rest = this.decoders[stream].decode();
      if (rest) lines.push(this.event(this.lastUs, code, code === 'o' ? this.shown(rest) : rest));
    }
    if (this.options.version === 3 && this.exit) lines.push(this.event(this.exit.tsUs, 'x', String(this.exit.exitCode)));
    return lines;
  }

  private text(code: Code, stream: keyof AsciicastBuilder['decoders'], bytes: Buffer, cut: boolean, tsUs: number): string[] {
    // Bytes missing after this chunk (`--payload head`): do not join its tail to unrelated bytes.
    const text = this.decoders[stream].decode(bytes, { stream: !cut });
    if (text === '') return [];
    if (code === 'o') this.stats.outputEvents++;
    else this.stats.inputEvents++;
    return [this.event(tsUs, code, code === 'o' ? this.shown(text) : text)];
  }

  private shown(output: string): string {
    return asTerminalShowed(output, this.session.tty);
  }

  private event(tsUs: number, code: Code, data: string): string {
    const at = Math.max(tsUs, this.lastUs);
    const seconds = this.options.version === 2 ? (at - this.startUs) / 1e6 : (at - this.lastUs) / 1e6;
    this.lastUs = at;
    return JSON.stringify([roundMicros(seconds), code, data]);
  }
}

/** Six decimals at most, as asciinema writes them. */
function roundMicros(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}
