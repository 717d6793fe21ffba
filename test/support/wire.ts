/**
 * Builders for hand-made connections: HTTP/1.1 heads, WebSocket frames as a client (masked)
 * and a server (unmasked) write them, k8s channel messages, and SPDY/3.1 sessions with one
 * header compressor per direction, as spdystream keeps them.
 */
import { createHash } from 'node:crypto';
import { SpdyHeaderBlockDeflater, encodeDataFrame, encodeSynReply, encodeSynStream } from '../../src/codec/spdy-encode.js';
import { encodeClosePayload, encodeWsFrame, type WsFrameSpec } from '../../src/codec/websocket-encode.js';
import type { KubewireEvent } from '../../src/events/types.js';
import { frameOf } from '../../src/events/frames.js';

export const POD = '/api/v1/namespaces/default/pods/p1';
export const EXEC_TARGET = `${POD}/exec?command=sh&container=c1&stdin=true&stdout=true&stderr=true`;

export type Headers = [string, string][];

export function head(startLine: string, headers: Headers, body: Buffer | string = ''): Buffer {
  const lines = [startLine, ...headers.map(([n, v]) => `${n}: ${v}`), '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(lines, 'latin1'), Buffer.from(body)]);
}

/** The headers of kubectl's WebSocket upgrade request, offering `protocols` (none when null). */
export function wsRequestHeaders(protocols: string[] | null): Headers {
  const headers: Headers = [
    ['Host', '127.0.0.1:6443'],
    ['User-Agent', 'kubectl/v1.33.0 (linux/amd64) kubernetes/abcdef'],
    ['Connection', 'Upgrade'],
    ['Upgrade', 'websocket'],
    ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
    ['Sec-WebSocket-Version', '13'],
  ];
  if (protocols !== null) headers.push(['Sec-WebSocket-Protocol', protocols.join(', ')]);
  return headers;
}

export function wsRequest(target: string, protocols: string[] | null, extra: Headers = []): Buffer {
  const headers = wsRequestHeaders(protocols);
  return head(`GET ${target} HTTP/1.1`, [...headers, ...extra]);
}

export function wsResponse(protocol: string | null, extra: Headers = []): Buffer {
  const headers: Headers = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='],
  ];
  if (protocol !== null) headers.push(['Sec-WebSocket-Protocol', protocol]);
  return head('HTTP/1.1 101 Switching Protocols', [...headers, ...extra]);
}

export function spdyRequest(target: string, versions: string[], extra: Headers = []): Buffer {
  return head(`POST ${target} HTTP/1.1`, [
    ['Host', '127.0.0.1:6443'],
    ['User-Agent', 'kubectl/v1.27.0 (linux/amd64) kubernetes/abcdef'],
    ['Content-Length', '0'],
    ['Connection', 'Upgrade'],
    ['Upgrade', 'SPDY/3.1'],
    ...versions.map((v): [string, string] => ['X-Stream-Protocol-Version', v]),
    ...extra,
  ]);
}

export function spdyResponse(version: string | null): Buffer {
  const headers: Headers = [['Connection', 'Upgrade'], ['Upgrade', 'SPDY/3.1']];
  if (version !== null) headers.push(['X-Stream-Protocol-Version', version]);
  headers.push(['Date', 'Fri, 21 Nov 2025 10:00:00 GMT']);
  return head('HTTP/1.1 101 Switching Protocols', headers);
}

const bytes = (p: Uint8Array | string | number[]): Buffer => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p));

let maskCounter = 0;
/** A deterministic, varying mask key, so masking is really exercised. */
function nextMask(): Buffer {
  maskCounter = (maskCounter + 1) & 0xff;
  return Buffer.from([0x37 ^ maskCounter, 0xfa, 0x21 ^ maskCounter, 0x3d]);
}

/** A frame as a client writes it (masked). */
export function cframe(opcode: number, payload: Uint8Array | string | number[] = [], spec: Partial<WsFrameSpec> = {}): Buffer {
  return encodeWsFrame({ opcode, payload: bytes(payload), mask: nextMask(), ...spec });
}

/** A frame as a server writes it (unmasked). */
export function sframe(opcode: number, payload: Uint8Array | string | number[] = [], spec: Partial<WsFrameSpec> = {}): Buffer {
  return encodeWsFrame({ opcode, payload: bytes(payload), ...spec });
}

/** `[channel][payload]`. */
export function chan(channel: number, payload: Uint8Array | string | number[] = []): Buffer {
  return Buffer.concat([Buffer.from([channel]), bytes(payload)]);
}

/** base64 channel protocols: `'0'+channel` then base64 of the payload. */
export function chan64(channel: number, payload: Uint8Array | string | number[] = []): Buffer {
  return Buffer.from(String.fromCharCode(0x30 + channel) + bytes(payload).toString('base64'), 'latin1');
}

export const closePayload = encodeClosePayload;

export const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** One direction of a SPDY session: its own header compressor, as spdystream keeps one per side. */
export class SpdyWriter {
  private readonly deflater = new SpdyHeaderBlockDeflater();

  syn(streamId: number, headers: [string, string][], fin = false): Buffer {
    return encodeSynStream({ streamId, headerBlock: this.deflater.deflate(headers), fin });
  }

  reply(streamId: number, headers: [string, string][] = [], fin = false): Buffer {
    return encodeSynReply({ streamId, headerBlock: this.deflater.deflate(headers), fin });
  }

  block(headers: [string, string][]): Buffer {
    return this.deflater.deflate(headers);
  }

  data(streamId: number, payload: Uint8Array | string = '', fin = false): Buffer {
    return encodeDataFrame(streamId, bytes(payload), fin);
  }
}

/** The status JSON a kubelet writes for an exit code (protocol.md A §1.4). */
export function exitStatusJson(code: number): string {
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [sh -c exit ${code}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  });
}

export const SUCCESS_JSON = '{"metadata":{},"status":"Success"}';

export { ofType, type EventOf } from './events-of.js';
import { ofType, type EventOf } from './events-of.js';

export function anomalies(events: KubewireEvent[], code?: string): EventOf<'decode.anomaly'>[] {
  return ofType(events, 'decode.anomaly').filter((e) => code === undefined || e.code === code);
}

/** The payload bytes of an event that recorded them in full. */
export function payloadOf(e: { payload?: string }): Buffer {
  return Buffer.from(e.payload ?? '', 'base64');
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * One short line per event, for asserting on the shape of a whole log:
 * `ws.frame s2c binary`, `k8s.data s2c stdout 3`, `spdy.frame c2s SYN_STREAM 1`, …. A frame
 * folded into its data event (schema version 2) gets its own line before the data's, so the
 * outline reads frame by frame either way; `folds` counts them.
 */
export function outline(events: KubewireEvent[]): string[] {
  return events.flatMap((e) => {
    const folded = e.type === 'ws.frame' || e.type === 'spdy.frame' ? null : frameOf(e);
    return folded === null ? [line(e)] : [line(folded), line(e)];
  });
}

/** How many events carry a folded frame. */
export function folds(events: KubewireEvent[]): number {
  return events.filter((e) => e.type !== 'ws.frame' && e.type !== 'spdy.frame' && frameOf(e) !== null).length;
}

function line(e: KubewireEvent): string {
  switch (e.type) {
    case 'ws.frame':
      return `ws.frame ${e.dir} ${e.kind}`;
    case 'k8s.data':
      return `k8s.data ${e.dir} ${e.stream} ${e.size}${e.initial ? ' initial' : ''}`;
    case 'spdy.frame':
      return `spdy.frame ${e.dir} ${e.frame}${e.streamId !== undefined ? ` ${e.streamId}` : ''}${e.fin ? ' fin' : ''}`;
    case 'spdy.stream':
      return `spdy.stream ${e.dir} ${e.streamId} ${e.state}`;
    case 'decode.anomaly':
      return `decode.anomaly ${e.dir ?? ''} ${e.code}`;
    case 'conn.summary':
      return 'conn.summary';
    case 'decode.stack':
      return `decode.stack ${e.semantics}`;
    default:
      return `${e.type} ${'dir' in e ? e.dir : ''}`.trim();
  }
}

/** One direction being written: `add` returns the offset its first byte lands at. */
export class Wire {
  private readonly parts: Buffer[] = [];
  length = 0;

  add(...bufs: Buffer[]): number {
    const at = this.length;
    for (const b of bufs) {
      this.parts.push(b);
      this.length += b.length;
    }
    return at;
  }

  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}
