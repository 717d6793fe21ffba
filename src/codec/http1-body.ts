/**
 * HTTP/1.1 message bodies: which framing a head announces (RFC 9112 §6.3) and a decoder that
 * removes it as bytes arrive.
 *
 * Body bytes are handed out in the push that brought them, as views of the pushed chunk; the
 * decoder holds only an unfinished chunk-size or trailer line (at most MAX_CHUNK_LINE_BYTES).
 * Bytes after the body's end come back as `rest`.
 *
 *   35 3b 78 3d 31 0d 0a 68 65 6c 6c 6f 0d 0a   "5;x=1\r\n" "hello" "\r\n"
 *   30 0d 0a 54 3a 20 31 0d 0a 0d 0a 47 45 ...  "0\r\n" "T: 1\r\n" "\r\n" then the next message
 *   → data "hello", done, rest 47 45 ...
 */
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { Anomaly } from './anomaly.js';
import { ByteQueue } from './byte-queue.js';
import { headerTokens, type HttpHead } from './http1-head.js';

export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'until-close' };

/** `data`: body bytes from this push, framing removed. `rest`: bytes after the body (only when done). */
export type BodyOutcome = { data: Buffer[]; done: boolean; rest: Buffer; anomalies: Anomaly[] };

/** A chunk-size line (with extensions) or trailer line longer than this is not chunked coding. */
const MAX_CHUNK_LINE_BYTES = 4 * 1024;
const MAX_CHUNK_SIZE = 2n ** 53n;

/**
 * RFC 9112 §6.3 for a request: chunked when Transfer-Encoding ends in chunked, else
 * Content-Length, else no body. A Transfer-Encoding that does not end in chunked (rule 4), one in
 * an HTTP/1.0 message (§6.1), or an invalid Content-Length (rule 5) leaves the length unknowable:
 * the server must answer 400 and close, so the rest of the direction is read as body.
 */
export function requestBodyFraming(head: HttpHead): BodyFraming {
  const framing = transferFraming(head);
  if (framing !== null) return framing.kind === 'chunked' ? framing : { kind: 'until-close' };
  return contentLengthFraming(head) ?? { kind: 'none' };
}

/**
 * RFC 9112 §6.3 for a response: no body for a HEAD request, 1xx, 204, 304 (rule 1) or a 2xx to
 * CONNECT (rule 2, the connection becomes a tunnel); then chunked, Content-Length, else the body
 * runs until the server closes (rule 8).
 */
export function responseBodyFraming(head: HttpHead, requestMethod: string | null): BodyFraming {
  const status = head.status ?? 0;
  if (requestMethod === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304) {
    return { kind: 'none' };
  }
  if (requestMethod === 'CONNECT' && status >= 200 && status < 300) return { kind: 'none' };
  const framing = transferFraming(head);
  if (framing !== null) return framing;
  return contentLengthFraming(head) ?? { kind: 'until-close' };
}

/** Framing from Transfer-Encoding, or null when there is none. */
function transferFraming(head: HttpHead): BodyFraming | null {
  const codings = headerTokens(head, 'transfer-encoding');
  const last = codings[codings.length - 1];
  if (last === undefined) return null;
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty.
  if (head.version === 'HTTP/1.0') return { kind: 'until-close' };
  const coding = last.split(';')[0]!.trim().toLowerCase();
  return coding === 'chunked' ? { kind: 'chunked' } : { kind: 'until-close' };
}

/**
 * RFC 9110 §8.6: Content-Length = 1*DIGIT; a list of identical values is that value. Returns
 * null without the header and until-close when it is invalid (RFC 9112 §6.3 rule 5).
 */
function contentLengthFraming(head: HttpHead): BodyFraming | null {
  const values = headerTokens(head, 'content-length');
  if (values.length === 0) return null;
  const first = values[0]!;
  if (!/^[0-9]+$/.test(first) || values.some((v) => v !== first)) return { kind: 'until-close' };
  const length = Number(first);
  return Number.isSafeInteger(length) ? { kind: 'length', length } : { kind: 'until-close' };
}

// Chunked decoder states (RFC 9112 §7.1).
const SIZE_LINE = 0;
const DATA = 1;
const DATA_CR = 2;
const DATA_LF = 3;
const TRAILER_LINE = 4;

const CR = 0x0d;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

export class HttpBodyDecoder {
  private readonly framing: BodyFraming;
  private readonly startOffset: number;
  /** Input bytes before the current push. */
  private consumed = 0;
  private decoded = 0;
  /** Bytes left in a Content-Length body or in the current chunk. */
  private remaining = 0;
  private state = SIZE_LINE;
  private readonly line = new ByteQueue();
  private lineOffset = 0;
  private finished: boolean;
  private stopped = false;
  private ended = false;

  constructor(framing: BodyFraming, options?: { startOffset?: number }) {
    this.framing = framing;
    this.startOffset = options?.startOffset ?? 0;
    if (framing.kind === 'length') this.remaining = framing.length;
    this.finished = framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0);
  }

  get done(): boolean {
    return this.finished;
  }

  get bytesDecoded(): number {
    return this.decoded;
  }

  push(chunk: Uint8Array): BodyOutcome {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const out: BodyOutcome = { data: [], done: this.finished, rest: EMPTY, anomalies: [] };
    if (this.finished) {
      out.rest = buf;
      return out;
    }
    if (this.stopped || this.ended || buf.length === 0) return out;
    let used = buf.length;
    switch (this.framing.kind) {
      case 'until-close':
        this.emit(buf, out);
        break;
      case 'length':
        used = Math.min(this.remaining, buf.length);
        this.emit(buf.subarray(0, used), out);
        this.remaining -= used;
        this.finished = this.remaining === 0;
        break;
      case 'chunked':
        used = this.pushChunked(buf, out);
        break;
    }
    this.consumed += used;
    out.done = this.finished;
    if (this.finished) out.rest = buf.subarray(used);
    return out;
  }

  /** Input ended. A Content-Length or chunked body that is not complete is truncated. */
  end(): Anomaly | null {
    if (this.ended) return null;
    this.ended = true;
    if (this.finished || this.stopped) return null;
    if (this.framing.kind === 'until-close') {
      this.finished = true;
      return null;
    }
    const where =
      this.framing.kind === 'length'
        ? `${this.remaining} of ${this.framing.length} Content-Length bytes missing`
        : `inside a chunked body after ${this.decoded} data bytes`;
    return {
      offset: this.startOffset + this.consumed,
      code: AnomalyCode.Truncated,
      message: `input ended ${where}`,
      opaque: true,
    };
  }

  private emit(data: Buffer, out: BodyOutcome): void {
    if (data.length === 0) return;
    out.data.push(data);
    this.decoded += data.length;
  }

  /** Returns how many bytes of `buf` belong to the body. */
  private pushChunked(buf: Buffer, out: BodyOutcome): number {
    let i = 0;
    while (i < buf.length && !this.finished && !this.stopped) {
      switch (this.state) {
        case DATA: {
          const take = Math.min(this.remaining, buf.length - i);
          this.emit(buf.subarray(i, i + take), out);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = DATA_CR;
          break;
        }
        case DATA_CR:
        case DATA_LF:
          this.dataEnd(buf[i]!, i, out);
          i++;
          break;
        default:
          i = this.readLine(buf, i, out);
      }
    }
    return i;
  }

  // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (a bare LF is tolerated).
  private dataEnd(b: number, i: number, out: BodyOutcome): void {
    if (b === LF) this.state = SIZE_LINE;
    else if (b === CR && this.state === DATA_CR) this.state = DATA_LF;
    else this.stop(out, this.consumed + i, 'chunk data is not followed by CRLF');
  }

  /** Collects a size or trailer line; holds a partial line by copy so no chunk stays referenced. */
  private readLine(buf: Buffer, i: number, out: BodyOutcome): number {
    if (this.line.length === 0) this.lineOffset = this.consumed + i;
    const nl = buf.indexOf(LF, i);
    const end = nl < 0 ? buf.length : nl;
    if (this.line.length + (end - i) > MAX_CHUNK_LINE_BYTES) {
      const what = this.state === SIZE_LINE ? 'chunk-size line' : 'trailer line';
      this.stop(out, this.lineOffset + MAX_CHUNK_LINE_BYTES, `${what} longer than ${MAX_CHUNK_LINE_BYTES} bytes`);
      return end;
    }
    if (nl < 0) {
      this.line.push(Buffer.from(buf.subarray(i)));
      return buf.length;
    }
    this.line.push(buf.subarray(i, nl));
    let text = this.line.takeAll().toString('latin1');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (this.state === SIZE_LINE) this.sizeLine(text, out);
    else this.trailerLine(text, out);
    return nl + 1;
  }

  // RFC 9112 §7.1: chunk-size = 1*HEXDIG, then chunk-ext = *( BWS ";" BWS ext-name [ "=" ext-val ] ).
  // Extensions are ignored (§7.1.1); the last-chunk has size 0 and is followed by trailers.
  private sizeLine(text: string, out: BodyOutcome): void {
    const semi = text.indexOf(';');
    const size = (semi < 0 ? text : text.slice(0, semi)).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!/^[0-9a-fA-F]+$/.test(size)) {
      this.stop(out, this.lineOffset, `chunk size ${JSON.stringify(size.slice(0, 40))} is not hexadecimal`);
      return;
    }
    const n = BigInt(`0x${size}`);
    if (n > MAX_CHUNK_SIZE) {
      this.stop(out, this.lineOffset, `chunk size 0x${size} is beyond 2^53`);
      return;
    }
    this.remaining = Number(n);
    this.state = this.remaining === 0 ? TRAILER_LINE : DATA;
  }

  // RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), ended by an empty line.
  private trailerLine(text: string, out: BodyOutcome): void {
    if (text === '') {
      this.finished = true;
      return;
    }
    if (!text.includes(':') && !/^[ \t]/.test(text)) {
      out.anomalies.push({
        offset: this.startOffset + this.lineOffset,
        code: AnomalyCode.HttpBadHeader,
        message: 'a trailer line without a colon; skipped',
        opaque: false,
      });
    }
  }

  private stop(out: BodyOutcome, at: number, message: string): void {
    this.stopped = true;
    this.line.clear();
    out.anomalies.push({
      offset: this.startOffset + at,
      code: AnomalyCode.HttpBadChunk,
      message: `${message}; the body is not decoded further`,
      opaque: true,
    });
  }
}
