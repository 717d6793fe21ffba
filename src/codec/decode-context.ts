/**
 * What every decoder layer of one connection shares: the place events go, the payload
 * recording mode, and the note that goes with each event. Layers build event bodies; this
 * fills `note` and the payload fields in one place so the rules are the same everywhere.
 */
import type { ConnEndEvent, Direction, EventBody, PayloadFields } from '../events/types.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import { noteFor } from '../events/notes.js';

export type PayloadMode = 'full' | 'head' | 'none';

/** With `--payload head`, the first this-many bytes of each payload are recorded. */
export const PAYLOAD_HEAD_BYTES = 256;

export interface DecodedEvent {
  body: EventBody;
  note: string;
  /** The payload as it crossed the wire, for consumers inside the process (summary, audit). */
  raw?: Buffer;
}

export type DecodedEventListener = (event: DecodedEvent) => void;

export type CutOff = NonNullable<ConnEndEvent['cutOff']>;

export class DecodeContext {
  private readonly cutOffs: Partial<Record<Direction, CutOff>> = {};

  constructor(
    private readonly listener: DecodedEventListener,
    readonly payloadMode: PayloadMode = 'full',
    private readonly headBytes: number = PAYLOAD_HEAD_BYTES,
  ) {}

  emit(body: EventBody, raw?: Buffer): void {
    // A direction that ends inside a frame or head is how a peer that exits looks (kubectl
    // writes a frame header and its payload separately and may die between them): the bytes
    // were not wrong, so it is reported on that direction's conn.end, not as an anomaly.
    if (body.type === 'decode.anomaly' && body.code === AnomalyCode.Truncated && body.dir) {
      this.cutOffs[body.dir] ??= { offset: body.offset ?? 0, layer: body.layer, message: body.message, ...(body.tunnel ? { tunnel: true } : {}) };
      return;
    }
    const event: DecodedEvent = { body, note: noteFor(body, raw) };
    if (raw) event.raw = raw;
    this.listener(event);
  }

  /** Where a direction's bytes stopped inside a unit, if they did. */
  cutOff(dir: Direction): CutOff | undefined {
    return this.cutOffs[dir];
  }

  /** The recorded payload fields of `raw` under the current mode. */
  payload(raw: Uint8Array): PayloadFields {
    const size = raw.length;
    switch (this.payloadMode) {
      case 'full':
        return { size, payload: Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('base64') };
      case 'head': {
        const kept = Math.min(size, this.headBytes);
        const fields: PayloadFields = { size, payload: Buffer.from(raw.buffer, raw.byteOffset, kept).toString('base64') };
        if (kept < size) fields.truncated = true;
        return fields;
      }
      case 'none':
        return size === 0 ? { size } : { size, truncated: true };
    }
  }
}
