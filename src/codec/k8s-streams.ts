/**
 * The remote-command streams shared by the WebSocket channels and SPDY streams
 * (apimachinery remotecommand/constants.go): 0 stdin, 1 stdout, 2 stderr, 3 error (status),
 * 4 resize; over SPDY they are named by the `streamtype` header instead of a number.
 * The status and resize readers here serve both transports.
 */
import type { Direction, K8sStreamName } from '../events/types.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { DecodeContext } from './decode-context.js';
import { JsonObjectStream, terminalSize } from './json-object-stream.js';
import { parseStatusText } from './k8s-status.js';
import { MAX_RESIZE_JSON_BYTES, MAX_STATUS_BYTES } from './limits.js';
import { keep } from './lent-bytes.js';

const NAMES: readonly K8sStreamName[] = ['stdin', 'stdout', 'stderr', 'error', 'resize'];

export function streamName(channel: number): K8sStreamName {
  return NAMES[channel] ?? `channel${channel}`;
}

/** The channel number of a SPDY `streamtype`, or -1 for a name remote-command does not define. */
export function channelOf(streamType: string | null): number {
  return streamType === null ? -1 : NAMES.indexOf(streamType.toLowerCase() as K8sStreamName);
}

/**
 * Collects the error stream and reports it as one `k8s.status`. Over WebSocket v4+ the status
 * is complete once it parses (it may be split over messages); over SPDY, and for text
 * statuses, the caller says when the stream ended.
 */
export class StatusCollector {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private offset = -1;
  private overflowReported = false;
  private readonly shape = new ObjectShape();

  constructor(private readonly ctx: DecodeContext, private readonly jsonExpected: boolean) {}

  get pending(): boolean {
    return this.bytes > 0;
  }

  add(data: Buffer, offset: number): void {
    if (this.offset < 0) this.offset = offset;
    const room = MAX_STATUS_BYTES - this.bytes;
    if (data.length > room && !this.overflowReported) {
      this.overflowReported = true;
      this.ctx.emit({ type: 'decode.anomaly', dir: 's2c', offset, layer: 'channel', code: AnomalyCode.StatusTooLarge, message: `status longer than ${MAX_STATUS_BYTES} bytes; the rest is not kept`, opaque: false });
    }
    if (room > 0) {
      const kept = data.length > room ? data.subarray(0, room) : data;
      this.chunks.push(keep(kept));
      this.bytes += kept.length;
      this.shape.scan(kept);
    }
  }

  /**
   * Reports the status if what was collected is a complete JSON object. Joining and parsing
   * everything collected at every message end would cost the whole status per message, so the
   * text is parsed only when its shape says it can be one object.
   */
  flushIfComplete(): void {
    if (!this.pending || this.shape.state !== SHAPE_CLOSED) return;
    const text = Buffer.concat(this.chunks).toString('utf8');
    const parsed = parseStatusText(text, this.jsonExpected);
    if (parsed.format === 'json') this.report(text);
    else this.shape.state = SHAPE_NEVER;
  }

  /** The stream ended: report whatever was collected. */
  flush(): void {
    if (this.pending) this.report(Buffer.concat(this.chunks).toString('utf8'));
  }

  private report(text: string): void {
    const parsed = parseStatusText(text, this.jsonExpected);
    this.ctx.emit({
      type: 'k8s.status', dir: 's2c', offset: this.offset, format: parsed.format, status: parsed.status, reason: parsed.reason,
      message: parsed.message, code: parsed.code, exitCode: parsed.exitCode, raw: text,
    });
    this.chunks = [];
    this.bytes = 0;
    this.offset = -1;
    this.shape.reset();
  }
}

// What ObjectShape has seen of a text.
const SHAPE_BEFORE = 0; // only JSON whitespace
const SHAPE_OPEN = 1; // inside a value that began with "{"
const SHAPE_CLOSED = 2; // that value closed, then only whitespace: JSON.parse may accept it
const SHAPE_NEVER = 3; // no continuation can parse as one JSON object

/**
 * Tracks, byte by byte, whether a text could be exactly one JSON object (RFC 8259 §2: ws value
 * ws). The value ends at the bracket that brings the depth back to zero, outside strings;
 * after it only whitespace may follow, so once that bracket has been seen either the text
 * parses now or nothing appended will make it parse. The bytes are UTF-8, whose multi-byte
 * sequences never contain an ASCII byte, so scanning bytes finds the same structure as
 * scanning the decoded text.
 */
class ObjectShape {
  state = SHAPE_BEFORE;
  private depth = 0;
  private inString = false;
  private escaped = false;

  scan(data: Buffer): void {
    for (let i = 0; i < data.length && this.state !== SHAPE_NEVER; i++) {
      const b = data[i]!;
      if (this.state === SHAPE_OPEN) {
        this.inside(b);
        continue;
      }
      if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
      if (this.state === SHAPE_BEFORE && b === 0x7b) {
        this.state = SHAPE_OPEN;
        this.depth = 1;
      } else {
        this.state = SHAPE_NEVER;
      }
    }
  }

  reset(): void {
    this.state = SHAPE_BEFORE;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }

  private inside(b: number): void {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (b === 0x5c) this.escaped = true;
      else if (b === 0x22) this.inString = false;
    } else if (b === 0x22) this.inString = true;
    else if (b === 0x7b || b === 0x5b) this.depth++;
    else if ((b === 0x7d || b === 0x5d) && --this.depth === 0) this.state = SHAPE_CLOSED;
  }
}

/** The resize stream: a JSON stream of TerminalSize objects (client-go resize.go). */
export class ResizeReader {
  private readonly json = new JsonObjectStream(MAX_RESIZE_JSON_BYTES);
  private position = 0;
  private base = 0; // byte offset of json position 0

  constructor(private readonly ctx: DecodeContext, private readonly dir: Direction) {}

  push(data: Buffer, offset: number): void {
    if (this.position === 0 && this.base === 0) this.base = offset;
    // Text positions map to byte offsets only for ASCII, which TerminalSize JSON is; the offset
    // of a resize is that of the message carrying its end otherwise.
    const startPos = this.position;
    this.position += data.length;
    for (const item of this.json.push(data.toString('latin1'))) {
      const at = item.start >= startPos ? offset + (item.start - startPos) : offset;
      if (!item.ok) {
        this.anomaly(at, item.message);
        continue;
      }
      const size = terminalSize(item.value);
      if (!size) this.anomaly(at, `not a TerminalSize: ${JSON.stringify(item.value).slice(0, 64)}`);
      else this.ctx.emit({ type: 'k8s.resize', dir: 'c2s', offset: at, width: size.width, height: size.height });
    }
  }

  finish(offset: number): void {
    if (this.json.unfinished) this.anomaly(offset, 'resize stream ended inside a JSON object');
  }

  private anomaly(offset: number, message: string): void {
    this.ctx.emit({ type: 'decode.anomaly', dir: this.dir, offset, layer: 'channel', code: AnomalyCode.ChannelBadResize, message, opaque: false });
  }
}
