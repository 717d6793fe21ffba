/**
 * One probe connection: raw request bytes written over upstream.connect(), the answer read back
 * (bounded in size and time), and both directions decoded and diagnosed with the same rules the
 * proxy uses.
 */
import type { Duplex } from 'node:stream';
import { ConnectionDecoder } from '../codec/connection-decoder.js';
import type { DecodedEvent } from '../codec/decode-context.js';
import { diagnoseEvents, type DiagnosedFinding } from '../diagnose/engine.js';
import { EventStamper, timestampMicros } from '../events/stamp.js';
import type { KubewireEvent } from '../events/types.js';
import type { Upstream } from '../proxy/upstream.js';

export const ANSWER_TIMEOUT_MS = 10_000;
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface ParsedAnswer {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: string;
}

/** Time-stamped chunks of one direction. */
export interface Chunk {
  at: number;
  bytes: Buffer;
}

export interface Transcript {
  c2s: Chunk[];
  s2c: Chunk[];
  /** When the server closed its side (ms since epoch), if it did. */
  s2cEnded: number | null;
}

/** Splits an HTTP/1.1 response head (and the body that followed, as far as it was read). */
export function parseAnswer(bytes: Buffer): ParsedAnswer | null {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})\s*(.*)$/.exec(lines[0] ?? '');
  if (!m) return null;
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = bytes.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status: Number(m[1]), reason: m[2] ?? '', headers, body: body.toString('utf8') };
}

function dechunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    const nl = b.indexOf('\r\n', i);
    if (nl < 0) break;
    const size = parseInt(b.subarray(i, nl).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(b.subarray(nl + 2, nl + 2 + size));
    i = nl + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** True once the bytes hold a whole answer: a 101 head, or a head with its whole body. */
function answerComplete(bytes: Buffer): boolean {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = bytes.subarray(0, end).toString('latin1');
  if (/^HTTP\/\S+\s+101/.test(head)) return true;
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) return bytes.length - end - 4 >= Number(cl[1]);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) return bytes.includes('\r\n0\r\n\r\n', end) || bytes.subarray(end + 4).indexOf('0\r\n\r\n') === 0;
  return false;
}

/**
 * Writes `request` and reads the answer: until it is complete, the server closes, `maxBytes`
 * arrived or `timeoutMs` passed. The socket is destroyed afterwards.
 */
export async function exchange(upstream: Upstream, request: (headers: Record<string, string>) => Buffer, timeoutMs = ANSWER_TIMEOUT_MS, maxBytes = MAX_ANSWER_BYTES): Promise<Transcript & { error: string | null }> {
  const t: Transcript & { error: string | null } = { c2s: [], s2c: [], s2cEnded: null, error: null };
  let socket: Duplex;
  let options: Awaited<ReturnType<Upstream['connectionOptions']>>;
  try {
    options = await upstream.connectionOptions();
    socket = await upstream.connect(options);
  } catch (e) {
    t.error = (e as Error).message;
    return t;
  }
  const bytes = request(options.headers);
  await new Promise<void>((resolve) => {
    let received = Buffer.alloc(0);
    const done = (): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(() => {
      t.error = `no complete answer within ${timeoutMs / 1000} s`;
      done();
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      t.s2c.push({ at: Date.now(), bytes: chunk });
      received = Buffer.concat([received, chunk]);
      if (received.length >= maxBytes || answerComplete(received)) done();
    });
    socket.on('end', () => {
      t.s2cEnded = Date.now();
      done();
    });
    socket.on('close', () => {
      t.s2cEnded ??= Date.now();
      done();
    });
    socket.on('error', (e) => {
      t.error = e.message;
      done();
    });
    t.c2s.push({ at: Date.now(), bytes });
    socket.write(bytes);
  });
  return t;
}

export interface Diagnosed {
  events: KubewireEvent[];
  findings: DiagnosedFinding[];
}

/**
 * Decodes a transcript (the client's bytes first, then the server's, as a capture is decoded),
 * stamps the events with the session and connection of the check, and runs the rules.
 */
/** `serverVersion`: what the doctor's `/version` said (`v1.33`), for the rules that depend on it. */
export function diagnoseTranscript(t: Transcript, session: string, conn: string, serverVersion: string | null = null): Diagnosed {
  const events: KubewireEvent[] = [];
  const stamper = new EventStamper();
  let now = t.c2s[0]?.at ?? Date.now();
  const decoder = new ConnectionDecoder((e: DecodedEvent) => {
    events.push(stamper.stamp(e.body, e.note, { ts: timestampMicros(now), session, conn }));
  }, { payload: 'head' });
  // In the order they crossed the wire (the client's first on a tie); the decoder holds the
  // client's bytes after an upgrade request until the answer arrives.
  const all = [...t.c2s.map((c) => ({ dir: 'c2s' as const, c })), ...t.s2c.map((c) => ({ dir: 's2c' as const, c }))];
  all.sort((a, b) => a.c.at - b.c.at || (a.dir === b.dir ? 0 : a.dir === 'c2s' ? -1 : 1));
  for (const { dir, c } of all) {
    now = c.at;
    decoder.push(dir, c.bytes);
  }
  now = t.s2cEnded ?? now;
  decoder.end('s2c');
  decoder.end('c2s');
  return { events, findings: diagnoseEvents(events, { serverVersion }) };
}
