/**
 * `kubewire watch --store S SESSION`: follows a session of an audit store from another
 * terminal while the gateway (or a `proxy`/`run` with `--audit-store`) records it: its output on
 * stdout as the records arrive, and a status line on stderr (who, where, what, bytes, live or
 * ended, the exit code): on a terminal one line, redrawn; otherwise a line each time something
 * other than the byte counts changes, and a last one at the end.
 *
 * It ends once the session's `audit.session` record is written (the session settled), with
 * the session's exit code as kubewire's own, as `replay` does (0 when none was recorded); when
 * the run ends without that record, with 1 and why (a new run of the replica began; its writer
 * stopped, or was not heard from for a lease period: crashed or cut off from the store); on
 * Ctrl-C, with 130.
 * A session that ended already is shown whole and ends at once.
 *
 * SESSION is the id as `kubewire sessions` prints it, or a unique prefix; a session still
 * running has no index row yet, so the latest run of every replica is searched too.
 */
import { SessionWatch, watchLine, type WatchStatus } from '../audit/session-watch.js';
import { ExitCode } from '../io/errors.js';
import { openStoreReader, type SessionPlace } from '../store/store-reader.js';
import { pickSession } from '../store/store-session.js';
import { describeStore, parseStoreSpec } from '../store/store-spec.js';

export interface WatchOptions {
  store: string;
  session: string;
}

/** Ctrl-C: the shell's 128 + SIGINT. */
export const EXIT_INTERRUPTED = 130;

/** Byte counts on a terminal's status line are redrawn at most this often, ms. */
const REDRAW_MS = 100;

export async function runWatch(opts: WatchOptions, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, signal: AbortSignal): Promise<number> {
  const spec = parseStoreSpec(opts.store);
  const reader = await openStoreReader(spec);
  try {
    const places = new Map<string, SessionPlace>();
    const add = (p: SessionPlace): void => {
      const key = `${p.replica}\0${p.runPos ?? p.files?.[0] ?? ''}\0${p.session}`;
      if (!places.has(key)) places.set(key, p);
    };
    (await reader.sessions({ sessionPrefix: opts.session })).forEach(add);
    (await reader.latestRunSessions(opts.session)).forEach(add);
    const place = pickSession([...places.values()], opts.session, describeStore(spec), 'neither among its ended sessions nor in the latest run of a replica');

    const watch = new SessionWatch(place.session);
    const status = new StatusLine(stderr, stdout);
    const events = reader.follow(place, signal);
    let why: string | null = null;
    for (;;) {
      const next = await events.next();
      if (next.done) {
        why = next.value;
        break;
      }
      const step = watch.push(next.value);
      if (step.output) await status.output(stdout, step.output.bytes);
      status.show(watch.status(), step.changed);
      if (step.ended) {
        await events.return(null);
        break;
      }
    }
    const s = watch.status();
    status.end(s);
    if (signal.aborted && !watch.ended) return EXIT_INTERRUPTED;
    if (!watch.ended) {
      stderr.write(`kubewire: the run of replica ${place.replica} ended before session ${place.session} was recorded as ended: ${why ?? 'its writer stopped or died'}\n`);
      return ExitCode.Failure;
    }
    return s.exitCode ?? ExitCode.Ok;
  } finally {
    await reader.close();
  }
}

/** The status on stderr: one redrawn line on a terminal, else a line per change. */
class StatusLine {
  private readonly tty: boolean;
  private shown = false;
  /** Not a terminal: the last line written. */
  private printed = '';
  private lastDraw = 0;
  /** The last output byte was a newline (or nothing was written): the line may be drawn under it. */
  private atLineStart = true;

  constructor(private readonly err: NodeJS.WritableStream, private readonly out: NodeJS.WritableStream) {
    this.tty = (err as { isTTY?: boolean }).isTTY === true && process.env['TERM'] !== 'dumb';
  }

  show(s: WatchStatus, changed: boolean): void {
    // Nothing to say before the session's own records came.
    if (s.state === 'waiting') return;
    if (!this.tty) {
      if (changed) this.print(watchLine(s));
      return;
    }
    const now = Date.now();
    if (!changed && now - this.lastDraw < REDRAW_MS) return;
    if (!this.atLineStart && this.sharesTerminal()) return;
    this.lastDraw = now;
    const columns = (this.err as { columns?: number }).columns ?? 0;
    const line = watchLine(s);
    this.err.write(`\r\x1b[K${columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line}`);
    this.shown = true;
  }

  /** Output onto stdout, the status line out of its way while it is written. */
  async output(stdout: NodeJS.WritableStream, bytes: Buffer): Promise<void> {
    if (this.tty && this.shown && this.sharesTerminal()) {
      this.err.write('\r\x1b[K');
      this.shown = false;
    }
    this.atLineStart = bytes[bytes.length - 1] === 10;
    if (!stdout.write(bytes)) await new Promise<void>((resolve) => {
      const done = (): void => {
        stdout.off('drain', done);
        stdout.off('close', done);
        resolve();
      };
      stdout.on('drain', done);
      stdout.on('close', done);
    });
  }

  end(s: WatchStatus): void {
    if (!this.tty) {
      if (watchLine(s) !== this.printed) this.print(watchLine(s));
      return;
    }
    if (!this.atLineStart && this.sharesTerminal()) this.err.write('\n');
    this.err.write(`\r\x1b[K${watchLine(s)}\n`);
  }

  private print(line: string): void {
    this.printed = line;
    this.err.write(`${line}\n`);
  }

  private sharesTerminal(): boolean {
    return (this.out as { isTTY?: boolean }).isTTY === true;
  }
}
