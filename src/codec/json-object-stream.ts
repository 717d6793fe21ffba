/**
 * A bounded reader for a stream of JSON objects, as Go's `json.Decoder` reads the resize
 * channel (client-go resize.go): values may span messages or share one, separated by
 * whitespace. `{"Width":80,"Height":24}\n{"Wid` yields one object and keeps the rest.
 *
 * Only object boundaries are scanned here (strings and escapes respected); each complete
 * object is handed to JSON.parse. Anything that is not an object start between values, or
 * an object longer than the bound, is reported and the pending text is dropped.
 */
export type JsonStreamItem = { ok: true; value: Record<string, unknown>; start: number } | { ok: false; message: string; start: number };

export class JsonObjectStream {
  private pending = '';
  private pendingStart = 0; // stream position of pending[0]
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scanned = 0; // chars of pending already scanned
  private consumed = 0; // stream position after the last pushed char

  constructor(private readonly maxObjectChars: number) {}

  get bufferedChars(): number {
    return this.pending.length;
  }

  push(text: string): JsonStreamItem[] {
    const out: JsonStreamItem[] = [];
    this.pending += text;
    this.consumed += text.length;
    let i = this.scanned;
    while (i < this.pending.length) {
      const ch = this.pending[i]!;
      if (this.depth === 0) {
        if (ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t') {
          i++;
          continue;
        }
        if (ch !== '{') {
          out.push({ ok: false, message: `expected a JSON object, found ${JSON.stringify(this.pending.slice(i, i + 16))}`, start: this.pendingStart + i });
          this.reset();
          return out;
        }
        // Drop the whitespace before the object so `pending` starts at it.
        this.pendingStart += i;
        this.pending = this.pending.slice(i);
        i = 0;
        this.depth = 1;
        i++;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') this.inString = false;
      } else if (ch === '"') this.inString = true;
      else if (ch === '{' || ch === '[') this.depth++;
      else if (ch === '}' || ch === ']') {
        this.depth--;
        if (this.depth === 0) {
          const objText = this.pending.slice(0, i + 1);
          out.push(parseObject(objText, this.pendingStart));
          this.pendingStart += i + 1;
          this.pending = this.pending.slice(i + 1);
          i = 0;
          continue;
        }
      }
      i++;
    }
    this.scanned = i;
    if (this.depth === 0) {
      // Only whitespace is pending: forget it.
      this.pendingStart += this.pending.length;
      this.pending = '';
      this.scanned = 0;
    } else if (this.pending.length > this.maxObjectChars) {
      out.push({ ok: false, message: `JSON object longer than ${this.maxObjectChars} characters`, start: this.pendingStart });
      this.reset();
    }
    return out;
  }

  /** Text left inside an unfinished object, if any (reported by the caller at the end). */
  get unfinished(): boolean {
    return this.depth > 0;
  }

  private reset(): void {
    this.pending = '';
    this.pendingStart = this.consumed;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.scanned = 0;
  }
}

function parseObject(text: string, start: number): JsonStreamItem {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return { ok: true, value: v as Record<string, unknown>, start };
    return { ok: false, message: 'not a JSON object', start };
  } catch (e) {
    return { ok: false, message: `bad JSON: ${(e as Error).message}`, start };
  }
}

/**
 * TerminalSize as the server decodes it: Go's encoding/json matches field names
 * case-insensitively, and both fields are uint16.
 */
export function terminalSize(obj: Record<string, unknown>): { width: number; height: number } | null {
  let width: unknown;
  let height: unknown;
  for (const [k, v] of Object.entries(obj)) {
    const key = k.toLowerCase();
    if (key === 'width') width = v;
    else if (key === 'height') height = v;
  }
  const u16 = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff;
  if (!u16(width ?? 0) || !u16(height ?? 0)) return null;
  return { width: (width as number | undefined) ?? 0, height: (height as number | undefined) ?? 0 };
}
