/**
 * Decoding a captured connection: one byte source per direction (two files from Wireshark's
 * "Follow TCP stream", tcpflow, or the vectors). Captures carry no timing between directions,
 * so the client's bytes are decoded first and the server's after them; the connection decoder
 * holds the client's post-upgrade bytes until the server's answer says how to read them. The
 * events are therefore the same however the sources were cut into chunks.
 *
 * One side alone (`null` for the other) decodes what that side holds: the server's alone, its
 * answers and frames; the client's alone, its requests and, after an upgrade request, its
 * frames as if the server had accepted its first offer (the decode.stack reason says so).
 */
import type { ConnectionSummary } from '../events/types.js';
import { ConnectionDecoder, type ConnectionDecoderOptions } from './connection-decoder.js';
import type { DecodedEvent } from './decode-context.js';

export type ChunkSource = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export async function decodeCapture(
  c2s: ChunkSource | null,
  s2c: ChunkSource | null,
  onEvent: (event: DecodedEvent) => void,
  options: ConnectionDecoderOptions = {},
): Promise<ConnectionSummary> {
  const decoder = new ConnectionDecoder(onEvent, options);
  for await (const chunk of c2s ?? []) decoder.push('c2s', chunk);
  decoder.end('c2s');
  if (s2c === null) decoder.assumeUpgradeAccepted();
  for await (const chunk of s2c ?? []) decoder.push('s2c', chunk);
  decoder.end('s2c');
  return decoder.summary();
}

/** The same, for sources already in memory; used by tests and the benchmark. */
export function decodeCaptureSync(
  c2s: Iterable<Uint8Array> | null,
  s2c: Iterable<Uint8Array> | null,
  onEvent: (event: DecodedEvent) => void,
  options: ConnectionDecoderOptions = {},
): ConnectionSummary {
  const decoder = new ConnectionDecoder(onEvent, options);
  for (const chunk of c2s ?? []) decoder.push('c2s', chunk);
  decoder.end('c2s');
  if (s2c === null) decoder.assumeUpgradeAccepted();
  for (const chunk of s2c ?? []) decoder.push('s2c', chunk);
  decoder.end('s2c');
  return decoder.summary();
}
