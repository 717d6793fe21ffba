/**
 * Decode anomalies: what an observer reports where an endpoint would reject. Each has a stable
 * code (src/events/anomaly-codes.ts, part of the event schema), the byte offset where it was
 * seen, and whether the decoder could resynchronise (`opaque: false`) or stopped reading that
 * direction (`opaque: true`). The relay never depends on any of this: bytes flow on either way.
 */
import type { AnomalyCode } from '../events/anomaly-codes.js';

export interface Anomaly {
  /** Byte offset, in the decoder's own input stream, where the problem was seen. */
  offset: number;
  code: AnomalyCode;
  message: string;
  /** True when the decoder stopped interpreting this direction after the anomaly. */
  opaque: boolean;
}
