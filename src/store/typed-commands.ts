/**
 * The command lines typed in a tty session, rebuilt for the session index (`kubewire sessions
 * --command`): from the stdin the session recorded, with the line editing a terminal does
 * (backspace, ^U, ^W, ^C), and from its echo, the line the terminal showed when Enter was
 * pressed (the prompt and the line as the shell completed it: Tab completion is visible only
 * there). ECMA-48 control sequences are dropped on both sides by the stripper the stdin
 * redactor uses (src/audit/control-stripper.ts).
 *
 * Input the redactor removed (`--redact-stdin`) has no payload: a line with any such input
 * is left out whole, its echo too, so nothing of it reaches the index.
 *
 * Sans-IO and bounded: at most MAX_LINES lines of MAX_LINE_CHARS characters per session.
 */
import { controlOf, ControlStripper, STRIPPED } from '../audit/control-stripper.js';

export const MAX_LINES = 200;
export const MAX_LINE_CHARS = 1024;

/** The shared ECMA-48 stripper over decoded text: printable characters and executed controls. */
function strip(stripper: ControlStripper, chunk: string, text: (c: string) => void, control: (code: number) => void): void {
  for (const c of chunk) {
    const t = stripper.feed(c.codePointAt(0)!);
    if (t >= 0) text(c);
    else if (t !== STRIPPED) control(controlOf(t));
  }
}

export class TypedCommands {
  private readonly lines: string[] = [];
  private input = '';
  private inputRedacted = false;
  private readonly inStrip = new ControlStripper();
  private readonly outStrip = new ControlStripper();
  private readonly inDecoder = new TextDecoder('utf-8');
  private readonly outDecoder = new TextDecoder('utf-8');
  private screen = '';
  /** A line was submitted: the next line the terminal ends is its echo. */
  private awaitingEcho: { redacted: boolean } | null = null;

  /** Stdin bytes, or null for a record whose payload the redactor removed. */
  stdin(bytes: Buffer | null): void {
    if (bytes === null) {
      this.inputRedacted = true;
      return;
    }
    strip(this.inStrip, this.inDecoder.decode(bytes, { stream: true }), (c) => {
      if (this.input.length < MAX_LINE_CHARS) this.input += c;
    }, (code) => {
      switch (code) {
        case 0x7f:
        case 0x08: this.input = [...this.input].slice(0, -1).join(''); break;
        case 0x15: this.input = ''; break;
        case 0x17: this.input = this.input.replace(/\S+\s*$/, ''); break;
        case 0x03: this.input = ''; this.inputRedacted = false; break;
        case 0x0d:
        case 0x0a: this.submit(); break;
      }
    });
  }

  /** Stdout bytes of the same session (the echo). */
  stdout(bytes: Buffer): void {
    strip(this.outStrip, this.outDecoder.decode(bytes, { stream: true }), (c) => {
      if (this.screen.length < MAX_LINE_CHARS) this.screen += c;
    }, (code) => {
      if (code === 0x08) this.screen = [...this.screen].slice(0, -1).join('');
      else if (code === 0x0a) this.endScreenLine();
      // CR alone returns the cursor: a redraw of the same line follows; keep what was shown.
    });
  }

  /** The lines typed, in order, without repeats of the line just before. */
  commands(): string[] {
    return [...this.lines];
  }

  private submit(): void {
    const line = this.input.trim();
    const redacted = this.inputRedacted;
    this.input = '';
    this.inputRedacted = false;
    if (!redacted && line) this.add(line);
    this.awaitingEcho = { redacted };
  }

  private endScreenLine(): void {
    const shown = this.screen.trim();
    this.screen = '';
    const waiting = this.awaitingEcho;
    this.awaitingEcho = null;
    if (waiting && !waiting.redacted && shown) this.add(shown);
  }

  private add(line: string): void {
    if (this.lines.length >= MAX_LINES || this.lines.at(-1) === line) return;
    this.lines.push(line);
  }
}
