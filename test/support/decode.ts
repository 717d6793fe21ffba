/** Whole-connection decoding for the codec tests, and key-sorted copies of JSON values to compare. */
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import type { ConnectionDecoderOptions } from '../../src/codec/connection-decoder.js';
import { EventStamper } from '../../src/events/stamp.js';
import type { ConnectionSummary, KubewireEvent } from '../../src/events/types.js';

export function decodeAll(
  c2s: Iterable<Uint8Array>,
  s2c: Iterable<Uint8Array>,
  options: ConnectionDecoderOptions = {},
): { events: KubewireEvent[]; summary: ConnectionSummary } {
  const stamper = new EventStamper();
  const events: KubewireEvent[] = [];
  const summary = decodeCaptureSync(c2s, s2c, ({ body, note }) => events.push(stamper.stamp(body, note)), options);
  return { events, summary };
}

/** `v` with the keys of every object sorted, so its JSON does not depend on key order. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}
