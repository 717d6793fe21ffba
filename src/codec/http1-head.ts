/**
 * HTTP/1.1 message heads (start line and header section), decoded incrementally.
 *
 * Each push scans only the bytes it brings. While the start line is open every byte is checked
 * against what an HTTP/1.x start line allows at that position, so a TLS ClientHello or other
 * binary is reported at its first byte instead of after MAX_HTTP_HEAD_BYTES. After the start line
 * the scanner only looks for the blank line that ends the head; the header lines are split once,
 * when the head is complete. Bytes pushed after the head are handed back as `rest`.
 *
 *   47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a   "GET / HTTP/1.1\r\n"
 *   48 6f 73 74 3a 20 61 0d 0a 0d 0a 82 81 ...        "Host: a\r\n\r\n" then a WebSocket frame
 *   → head { method "GET", target "/", version "HTTP/1.1", headers [["Host", "a"]], length 27 },
 *     rest 82 81 ...
 *   16 03 01 02 00 ...                                 a TLS ClientHello
 *   → KW_HTTP_NOT_HTTP at offset 0 (0x16 cannot start a method token)
 *
 * One decoder reads one head. After the head or an error it is done: further pushes return
 * need-more and report nothing.
 */
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { Anomaly } from './anomaly.js';
import { ByteQueue } from './byte-queue.js';
import { MAX_HTTP_HEAD_BYTES } from './limits.js';

export interface HttpHead {
  kind: 'request' | 'response';
  /** Input offset of the head's first byte. */
  offset: number;
  /** Bytes of the head including the blank line. */
  length: number;
  startLine: string;
  method: string | null;
  target: string | null;
  /** For example "HTTP/1.1". */
  version: string;
  status: number | null;
  /** The reason phrase, "" when the status line has none. */
  reason: string | null;
  /** Raw name case and order kept, values trimmed, obs-fold continuations joined with one space. */
  headers: [name: string, value: string][];
}

export type HeadOutcome =
  | { kind: 'need-more' }
  /** `anomalies`: non-opaque problems seen while parsing this head (usually none). */
  | { kind: 'head'; head: HttpHead; rest: Buffer; anomalies: Anomaly[] }
  | { kind: 'error'; anomaly: Anomaly };

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}

const SP = 0x20;
const HTAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const HTTP_NAME = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"
/** A method longer than this before its SP is taken as binary, not a request. */
const MAX_METHOD_BYTES = 32;

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

// Scanner states. The start-line states validate each byte; the header states only find the end.
const LEADING = 0; // requests: empty lines before the request-line (RFC 9112 §2.2)
const LEADING_CR = 1;
const METHOD = 2;
const TARGET = 3;
const VERSION = 4; // `this.count` bytes of "HTTP/d.d" matched
const REQUEST_LINE_END = 5;
const VERSION_SP = 6;
const STATUS = 7; // `this.count` digits of the status code seen
const STATUS_END = 8;
const REASON = 9;
const START_LINE_CR = 10;
const LINE_START = 11;
const BLANK_CR = 12;
const IN_LINE = 13;

// What one byte did to the scanner.
const GO_ON = 0;
const HEAD_END = 1;
const NOT_HTTP = 2;

const NEED_MORE: HeadOutcome = { kind: 'need-more' };

export class Http1HeadDecoder {
  private readonly kind: 'request' | 'response';
  private readonly startOffset: number;
  private readonly maxHeadBytes: number;
  private readonly queue = new ByteQueue();
  private state: number;
  private count = 0;
  /** Bytes pushed so far, skipped leading empty lines included. */
  private consumed = 0;
  /** Offset (from startOffset) of the head's first byte, known once the start line begins. */
  private headStart = 0;
  private finished = false;
  private notHttpReason = '';

  constructor(kind: 'request' | 'response', options?: { startOffset?: number; maxHeadBytes?: number }) {
    this.kind = kind;
    this.startOffset = options?.startOffset ?? 0;
    this.maxHeadBytes = options?.maxHeadBytes ?? MAX_HTTP_HEAD_BYTES;
    this.state = kind === 'request' ? LEADING : VERSION;
  }

  get bufferedBytes(): number {
    return this.queue.length;
  }

  push(chunk: Uint8Array): HeadOutcome {
    if (this.finished || chunk.length === 0) return NEED_MORE;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const base = this.consumed;
    let from = this.state === LEADING || this.state === LEADING_CR ? buf.length : 0;
    let i = 0;
    while (i < buf.length) {
      if (base + i >= this.maxHeadBytes) return this.fail(this.tooLarge(base + i));
      if (this.state === IN_LINE) {
        const nl = buf.indexOf(LF, i);
        const last = nl < 0 ? buf.length - 1 : nl;
        if (base + last >= this.maxHeadBytes) return this.fail(this.tooLarge(this.maxHeadBytes));
        if (nl < 0) break;
        i = nl;
      }
      const wasLeading = this.state === LEADING;
      const step = this.step(buf[i]!);
      if (wasLeading && this.state !== LEADING && this.state !== LEADING_CR) {
        from = i;
        this.headStart = base + i;
      }
      if (step === NOT_HTTP) return this.fail(this.notHttp(base + i, buf[i]!));
      i++;
      if (step === HEAD_END) return this.complete(buf, from, i);
    }
    if (from < buf.length) {
      this.queue.push(buf.subarray(from));
      this.queue.keepLent();
    }
    this.consumed = base + buf.length;
    return NEED_MORE;
  }

  end(): Anomaly | null {
    if (this.finished || this.consumed === 0) return null;
    this.finished = true;
    this.queue.clear();
    return {
      offset: this.startOffset + this.consumed,
      code: AnomalyCode.Truncated,
      message: `input ended inside an HTTP ${this.kind} head after ${this.consumed} bytes; nothing after it can be decoded`,
      opaque: true,
    };
  }

  /** Advances the scanner over one byte: GO_ON, HEAD_END, or NOT_HTTP with `notHttpReason` set. */
  private step(b: number): number {
    switch (this.state) {
      case LEADING:
        if (b === CR) this.state = LEADING_CR;
        else if (b !== LF) {
          this.state = METHOD;
          return this.step(b);
        }
        return GO_ON;
      case LEADING_CR:
        if (b !== LF) return this.bad('a CR before the request-line is not followed by LF');
        this.state = LEADING;
        return GO_ON;
      case METHOD:
        return this.method(b);
      case TARGET:
        return this.target(b);
      case VERSION:
        return this.version(b);
      case REQUEST_LINE_END:
        return this.lineEnd(b, 'the HTTP version is not followed by CRLF');
      case VERSION_SP:
        if (b !== SP) return this.bad('the HTTP version is not followed by SP');
        this.state = STATUS;
        this.count = 0;
        return GO_ON;
      case STATUS:
        if (!isDigit(b)) return this.bad('the status code is not 3 digits');
        if (++this.count === 3) this.state = STATUS_END;
        return GO_ON;
      case STATUS_END:
        if (b === SP) {
          this.state = REASON;
          return GO_ON;
        }
        return this.lineEnd(b, 'the status code is not followed by SP or CRLF');
      case REASON:
        // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
        if (b === HTAB || (b >= SP && b !== 0x7f)) return GO_ON;
        return this.lineEnd(b, 'a control byte in the reason phrase');
      case START_LINE_CR:
        if (b !== LF) return this.bad('a CR in the start line is not followed by LF');
        this.state = LINE_START;
        return GO_ON;
      case LINE_START:
        // RFC 9112 §2.2: a bare LF ends a line as well as CRLF; an empty line ends the head.
        if (b === LF) return HEAD_END;
        this.state = b === CR ? BLANK_CR : IN_LINE;
        return GO_ON;
      case BLANK_CR:
        if (b === LF) return HEAD_END;
        this.state = IN_LINE;
        return GO_ON;
      default: // IN_LINE
        if (b === LF) this.state = LINE_START;
        return GO_ON;
    }
  }

  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version; method = token.
  private method(b: number): number {
    if (b === SP && this.count > 0) {
      this.state = TARGET;
      this.count = 0;
      return GO_ON;
    }
    if (TCHAR[b] !== 1) return this.bad('the method is not a token');
    if (++this.count > MAX_METHOD_BYTES) return this.bad(`no SP within the first ${MAX_METHOD_BYTES} bytes`);
    return GO_ON;
  }

  // RFC 9112 §3.2: the request-target holds no whitespace, controls or non-ASCII bytes.
  private target(b: number): number {
    if (b === SP && this.count > 0) {
      this.state = VERSION;
      this.count = 0;
      return GO_ON;
    }
    if (b <= SP || b >= 0x7f) return this.bad('a control, space or non-ASCII byte in the request-target');
    this.count++;
    return GO_ON;
  }

  // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
  private version(b: number): number {
    const i = this.count;
    const ok = i < 5 ? b === HTTP_NAME[i] : i === 6 ? b === 0x2e : isDigit(b);
    if (!ok) return this.bad('no "HTTP/d.d" where the version must be');
    if (++this.count === 8) this.state = this.kind === 'request' ? REQUEST_LINE_END : VERSION_SP;
    return GO_ON;
  }

  private lineEnd(b: number, reason: string): number {
    if (b === CR) this.state = START_LINE_CR;
    else if (b === LF) this.state = LINE_START;
    else return this.bad(reason);
    return GO_ON;
  }

  private bad(reason: string): number {
    this.notHttpReason = reason;
    return NOT_HTTP;
  }

  private complete(buf: Buffer, from: number, endIndex: number): HeadOutcome {
    this.queue.push(buf.subarray(from, endIndex));
    const bytes = this.queue.takeAll();
    this.consumed += endIndex;
    this.finished = true;
    const anomalies: Anomaly[] = [];
    const head = parseHead(this.kind, bytes.toString('latin1'), this.startOffset + this.headStart, anomalies);
    return { kind: 'head', head, rest: buf.subarray(endIndex), anomalies };
  }

  private fail(anomaly: Anomaly): HeadOutcome {
    this.finished = true;
    this.queue.clear();
    return { kind: 'error', anomaly };
  }

  private notHttp(at: number, b: number): Anomaly {
    const hex = b.toString(16).padStart(2, '0');
    return {
      offset: this.startOffset + at,
      code: AnomalyCode.HttpNotHttp,
      message: `byte 0x${hex} cannot be part of an HTTP/1.x ${this.kind} start line (${this.notHttpReason}); the direction is not decoded further`,
      opaque: true,
    };
  }

  private tooLarge(at: number): Anomaly {
    return {
      offset: this.startOffset + at,
      code: AnomalyCode.HttpHeadTooLarge,
      message: `HTTP ${this.kind} head did not end within ${this.maxHeadBytes} bytes; the direction is not decoded further`,
      opaque: true,
    };
  }
}

/** Splits a complete head (validated start line, lines ending in LF) into its fields. */
function parseHead(kind: 'request' | 'response', text: string, offset: number, anomalies: Anomaly[]): HttpHead {
  const firstNl = text.indexOf('\n');
  const startLine = stripCr(text.slice(0, firstNl));
  const head: HttpHead = {
    kind,
    offset,
    length: text.length,
    startLine,
    method: null,
    target: null,
    version: '',
    status: null,
    reason: null,
    headers: [],
  };
  if (kind === 'request') {
    const sp1 = startLine.indexOf(' ');
    const sp2 = startLine.indexOf(' ', sp1 + 1);
    head.method = startLine.slice(0, sp1);
    head.target = startLine.slice(sp1 + 1, sp2);
    head.version = startLine.slice(sp2 + 1);
  } else {
    head.version = startLine.slice(0, 8);
    head.status = Number(startLine.slice(9, 12));
    head.reason = startLine.slice(13);
  }
  parseFieldLines(text, firstNl + 1, head, anomalies);
  return head;
}

function parseFieldLines(text: string, from: number, head: HttpHead, anomalies: Anomaly[]): void {
  const bad = (at: number, message: string): void => {
    anomalies.push({ offset: head.offset + at, code: AnomalyCode.HttpBadHeader, message, opaque: false });
  };
  let lastWasField = false;
  for (let pos = from; pos < text.length; ) {
    const nl = text.indexOf('\n', pos);
    const line = stripCr(text.slice(pos, nl));
    const at = pos;
    pos = nl + 1;
    if (line === '') break;
    const first = line.charCodeAt(0);
    if (first === SP || first === HTAB) {
      // RFC 9112 §5.2: obs-fold is replaced by SP. RFC 9112 §2.2: whitespace before the first
      // field line (or after a skipped one) has nothing to continue and is dropped.
      const last = head.headers[head.headers.length - 1];
      if (!lastWasField || last === undefined) {
        bad(at, 'a line starting with whitespace continues no header field; skipped');
        continue;
      }
      const more = cleanValue(line, at, bad);
      if (more !== '') last[1] = last[1] === '' ? more : `${last[1]} ${more}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) {
      bad(at, 'a header line without a colon; skipped');
      lastWasField = false;
      continue;
    }
    const name = line.slice(0, colon);
    // RFC 9112 §5.1: no whitespace between the field name and the colon; name = token.
    if (name === '' || !isToken(name)) {
      bad(at, `header name ${JSON.stringify(name)} is not a token; line skipped`);
      lastWasField = false;
      continue;
    }
    head.headers.push([name, cleanValue(line.slice(colon + 1), at + colon + 1, bad)]);
    lastWasField = true;
  }
}

/**
 * Trims OWS (SP and HTAB only: String#trim would also eat latin1 0xA0). RFC 9110 §5.5: CR, LF and
 * NUL in a value are replaced by SP; other controls are kept and reported.
 */
function cleanValue(raw: string, at: number, bad: (at: number, message: string) => void): string {
  let value = trimOws(raw);
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
    bad(at, 'a control byte in a header value; NUL and CR are read as SP, others kept');
    value = trimOws(value.replace(/[\x00\r]/g, ' '));
  }
  return value;
}

function isToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++;
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)) b--;
  return s.slice(a, b);
}

/** The value of the first field line named `name` (case-insensitive), or null. */
export function headerValue(head: HttpHead, name: string): string | null {
  const lower = name.toLowerCase();
  for (const [n, v] of head.headers) if (n.toLowerCase() === lower) return v;
  return null;
}

/** The values of every field line named `name` (case-insensitive), in order. */
export function headerValues(head: HttpHead, name: string): string[] {
  const lower = name.toLowerCase();
  const out: string[] = [];
  for (const [n, v] of head.headers) if (n.toLowerCase() === lower) out.push(v);
  return out;
}

/** RFC 9110 §5.6.1 lists: every line named `name` split on commas, trimmed, empties dropped. */
export function headerTokens(head: HttpHead, name: string): string[] {
  const out: string[] = [];
  for (const value of headerValues(head, name)) {
    for (const part of value.split(',')) {
      const token = trimOws(part);
      if (token !== '') out.push(token);
    }
  }
  return out;
}

/** Whether the list header `name` holds `token`, case-insensitively (Connection: upgrade). */
export function hasToken(head: HttpHead, name: string, token: string): boolean {
  const lower = token.toLowerCase();
  return headerTokens(head, name).some((t) => t.toLowerCase() === lower);
}
