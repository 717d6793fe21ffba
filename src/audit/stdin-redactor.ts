/**
 * `--redact-stdin none|echo-off|all` for audit logs: what a user typed into a pod can be a
 * secret, and an audit log is kept for a long time and read by many.
 *
 * - `all` replaces every stdin payload by a marker with its length (`redacted: 'all'`).
 * - `echo-off` replaces only input that never came back on the terminal: a password typed at a
 *   no-echo prompt (`sudo`, `read -s`, `passwd`) is not echoed, ordinary typing is. So a stdin
 *   record of a TTY connection is held until its characters show up in the stdout that
 *   followed it (kept as it is) or `holdMs` passes without that (`redacted: 'echo-off'`).
 *   Connections without a TTY have no echo to judge by; their stdin (`kubectl cp` uploads,
 *   piped input) is kept.
 * - `none` changes nothing.
 *
 * Sans-IO: the caller passes each event in seq order with the time it arrived, calls `tick`
 * every ~100-250 ms, and writes what comes back, which is always the events it pushed, in the
 * same seq order (a held record holds every later event, of any connection, behind it).
 * Input events are never mutated; redacted ones are copies.
 *
 * Echo matching. Echo is what the line discipline or readline writes back for a key: the key's
 * character, often mixed with redraws (the rest of the line, colours, cursor moves; ECMA-48
 * control sequences). So both sides are reduced to printable characters: UTF-8 decoded
 * statefully (a character can be split across records, WHATWG Encoding "UTF-8 decoder"),
 * ECMA-48 escape sequences (CSI `ESC [`, SS3 `ESC O x`, OSC/DCS/APC/PM/SOS strings up to BEL or
 * ST, two-character `ESC x`) and C0/C1 controls dropped. Matching is anchored: a pty echoes a
 * key at once, before any other output, so a record's characters must be the first printable
 * characters of the reduced stdout after the point where the record arrived and after the echo
 * the previous kept record consumed (a per-connection cursor: typing `aaa` needs three echoed
 * `a`), all of a record at once (a paste is kept or redacted as a whole). Before its first
 * character, line breaks are skipped, and so are characters the line's kept records showed
 * already (a redraw: readline reprints the rest of the line after a key inserted in its
 * middle, zsh may reprint the whole line to recolour it). Any other printable output in that
 * place means the record was not echoed: it is redacted at once. Searching further would let
 * through a password's letters that the program happens to print later (`len=14` after
 * `read PW` let the `n` of `hunter2-secret` pass). Typing while a command prints is redacted
 * too: the safe side. Records of a connection are decided in order. Input that is only
 * controls (Enter, ^C, arrows, Tab, bracketed-paste markers alone) has nothing secret to hide
 * and is kept at once.
 *
 * Line breaks are skipped only until a line is answered: once a line was submitted (a stdin
 * record with CR or LF), a line break in stdout after that point, before the characters typed
 * before it were all echoed, redacts the record at once. Typed and echoed (`ls⏎`, echo
 * `ls\r\n`) passes; `sudo`'s password followed by its `\r\n` does not. What is left: a no-echo
 * secret whose characters are the first text the program prints after them, within `holdMs`.
 *
 * A record whose payload is missing or cut short (`--payload none|head`) cannot be judged and
 * is redacted; stdout whose bytes are unknown counts as a line break. `conn.summary` carries a
 * SHA-256 of each stream, which a short password could be recovered from by brute force; on a
 * connection with any redacted stdin record the stdin digest becomes `redacted`.
 *
 * Memory: held events are bounded by the caller; the reduced stdout kept per connection is
 * bounded (`echoWindow` characters) and kept only while records of that connection wait (a
 * record whose place in stdout fell out of it before it could be judged is redacted); a
 * connection's state is dropped at its `conn.close` (after which no stdout can come, so its
 * waiting records are decided then).
 */
import { controlOf, ControlStripper, STRIPPED } from './control-stripper.js';
import { noteFor } from '../events/notes.js';
import type { ByteDigest, ConnSummaryEvent, Envelope, K8sDataEvent, KubewireEvent } from '../events/types.js';

export type RedactStdinMode = 'none' | 'echo-off' | 'all';

export interface StdinRedactorOptions {
  /** How long a stdin record may wait for its echo, in ms (default 1000). */
  holdMs?: number;
  /** Characters of reduced stdout kept per connection while records wait (default 4096). */
  echoWindow?: number;
}

const DEFAULT_HOLD_MS = 1000;
const DEFAULT_ECHO_WINDOW = 4096;
/** Ids of closed connections with redacted stdin, remembered for a late `conn.summary`. */
const CLOSED_MEMORY = 1024;
/** Summary stream keys that hold stdin bytes (`streamName(0)`, and the generic name). */
const STDIN_STREAM_KEYS = ['stdin', 'channel0'];

// -- reduced text: UTF-8 decoding and ECMA-48 stripping --------------------------------------------

/** A line break in reduced text (LF; CR too on the input side, where Enter sends CR). */
const BREAK = -1;
/** Nothing to keep (a control, or a byte of an escape sequence). */
const NONE = -2;
const REPLACEMENT = 0xfffd;

/**
 * The WHATWG Encoding Standard UTF-8 decoder (§4.1 "UTF-8 decoder"), byte by byte with state
 * kept between calls, so a character split across records decodes once; invalid bytes give
 * U+FFFD the way TextDecoder does, on both sides alike.
 */
class Utf8Decoder {
  private cp = 0;
  private needed = 0;
  private seen = 0;
  private lower = 0x80;
  private upper = 0xbf;

  /** A character has started and not finished. */
  get partial(): boolean {
    return this.needed !== 0;
  }

  reset(): void {
    this.cp = 0;
    this.needed = 0;
    this.seen = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  decode(bytes: Uint8Array, emit: (cp: number) => void): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.needed === 0) {
        if (b <= 0x7f) emit(b);
        else if (b >= 0xc2 && b <= 0xdf) {
          this.needed = 1;
          this.cp = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) this.lower = 0xa0;
          if (b === 0xed) this.upper = 0x9f;
          this.needed = 2;
          this.cp = b & 0x0f;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) this.lower = 0x90;
          if (b === 0xf4) this.upper = 0x8f;
          this.needed = 3;
          this.cp = b & 0x07;
        } else emit(REPLACEMENT);
        continue;
      }
      if (b < this.lower || b > this.upper) {
        // The sequence is broken: U+FFFD for it, and this byte starts afresh.
        this.reset();
        emit(REPLACEMENT);
        i--;
        continue;
      }
      this.lower = 0x80;
      this.upper = 0xbf;
      this.cp = (this.cp << 6) | (b & 0x3f);
      if (++this.seen === this.needed) {
        const cp = this.cp;
        this.reset();
        emit(cp);
      }
    }
  }
}

/**
 * The shared ECMA-48 stripper (control-stripper.ts), its controls reduced to what echo
 * matching needs: a line break (LF; CR too on the input side) or nothing.
 */
class LineStripper {
  private readonly strip = new ControlStripper();

  constructor(private readonly crIsBreak: boolean) {}

  reset(): void {
    this.strip.reset();
  }

  /** The code point to keep, BREAK, or NONE. */
  feed(cp: number): number {
    const t = this.strip.feed(cp);
    if (t >= 0) return t;
    if (t === STRIPPED) return NONE;
    const code = controlOf(t);
    return code === 0x0a || (code === 0x0d && this.crIsBreak) ? BREAK : NONE;
  }
}

// -- per-connection state ------------------------------------------------------------------------

/** One line of input; `submitAt` is the stdout position when a CR or LF was sent, once it was. */
interface InputLine {
  submitAt: number | null;
  /**
   * Printable characters of the line's kept (echoed) records: what a redraw may print again
   * before the next key's echo (readline reprints the rest of the line after an inserted key,
   * zsh may reprint the whole line to recolour it).
   */
  readonly shown: Set<number>;
}

const newLine = (): InputLine => ({ submitAt: null, shown: new Set() });

type Decision = 'keep' | 'echo-off';

/** A stdin record waiting for its echo. */
interface Hold {
  readonly deadline: number;
  /** Reduced stdout position when the record arrived: its echo can only come after. */
  readonly start: number;
  readonly line: InputLine;
  /** Printable code points that start in this record. */
  readonly need: number[];
  /** How many of them come before the record's own first CR/LF (all when it has none). */
  firstLineLen: number;
  /** Ends inside a character, so `need` is not complete yet. */
  open: boolean;
  /** The record where a character this one finishes started: its fate is shared. */
  tiedTo: Hold | null;
  matched: number;
  /** Next stdout position to look at, once the record is first in its connection. */
  scan: number;
  decision: Decision | null;
}

class ConnState {
  tty = false;
  /** Some stdin record of this connection was redacted. */
  redacted = false;
  readonly stdinUtf8 = new Utf8Decoder();
  /** The record where the character `stdinUtf8` is in the middle of started. */
  partialOwner: Hold | null = null;
  line: InputLine = newLine();
  readonly stdoutUtf8 = new Utf8Decoder();
  readonly stdoutStripper = new LineStripper(false);
  /** Reduced stdout from position `base` to `end`, kept only while records wait. */
  window: number[] = [];
  base = 0;
  end = 0;
  /** Where the echo consumed by the last kept record ended. */
  cursor = 0;
  readonly pending: Hold[] = [];
}

interface Entry {
  event: KubewireEvent;
  /** A stdin record still to be decided (echo-off), else null. */
  hold: Hold | null;
  /** A `conn.summary` whose digest depends on its connection's decisions. */
  summaryOf: ConnState | null;
  /** The output, when known on arrival. */
  out: KubewireEvent | null;
}

type DataEvent = Envelope & K8sDataEvent;

// -- the redactor ----------------------------------------------------------------------------------

export class StdinRedactor {
  private readonly holdMs: number;
  private readonly echoWindow: number;
  private readonly conns = new Map<string, ConnState>();
  private readonly closedRedacted = new Set<string>();
  /** Connections with records waiting. */
  private readonly waiting = new Set<ConnState>();
  private queue: Entry[] = [];
  private head = 0;
  private now = -Infinity;
  private readonly stdinStripper = new LineStripper(true);

  constructor(private readonly mode: RedactStdinMode, options: StdinRedactorOptions = {}) {
    this.holdMs = options.holdMs ?? DEFAULT_HOLD_MS;
    this.echoWindow = options.echoWindow ?? DEFAULT_ECHO_WINDOW;
    if (!Number.isFinite(this.holdMs) || this.holdMs < 0) throw new RangeError(`holdMs must be a finite number ≥ 0, not ${this.holdMs}`);
    if (!Number.isInteger(this.echoWindow) || this.echoWindow < 1) throw new RangeError(`echoWindow must be a positive integer, not ${this.echoWindow}`);
  }

  /** Takes the next event (in seq order); returns the events now ready, in seq order, redacted where needed. */
  push(event: KubewireEvent, now: number): KubewireEvent[] {
    if (this.mode === 'none') return [event];
    this.advanceClock(now);
    this.expire();
    this.queue.push(this.admit(event));
    return this.release();
  }

  /** Releases events whose hold ran out (call it every ~100-250 ms). */
  tick(now: number): KubewireEvent[] {
    if (this.mode === 'none') return [];
    this.advanceClock(now);
    this.expire();
    return this.release();
  }

  /** End of the log: decides everything still held and releases it. */
  flush(): KubewireEvent[] {
    for (const c of this.waiting) this.resolve(c, true);
    return this.release();
  }

  /** Events held now (the caller counts them against its memory bound). */
  get held(): number {
    return this.queue.length - this.head;
  }

  private advanceClock(now: number): void {
    // Never backwards: a hold must not outlive its deadline because a clock stepped back.
    if (now > this.now) this.now = now;
  }

  private expire(): void {
    for (const c of this.waiting) this.resolve(c, false);
  }

  private admit(event: KubewireEvent): Entry {
    const entry: Entry = { event, hold: null, summaryOf: null, out: null };
    const key = event.conn ?? '';
    switch (event.type) {
      case 'upgrade.request':
        if (this.mode === 'echo-off' && event.k8s?.tty === true) this.connState(key).tty = true;
        return entry;
      case 'k8s.data':
        if (event.dir === 'c2s' && event.stream === 'stdin') return this.admitStdin(event, key, entry);
        if (event.dir === 's2c' && event.stream === 'stdout' && this.mode === 'echo-off') {
          const c = this.conns.get(key);
          if (c?.tty) this.observeStdout(c, event);
        }
        return entry;
      case 'conn.summary': {
        const c = this.conns.get(key);
        if (c) entry.summaryOf = c;
        else if (this.closedRedacted.has(key)) entry.out = redactSummary(event);
        return entry;
      }
      case 'conn.close':
        this.close(key);
        return entry;
      default:
        return entry;
    }
  }

  private connState(key: string): ConnState {
    let c = this.conns.get(key);
    if (!c) {
      c = new ConnState();
      this.conns.set(key, c);
      this.closedRedacted.delete(key);
    }
    return c;
  }

  private admitStdin(event: DataEvent, key: string, entry: Entry): Entry {
    // Empty messages carry nothing to hide.
    if (event.size === 0 || event.initial) return entry;
    if (this.mode === 'all') {
      this.connState(key).redacted = true;
      entry.out = redactStdin(event, 'all');
      return entry;
    }
    const c = this.conns.get(key);
    if (!c?.tty) return entry;
    if (event.payload === undefined || event.truncated) {
      // The bytes are not all here, so their echo cannot be judged, and the note shows them.
      // They may have ended the line too: the stricter reading.
      c.stdinUtf8.reset();
      c.partialOwner = null;
      c.line.submitAt = c.end;
      c.line = newLine();
      c.redacted = true;
      entry.out = redactStdin(event, 'echo-off');
      return entry;
    }
    const hold = this.readInput(c, Buffer.from(event.payload, 'base64'));
    if (hold.need.length === 0 && !hold.open) {
      const tied = hold.tiedTo?.decision;
      if (tied === undefined || tied === 'keep') return entry; // only controls, or the end of a kept character
      if (tied === 'echo-off') {
        c.redacted = true;
        entry.out = redactStdin(event, 'echo-off');
        return entry;
      }
    }
    c.pending.push(hold);
    this.waiting.add(c);
    entry.hold = hold;
    return entry;
  }

  /** Reduces one stdin record to the characters whose echo it waits for. */
  private readInput(c: ConnState, bytes: Uint8Array): Hold {
    const hold: Hold = {
      deadline: this.now + this.holdMs,
      start: c.end,
      line: c.line,
      need: [],
      firstLineLen: Infinity,
      open: false,
      tiedTo: null,
      matched: 0,
      scan: -1,
      decision: null,
    };
    // A key's escape sequence arrives whole in one record; not carrying the state over means a
    // lone ESC (the Escape key) cannot swallow the next record's first character.
    this.stdinStripper.reset();
    let carried = c.stdinUtf8.partial ? c.partialOwner : null;
    hold.tiedTo = carried;
    let breaks = 0;
    c.stdinUtf8.decode(bytes, (cp) => {
      // The first character out finishes the one an earlier record started: it is that record's.
      const owner = carried ?? hold;
      if (carried) {
        carried.open = false;
        carried = null;
      }
      const t = this.stdinStripper.feed(cp);
      if (t === BREAK) {
        if (owner === hold && hold.firstLineLen === Infinity) hold.firstLineLen = hold.need.length;
        breaks++;
      } else if (t !== NONE) owner.need.push(t);
    });
    if (!c.stdinUtf8.partial) c.partialOwner = null;
    else if (carried === null) {
      // A new character started here and goes on in the next record.
      c.partialOwner = hold;
      hold.open = true;
    }
    if (breaks > 0) {
      c.line.submitAt = c.end;
      c.line = newLine();
    }
    return hold;
  }

  private observeStdout(c: ConnState, event: DataEvent): void {
    if (event.size === 0) return;
    const keep = c.pending.length > 0;
    const add = (t: number): void => {
      if (keep) c.window.push(t);
      c.end++;
    };
    if (event.payload !== undefined) {
      c.stdoutUtf8.decode(Buffer.from(event.payload, 'base64'), (cp) => {
        const t = c.stdoutStripper.feed(cp);
        if (t !== NONE) add(t);
      });
    }
    if (event.payload === undefined || event.truncated) {
      // Bytes not recorded: they may have held a line break, so count one; start afresh after.
      c.stdoutUtf8.reset();
      c.stdoutStripper.reset();
      add(BREAK);
    }
    if (!keep) {
      c.base = c.end;
      return;
    }
    this.resolve(c, false);
    if (c.window.length > this.echoWindow) {
      const drop = c.window.length - this.echoWindow;
      c.window = c.window.slice(drop);
      c.base += drop;
    }
  }

  /** Decides the connection's waiting records in order, as far as they can be decided now. */
  private resolve(c: ConnState, force: boolean): void {
    while (c.pending.length > 0) {
      const h = c.pending[0]!;
      let decision: Decision | null = null;
      if (h.tiedTo?.decision === 'echo-off') decision = 'echo-off';
      else {
        const m = h.open ? 'wait' : this.match(c, h);
        if (m === 'done') decision = 'keep';
        else if (m === 'fail' || force || h.deadline <= this.now) decision = 'echo-off';
      }
      if (decision === null) break;
      h.decision = decision;
      if (decision === 'echo-off') c.redacted = true;
      else for (const cp of h.need) h.line.shown.add(cp);
      c.pending.shift();
    }
    if (c.pending.length === 0) {
      this.waiting.delete(c);
      c.window = [];
      c.base = c.end;
    }
  }

  /** Looks for the record's echo in the stdout that came since it last looked. */
  private match(c: ConnState, h: Hold): 'done' | 'fail' | 'wait' {
    if (h.need.length === 0) return 'done';
    if (h.scan < 0) h.scan = Math.max(h.start, c.cursor);
    // What the terminal printed first after the record fell out of the window (it waited as
    // an unfinished character, or behind records that were not echoed): it cannot be judged.
    if (h.scan < c.base) return 'fail';
    const submitAt = h.line.submitAt;
    while (h.scan < c.end) {
      const t = c.window[h.scan - c.base]!;
      if (t === h.need[h.matched]) {
        h.scan++;
        if (++h.matched === h.need.length) {
          c.cursor = h.scan;
          return 'done';
        }
        continue;
      }
      // The line was answered (a line break after it was sent) before all of it was echoed.
      if (t === BREAK && submitAt !== null && h.scan >= submitAt && h.matched < h.firstLineLen) return 'fail';
      // Before the echo: line breaks, and a redraw of what was echoed on this line already.
      if (h.matched === 0 && (t === BREAK || h.line.shown.has(t))) {
        h.scan++;
        continue;
      }
      // Anchored: the echo is the first thing the terminal prints after the key (after what
      // earlier keys' echoes took). Other output there means the key was not echoed; searching
      // further would "find" a password's letters in whatever the program printed next.
      return 'fail';
    }
    return 'wait';
  }

  private close(key: string): void {
    const c = this.conns.get(key);
    if (!c) return;
    // conn.close comes after the connection's last decoded event: no echo can come any more.
    this.resolve(c, true);
    this.conns.delete(key);
    if (c.redacted) {
      this.closedRedacted.add(key);
      if (this.closedRedacted.size > CLOSED_MEMORY) {
        const oldest = this.closedRedacted.values().next().value;
        if (oldest !== undefined) this.closedRedacted.delete(oldest);
      }
    }
  }

  private release(): KubewireEvent[] {
    const out: KubewireEvent[] = [];
    while (this.head < this.queue.length) {
      const e = this.queue[this.head]!;
      if (e.hold && e.hold.decision === null) break;
      out.push(output(e));
      this.head++;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}

function output(e: Entry): KubewireEvent {
  if (e.out) return e.out;
  if (e.hold?.decision === 'echo-off') return redactStdin(e.event as DataEvent, 'echo-off');
  if (e.summaryOf?.redacted) return redactSummary(e.event as Envelope & ConnSummaryEvent);
  return e.event;
}

/** A copy of a stdin record without its bytes: `size` stays, the note says why. */
export function redactStdin(event: DataEvent, how: 'all' | 'echo-off'): KubewireEvent {
  // prev/hash belong to the record as it was; the chain links the copy afresh.
  const { payload: _payload, truncated: _truncated, prev: _prev, hash: _hash, ...rest } = event;
  const copy: DataEvent = { ...rest, redacted: how };
  copy.note = noteFor(copy);
  return copy;
}

/** A copy of a summary whose stdin digest says `redacted`. */
export function redactSummary(event: Envelope & ConnSummaryEvent): KubewireEvent {
  const { prev: _prev, hash: _hash, ...rest } = event;
  const streams: Record<string, ByteDigest> = { ...event.summary.streams };
  for (const name of STDIN_STREAM_KEYS) {
    const d = streams[name];
    // A digest that was never taken (sha256 null) has nothing to hide.
    if (d && d.sha256 !== null) streams[name] = { ...d, sha256: 'redacted' };
  }
  return { ...rest, summary: { ...event.summary, streams } };
}
