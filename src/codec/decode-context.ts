/**
 * What every decoder layer of one connection shares: the place events go, the payload
 * recording mode, and the note that goes with each event. Layers build event bodies; this
 * fills `note` and the payload fields in one place so the rules are the same everywhere.
 *
 * It also folds plain data frames (schema version 2, types.ts): a frame layer hands a plain
 * data frame to `holdFrame` instead of `emit`, and the first data event of the same direction
 * and layer takes its facts (`wsFrame`, `spdyFrame`). Any other event, the frame's end or the
 * next frame emits the held frame on its own first, so events keep their order, and a frame
 * whose payload yields no data (an empty continuation, DATA on an unknown stream) is still
 * reported. That halves the events of bulk traffic: one per frame instead of two.
 */
import type { ConnEndEvent, Direction, EventBody, PayloadFields, SpdyFrameEvent, WsFrameEvent } from '../events/types.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import { noteFor } from '../events/notes.js';
import { MAX_PREVIEW_BYTES as PREVIEW_BYTES } from '../events/preview.js';
import { PayloadBytes } from './payload-bytes.js';

export type PayloadMode = 'full' | 'head' | 'none';

/** With `--payload head`, the first this-many bytes of each payload are recorded. */
export const PAYLOAD_HEAD_BYTES = 256;

export interface DecodedEvent {
  readonly body: EventBody;
  readonly note: string;
  /** The payload as it crossed the wire, for consumers inside the process (summary, audit). */
  readonly raw?: Buffer;
}

/**
 * Note and raw bytes are built when first read, then kept: a listener that only counts or
 * forwards bodies (the benchmark, a consumer that wants no note) never pays for them.
 */
class LazyDecodedEvent implements DecodedEvent {
  private noteText: string | undefined;

  constructor(readonly body: EventBody, private readonly bytes: PayloadBytes | undefined, private readonly preview: boolean) {}

  get note(): string {
    // A note previews at most the first 32 bytes (preview.ts): one more tells it there are more.
    this.noteText ??= noteFor(this.body, this.preview ? this.bytes?.head(PREVIEW_BYTES + 1) : undefined);
    return this.noteText;
  }

  get raw(): Buffer | undefined {
    return this.bytes?.all();
  }
}

export type DecodedEventListener = (event: DecodedEvent) => void;

export type CutOff = NonNullable<ConnEndEvent['cutOff']>;

export class DecodeContext {
  private readonly cutOffs: Partial<Record<Direction, CutOff>> = {};
  private held: WsFrameEvent | SpdyFrameEvent | null = null;

  constructor(
    private readonly listener: DecodedEventListener,
    readonly payloadMode: PayloadMode = 'full',
    private readonly headBytes: number = PAYLOAD_HEAD_BYTES,
  ) {}

  emit(body: EventBody, raw?: Buffer | PayloadBytes): void {
    // A direction that ends inside a frame or head is how a peer that exits looks (kubectl
    // writes a frame header and its payload separately and may die between them): the bytes
    // were not wrong, so it is reported on that direction's conn.end, not as an anomaly.
    if (body.type === 'decode.anomaly' && body.code === AnomalyCode.Truncated && body.dir) {
      this.cutOffs[body.dir] ??= { offset: body.offset ?? 0, layer: body.layer, message: body.message, ...(body.tunnel ? { tunnel: true } : {}) };
      return;
    }
    const held = this.held;
    if (held !== null) {
      this.held = null;
      if (!foldInto(held, body)) this.deliver(held);
    }
    this.deliver(body, raw);
  }

  /** A plain data frame (see the module note): reported with its first data event, or alone. */
  holdFrame(frame: WsFrameEvent | SpdyFrameEvent): void {
    this.flushFrame();
    this.held = frame;
  }

  /** The frame ended (or its direction did): a held frame that took no data is reported now. */
  flushFrame(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    this.deliver(held);
  }

  private deliver(body: EventBody, raw?: Buffer | PayloadBytes): void {
    // `--payload none` records sizes only: a note that previewed the bytes would record them.
    this.listener(new LazyDecodedEvent(body, raw === undefined || raw instanceof PayloadBytes ? raw : PayloadBytes.of(raw), this.payloadMode !== 'none'));
  }

  /** Where a direction's bytes stopped inside a unit, if they did. */
  cutOff(dir: Direction): CutOff | undefined {
    return this.cutOffs[dir];
  }

  /** The recorded payload fields of `raw` under the current mode; reads only what it records. */
  payload(raw: Uint8Array | PayloadBytes): PayloadFields {
    return this.withPayload({}, raw);
  }

  /**
   * `body` with the payload fields of `raw` set on it, in the order `payload` gives them. Data
   * events are built this way rather than by spreading `payload(raw)` into them: a spread of an
   * object whose keys depend on the mode cost three times the rest of building the event.
   */
  withPayload<B extends object>(body: B, raw: Uint8Array | PayloadBytes): B & PayloadFields {
    const b = body as B & PayloadFields;
    const size = raw.length;
    b.size = size;
    switch (this.payloadMode) {
      case 'full':
        b.payload = base64Of(raw, size);
        break;
      case 'head': {
        const kept = Math.min(size, this.headBytes);
        b.payload = base64Of(raw, kept);
        if (kept < size) b.truncated = true;
        break;
      }
      case 'none':
        if (size !== 0) b.truncated = true;
        break;
    }
    return b;
  }
}

/**
 * Folds `frame` into `body` when `body` is data of the layer right above that frame: same
 * direction, and for SPDY the same side of the tunnel. A WebSocket frame never folds into
 * tunnel data, whose offsets count the joined SPDY stream instead.
 */
function foldInto(frame: WsFrameEvent | SpdyFrameEvent, body: EventBody): boolean {
  if (body.type !== 'k8s.data' && body.type !== 'pf.data' && body.type !== 'ws.data') return false;
  if (body.dir !== frame.dir) return false;
  const tunnel = body.type === 'pf.data' && body.tunnel === true;
  if (frame.type === 'ws.frame') {
    if (tunnel) return false;
    body.wsFrame = { offset: frame.offset, opcode: frame.opcode as 1 | 2, length: frame.length };
    return true;
  }
  if (tunnel !== (frame.tunnel === true)) return false;
  body.spdyFrame = { offset: frame.offset, length: frame.length, fin: frame.fin, streamId: frame.streamId!, streamType: frame.streamType ?? null };
  return true;
}

/** Base64 of the first `n` bytes of `raw`. */
function base64Of(raw: Uint8Array | PayloadBytes, n: number): string {
  if (raw instanceof PayloadBytes) return raw.base64(n);
  return Buffer.from(raw.buffer, raw.byteOffset, n).toString('base64');
}
