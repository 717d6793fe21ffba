/**
 * Drops ECMA-48 (5th ed.) escape and control sequences from a stream of code points, keeping
 * printable characters and telling the caller of each control character executed: the one
 * stripper of the stdin redactor (stdin-redactor.ts, echo matching) and of the session index
 * (src/store/typed-commands.ts, the command lines typed).
 *
 * Sequences: CSI `ESC [ params intermediates final`, SS3 `ESC O x`, `ESC intermediates final`
 * (two or more characters, §5.3), and the control strings OSC/DCS/SOS/PM/APC (`ESC ] P X ^ _`)
 * up to BEL or ST (`ESC \`). C0 controls inside a sequence are executed there (§5.5), so they
 * never end it, except ESC (a new sequence) and CAN/SUB (cancel, which also end a control
 * string). Stdin sequences are also how keys arrive: arrows `ESC [ A` or `ESC O A`, Alt+key
 * `ESC x`, bracketed paste `ESC [ 200 ~`.
 */

/** Nothing to keep: a character of an escape sequence. */
export const STRIPPED = -1;

/** `feed`'s answer for an executed control character (C0, DEL, C1): negative, below STRIPPED. */
export function controlResult(code: number): number {
  return -2 - code;
}

/** The control character a negative `feed` answer other than STRIPPED stands for. */
export function controlOf(result: number): number {
  return -2 - result;
}

const GROUND = 0;
const ESC = 1;
const ESC_INTERMEDIATE = 2;
const CSI = 3;
const SS3 = 4;
const CONTROL_STRING = 5;
const CONTROL_STRING_ESC = 6;

export class ControlStripper {
  private state = GROUND;

  reset(): void {
    this.state = GROUND;
  }

  /** The code point to keep (>= 0), STRIPPED, or `controlResult(code)` for a control executed. */
  feed(cp: number): number {
    switch (this.state) {
      case GROUND:
        if (cp === 0x1b) {
          this.state = ESC;
          return STRIPPED;
        }
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return controlResult(cp);
        return cp;
      case ESC:
        if (cp === 0x5b) this.state = CSI;
        else if (cp === 0x4f) this.state = SS3;
        else if (cp === 0x5d || cp === 0x50 || cp === 0x58 || cp === 0x5e || cp === 0x5f) this.state = CONTROL_STRING;
        else if (cp >= 0x20 && cp <= 0x2f) this.state = ESC_INTERMEDIATE;
        else if (cp >= 0x30 && cp <= 0x7e) this.state = GROUND;
        else return this.outside(cp);
        return STRIPPED;
      case ESC_INTERMEDIATE:
        if (cp >= 0x20 && cp <= 0x2f) return STRIPPED;
        if (cp >= 0x30 && cp <= 0x7e) {
          this.state = GROUND;
          return STRIPPED;
        }
        return this.outside(cp);
      case CSI:
        if (cp >= 0x20 && cp <= 0x3f) return STRIPPED;
        if (cp >= 0x40 && cp <= 0x7e) {
          this.state = GROUND;
          return STRIPPED;
        }
        return this.outside(cp);
      case SS3:
        if (cp >= 0x20 && cp <= 0x7e) {
          this.state = GROUND;
          return STRIPPED;
        }
        return this.outside(cp);
      case CONTROL_STRING:
        if (cp === 0x07 || cp === 0x18 || cp === 0x1a) this.state = GROUND;
        else if (cp === 0x1b) this.state = CONTROL_STRING_ESC;
        return STRIPPED;
      default:
        // CONTROL_STRING_ESC: `ESC \` is ST; any other ESC starts a new sequence.
        if (cp === 0x5c) {
          this.state = GROUND;
          return STRIPPED;
        }
        this.state = ESC;
        return this.feed(cp);
    }
  }

  /** A code point that is not part of the sequence in progress. */
  private outside(cp: number): number {
    if (cp === 0x1b) {
      this.state = ESC;
      return STRIPPED;
    }
    if (cp === 0x18 || cp === 0x1a) {
      this.state = GROUND;
      return STRIPPED;
    }
    if (cp < 0x20 || cp === 0x7f) return controlResult(cp);
    // Malformed: the sequence ends and the character is text.
    this.state = GROUND;
    return this.feed(cp);
  }
}
