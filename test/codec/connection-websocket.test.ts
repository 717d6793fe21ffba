/**
 * Whole WebSocket exec/attach connections built by hand (protocol.md A §1): request head, 101,
 * then frames both ways, decoded by the connection decoder. Each connection is also fed split at
 * every byte offset and one byte at a time, and must give the same events.
 */
import { describe, expect, it } from 'vitest';
import { PAYLOAD_SEGMENT_BYTES } from '../../src/codec/limits.js';
import { expectChunkingInvariant } from '../support/chunking.js';
import { decodeAll } from '../support/decode.js';
import { randomChunks } from '../support/split.js';
import {
  EXEC_TARGET,
  OP,
  SUCCESS_JSON,
  Wire,
  anomalies,
  chan,
  chan64,
  cframe,
  closePayload,
  exitStatusJson,
  ofType,
  outline,
  payloadOf,
  sframe,
  sha256,
  wsRequest,
  wsResponse,
} from '../support/wire.js';

const V5 = 'v5.channel.k8s.io';
const V4 = 'v4.channel.k8s.io';

/** A WebSocket exec connection: both heads written, frames added by the test. */
function wsExec(protocol: string | null, offered: string[] | null = protocol === null ? null : [protocol], target = EXEC_TARGET) {
  const c = new Wire();
  const s = new Wire();
  c.add(wsRequest(target, offered));
  s.add(wsResponse(protocol));
  return { c, s };
}

const digest = (text: string | Buffer) => ({ bytes: Buffer.byteLength(text), sha256: sha256(Buffer.from(text)) });

describe('v5.channel.k8s.io exec', () => {
  it('decodes stdin, stdout, stderr, the close signal, the status and the close frame', () => {
    const { c, s } = wsExec(V5);
    const stdinAt = c.add(cframe(OP.binary, chan(0, 'echo hi\n')));
    const closeAt = c.add(cframe(OP.binary, [0xff, 0x00]));
    const initialAt = s.add(sframe(OP.binary, [0x01]));
    const stdoutAt = s.add(sframe(OP.binary, chan(1, 'hi\n')));
    s.add(sframe(OP.binary, chan(2, 'warning\n')));
    const statusAt = s.add(sframe(OP.binary, chan(3, SUCCESS_JSON)));
    const serverCloseAt = s.add(sframe(OP.close, closePayload(1000)));

    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);

    expect(outline(events)).toEqual([
      'upgrade.request c2s',
      'upgrade.response s2c',
      'decode.stack channel-v5',
      'ws.frame c2s binary',
      'k8s.data c2s stdin 8',
      'ws.frame c2s binary',
      'k8s.close c2s',
      'conn.end c2s',
      'ws.frame s2c binary',
      'k8s.data s2c stdout 0 initial',
      'ws.frame s2c binary',
      'k8s.data s2c stdout 3',
      'ws.frame s2c binary',
      'k8s.data s2c stderr 8',
      'ws.frame s2c binary',
      'k8s.data s2c error 34',
      'k8s.status s2c',
      'ws.frame s2c close',
      'conn.end s2c',
      'conn.summary',
    ]);

    const frames = ofType(events, 'ws.frame');
    expect(frames[0]).toMatchObject({ dir: 'c2s', offset: stdinAt, masked: true, fin: true, length: 9, opcode: 2 });
    expect(frames[2]).toMatchObject({ dir: 's2c', offset: initialAt, masked: false, length: 1 });
    expect(frames.at(-1)).toMatchObject({ dir: 's2c', offset: serverCloseAt, kind: 'close', closeCode: 1000, closeReason: '' });

    const data = ofType(events, 'k8s.data');
    // k8s.data offsets point at the payload, after the 6-byte masked header and the channel byte.
    expect(data[0]).toMatchObject({ offset: stdinAt + 6 + 1, channel: 0, stream: 'stdin', size: 8, note: 'stdin 8 B "echo hi\\n"' });
    expect(payloadOf(data[0]!).toString()).toBe('echo hi\n');
    expect(data[1]).toMatchObject({ channel: 1, stream: 'stdout', size: 0, initial: true, note: 'stdout initial empty message' });
    expect(data[2]).toMatchObject({ offset: stdoutAt + 2 + 1, stream: 'stdout', size: 3 });
    expect(data[2]!.initial).toBeUndefined();

    const [close] = ofType(events, 'k8s.close');
    expect(close).toMatchObject({ dir: 'c2s', channel: 0, stream: 'stdin', note: 'close stdin (v5 close signal)' });
    // The close signal is the 2-byte message [FF 00] after a 6-byte header: its offset lies in it.
    expect(close!.offset).toBeGreaterThanOrEqual(closeAt);
    expect(close!.offset).toBeLessThan(closeAt + 8);

    const [status] = ofType(events, 'k8s.status');
    expect(status).toMatchObject({ offset: statusAt + 3, format: 'json', status: 'Success', exitCode: 0, raw: SUCCESS_JSON, note: 'exit code 0 (Success)' });

    expect(summary).toEqual({
      request: { method: 'GET', path: '/api/v1/namespaces/default/pods/p1/exec', operation: 'exec', upgrade: 'websocket', offered: [V5], kubectlSession: null },
      response: { status: 101, protocol: V5 },
      transport: 'websocket',
      streams: { stdin: digest('echo hi\n'), stdout: digest('hi\n'), stderr: digest('warning\n'), error: digest(SUCCESS_JSON) },
      exitCode: 0,
      status: 'Success',
      statusReason: null,
      resizes: [],
      stdinClosed: true,
      pings: { c2s: 0, s2c: 0 },
      closeCodes: { c2s: null, s2c: 1000 },
      portForward: [],
      anomalies: 0,
    });
  });

  it('reports FF 00 as the end of stdin (summary stdinClosed)', () => {
    const { c, s } = wsExec(V5);
    c.add(cframe(OP.binary, chan(0, 'data')));
    c.add(cframe(OP.binary, [0xff, 0x00]));
    s.add(sframe(OP.binary, [0x01]));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'k8s.close')).toHaveLength(1);
    expect(anomalies(events)).toEqual([]);
    expect(summary.stdinClosed).toBe(true);
    // The close signal carries no stream bytes: 0xFF is not a channel of its own.
    expect(Object.keys(summary.streams)).toEqual(['stdin']);
  });

  it('reports a close signal that is not exactly [FF, channel] as KW_CHANNEL_BAD_CLOSE', () => {
    const { c, s } = wsExec(V5);
    const shortAt = c.add(cframe(OP.binary, [0xff]));
    const longAt = c.add(cframe(OP.binary, [0xff, 0x00, 0x00]));
    s.add(sframe(OP.binary, [0x01]));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const bad = anomalies(events, 'KW_CHANNEL_BAD_CLOSE');
    expect(bad).toHaveLength(2);
    // Each is reported inside its own message, not at the start of the next frame.
    expect(bad[0]!.offset).toBeGreaterThanOrEqual(shortAt);
    expect(bad[0]!.offset).toBeLessThan(shortAt + 6 + 1);
    expect(bad[1]!.offset).toBeGreaterThanOrEqual(longAt);
    expect(bad[1]!.offset).toBeLessThan(longAt + 6 + 3);
    expect(bad.every((a) => a.dir === 'c2s' && a.layer === 'channel' && a.opaque === false)).toBe(true);
    expect(bad[0]!.message).toContain('0 payload bytes');
    expect(bad[1]!.message).toContain('2 payload bytes');
    expect(ofType(events, 'k8s.close')).toEqual([]);
    expect(summary.stdinClosed).toBe(false);
    expect(summary.anomalies).toBe(2);
  });

  it('treats FF 00 on v4 as data for an undefined channel, not a close signal', () => {
    const { c, s } = wsExec(V4);
    c.add(cframe(OP.binary, [0xff, 0x00]));
    s.add(sframe(OP.binary, [0x01]));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'k8s.close')).toEqual([]);
    expect(anomalies(events).map((a) => a.code)).toEqual(['KW_CHANNEL_UNKNOWN']);
    expect(summary.stdinClosed).toBe(false);
  });

  it('reads channel data in text frames (python-kubernetes) as servers do, with no anomaly', () => {
    const { c, s } = wsExec(V4);
    c.add(cframe(OP.text, chan(0, 'echo hi\n')));
    c.add(cframe(OP.text, chan(4, '{"Width":80,"Height":24}')));
    s.add(sframe(OP.binary, chan(1, 'hi\n')));
    const { events } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(anomalies(events)).toEqual([]);
    expect(ofType(events, 'k8s.data').filter((e) => e.dir === 'c2s').map((e) => [e.stream, e.size])).toEqual([['stdin', 8], ['resize', 24]]);
    expect(ofType(events, 'k8s.resize').map((r) => [r.width, r.height])).toEqual([[80, 24]]);
  });

  it('still notes a binary message in a base64 protocol', () => {
    const { c, s } = wsExec('v4.base64.channel.k8s.io');
    c.add(cframe(OP.binary, chan64(0, 'x')));
    s.add(sframe(OP.text, chan64(1, 'y')));
    const { events } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(anomalies(events).map((a) => a.code)).toEqual(['KW_CHANNEL_BAD_MESSAGE_TYPE']);
  });

  it('reads a resize spanning two messages and two resizes sharing one message', () => {
    const { c, s } = wsExec(V5, [V5], `${EXEC_TARGET}&tty=true`);
    const firstAt = c.add(cframe(OP.binary, chan(4, '{"Width":120,')));
    const secondAt = c.add(cframe(OP.binary, chan(4, '"Height":40}\n')));
    const line1 = '{"Width":100,"Height":30}\n';
    const bothAt = c.add(cframe(OP.binary, chan(4, `${line1}{"width":90,"HEIGHT":20}\n`)));
    s.add(sframe(OP.binary, [0x01]));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);

    const resizes = ofType(events, 'k8s.resize');
    expect(resizes.map((r) => [r.width, r.height])).toEqual([[120, 40], [100, 30], [90, 20]]);
    expect(resizes.map((r) => r.note)).toEqual(['resize 120x40', 'resize 100x30', 'resize 90x20']);
    // The spanning resize is placed in one of the two messages that carry it.
    expect([firstAt + 7, secondAt + 7]).toContain(resizes[0]!.offset);
    expect(resizes[1]!.offset).toBe(bothAt + 7);
    expect(resizes[2]!.offset).toBe(bothAt + 7 + line1.length);
    expect(anomalies(events)).toEqual([]);
    expect(summary.resizes).toEqual([[120, 40], [100, 30], [90, 20]]);
    expect(summary.streams['resize']!.bytes).toBe('{"Width":120,"Height":40}\n'.length + line1.length + '{"width":90,"HEIGHT":20}\n'.length);
  });

  it('marks only the first empty server message as initial', () => {
    const { c, s } = wsExec(V5);
    s.add(sframe(OP.binary, [0x01]));
    s.add(sframe(OP.binary, [0x01]));
    s.add(sframe(OP.binary, [0x02]));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const data = ofType(events, 'k8s.data');
    expect(data.map((d) => [d.stream, d.size, d.initial ?? false])).toEqual([
      ['stdout', 0, true],
      ['stdout', 0, false],
      ['stderr', 0, false],
    ]);
    // Empty messages carry no stream bytes.
    expect(summary.streams).toEqual({});
  });

  it('reads a frame with a 64-bit length in 64 KiB segments', () => {
    const { c, s } = wsExec(V5);
    const out = Buffer.alloc(70_000);
    for (let i = 0; i < out.length; i++) out[i] = (i * 7 + 3) & 0xff;
    const frameAt = s.add(sframe(OP.binary, chan(1, out), { forceLengthBytes: 8 }));
    s.add(sframe(OP.close, closePayload(1000)));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);

    expect(ofType(events, 'ws.frame')[0]).toMatchObject({ offset: frameAt, length: 70_001, kind: 'binary' });
    const data = ofType(events, 'k8s.data');
    // Segments end at multiples of 64 KiB of the frame payload, which begins with the channel byte.
    expect(data.map((d) => d.size)).toEqual([PAYLOAD_SEGMENT_BYTES - 1, 70_001 - PAYLOAD_SEGMENT_BYTES]);
    expect(data.map((d) => d.offset)).toEqual([frameAt + 10 + 1, frameAt + 10 + PAYLOAD_SEGMENT_BYTES]);
    expect(Buffer.concat(data.map(payloadOf)).equals(out)).toBe(true);
    expect(summary.streams['stdout']).toEqual({ bytes: 70_000, sha256: sha256(out) });
    expect(anomalies(events)).toEqual([]);
  });

  it('reads a fragmented stdout message with a ping and a pong between the fragments', () => {
    const { c, s } = wsExec(V5);
    c.add(cframe(OP.ping));
    c.add(cframe(OP.pong, 'k'));
    s.add(sframe(OP.binary, chan(1, 'frag-one '), { fin: false }));
    const pingAt = s.add(sframe(OP.ping, 'k'));
    s.add(sframe(OP.cont, 'frag-two ', { fin: false }));
    s.add(sframe(OP.pong));
    s.add(sframe(OP.cont, 'frag-three'));
    s.add(sframe(OP.binary, chan(2, 'after')));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);

    expect(outline(events).filter((l) => l.includes('s2c') && !l.startsWith('conn.end') && !l.startsWith('upgrade'))).toEqual([
      'ws.frame s2c binary',
      'k8s.data s2c stdout 9',
      'ws.frame s2c ping',
      'ws.frame s2c continuation',
      'k8s.data s2c stdout 9',
      'ws.frame s2c pong',
      'ws.frame s2c continuation',
      'k8s.data s2c stdout 10',
      'ws.frame s2c binary',
      'k8s.data s2c stderr 5',
    ]);
    const ping = ofType(events, 'ws.frame').find((f) => f.dir === 's2c' && f.kind === 'ping');
    expect(ping).toMatchObject({ offset: pingAt, length: 1, payload: Buffer.from('k').toString('base64') });
    const frames = ofType(events, 'ws.frame').filter((f) => f.dir === 's2c' && f.kind !== 'ping' && f.kind !== 'pong');
    expect(frames.map((f) => f.fin)).toEqual([false, false, true, true]);
    expect(summary.streams['stdout']).toEqual(digest('frag-one frag-two frag-three'));
    expect(summary.streams['stderr']).toEqual(digest('after'));
    expect(summary.pings).toEqual({ c2s: 1, s2c: 1 });
    expect(anomalies(events)).toEqual([]);
  });

  it('reports a status split over two channel 3 messages once, when it is complete', () => {
    const { c, s } = wsExec(V5);
    const status = exitStatusJson(3);
    const firstAt = s.add(sframe(OP.binary, chan(3, status.slice(0, 40))));
    s.add(sframe(OP.binary, chan(3, status.slice(40))));
    s.add(sframe(OP.close, closePayload(1000)));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(outline(events).slice(4, 10)).toEqual([
      'ws.frame s2c binary',
      'k8s.data s2c error 40',
      'ws.frame s2c binary',
      `k8s.data s2c error ${status.length - 40}`,
      'k8s.status s2c',
      'ws.frame s2c close',
    ]);
    const statuses = ofType(events, 'k8s.status');
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({ offset: firstAt + 3, format: 'json', exitCode: 3, reason: 'NonZeroExitCode', raw: status, note: 'exit code 3 (NonZeroExitCode)' });
    expect(summary).toMatchObject({ exitCode: 3, status: 'Failure', statusReason: 'NonZeroExitCode' });
  });

  it('reports a status that is not JSON as Unparsable when the close frame ends the channel', () => {
    const { c, s } = wsExec(V5);
    s.add(sframe(OP.binary, chan(3, 'not json at all')));
    s.add(sframe(OP.close, closePayload(1000)));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const lines = outline(events);
    expect(lines.indexOf('k8s.status s2c')).toBe(lines.indexOf('ws.frame s2c close') + 1);
    expect(ofType(events, 'k8s.status')).toEqual([
      expect.objectContaining({ format: 'text', status: 'Unparsable', message: 'not json at all', exitCode: null, raw: 'not json at all' }),
    ]);
    expect(summary).toMatchObject({ status: 'Unparsable', exitCode: null, statusReason: null, closeCodes: { c2s: null, s2c: 1000 } });
  });

  it('reports a status that is not JSON when the server ends without a close frame', () => {
    const { c, s } = wsExec(V5);
    s.add(sframe(OP.binary, chan(3, '{"metadata":{},"status":"Fail')));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'k8s.status')).toEqual([expect.objectContaining({ status: 'Unparsable', format: 'text' })]);
    const lines = outline(events);
    expect(lines.indexOf('k8s.status s2c')).toBeLessThan(lines.indexOf('conn.end s2c'));
    expect(summary.status).toBe('Unparsable');
  });
});

describe('plain data frames fold into their data event (schema version 2)', () => {
  it('a whole message in one frame is one event; fragments, odd flags and empty frames keep their own', () => {
    const { c, s } = wsExec(V5);
    const stdinAt = c.add(cframe(OP.binary, chan(0, 'ls\n')));
    c.add(cframe(OP.binary, []));
    const stdoutAt = s.add(sframe(OP.binary, chan(1, 'a')));
    s.add(sframe(OP.binary, chan(1, 'b'), { fin: false }));
    s.add(sframe(OP.cont, 'c'));
    s.add(sframe(OP.binary, chan(2, 'd'), { rsv: 4 }));
    const { events } = expectChunkingInvariant(c.bytes, s.bytes);

    const raw = events.filter((e) => e.type === 'ws.frame' || e.type === 'k8s.data').map((e) => `${e.type} ${e.dir}${'wsFrame' in e && e.wsFrame ? ' +frame' : ''}`);
    expect(raw).toEqual([
      'k8s.data c2s +frame',
      // An empty binary frame yields no data: it stays a frame.
      'ws.frame c2s',
      'k8s.data s2c +frame',
      // The first fragment (FIN clear) and the continuation stay frames.
      'ws.frame s2c',
      'k8s.data s2c',
      'ws.frame s2c',
      'k8s.data s2c',
      // RSV bits set: a frame of its own (after its anomaly).
      'ws.frame s2c',
      'k8s.data s2c',
    ]);
    const data = ofType(events, 'k8s.data');
    expect(data[0]!.wsFrame).toEqual({ offset: stdinAt, opcode: 2, length: 4 });
    expect(data[1]!.wsFrame).toEqual({ offset: stdoutAt, opcode: 2, length: 2 });
    // frameOf gives the frame event the fold stands for.
    expect(ofType(events, 'ws.frame')[0]).toMatchObject({ type: 'ws.frame', dir: 'c2s', offset: stdinAt, opcode: 2, kind: 'binary', fin: true, rsv: 0, masked: true, length: 4, seq: data[0]!.seq });
  });

  it('halves the events of bulk stdout', () => {
    const { c, s } = wsExec(V5);
    for (let i = 0; i < 100; i++) s.add(sframe(OP.binary, chan(1, `line ${i}\n`)));
    const { events } = decodeAll([c.bytes], [s.bytes]);
    expect(events.filter((e) => e.type === 'ws.frame')).toEqual([]);
    expect(ofType(events, 'k8s.data').filter((e) => e.wsFrame !== undefined)).toHaveLength(100);
  });
});

describe('digests', () => {
  it('are taken by default, and are null when the decoder is told not to take them', () => {
    const { c, s } = wsExec(V5);
    c.add(cframe(OP.binary, chan(0, 'echo hi\n')));
    s.add(sframe(OP.binary, chan(1, 'hi\n')));
    expect(decodeAll([c.bytes], [s.bytes]).summary.streams).toEqual({ stdin: digest('echo hi\n'), stdout: digest('hi\n') });
    const { summary, events } = decodeAll([c.bytes], [s.bytes], { digests: false });
    expect(summary.streams).toEqual({ stdin: { bytes: 8, sha256: null }, stdout: { bytes: 3, sha256: null } });
    expect(ofType(events, 'conn.summary')[0]!.summary).toEqual(summary);
  });
});

describe('payload recording modes', () => {
  it('--payload none records sizes only: no payload, and no note previews the bytes', () => {
    const { c, s } = wsExec(V5);
    c.add(cframe(OP.binary, chan(0, 'hunter2-typed\n')));
    s.add(sframe(OP.binary, chan(1, 'secret-output\n')));
    const none = decodeAll([c.bytes], [s.bytes], { payload: 'none' }).events;
    const data = ofType(none, 'k8s.data');
    expect(data.map((e) => [e.stream, e.size, e.truncated, e.payload, e.note])).toEqual([
      ['stdin', 14, true, undefined, 'stdin 14 B'],
      ['stdout', 14, true, undefined, 'stdout 14 B'],
    ]);
    const text = JSON.stringify(none);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('secret-output');
    // Head records the bytes anyway, and its notes preview them.
    const head = ofType(decodeAll([c.bytes], [s.bytes], { payload: 'head' }).events, 'k8s.data');
    expect(head.map((e) => e.note)).toEqual(['stdin 14 B "hunter2-typed\\n"', 'stdout 14 B "secret-output\\n"']);
  });
});

describe('the other channel protocols', () => {
  it('v4.channel.k8s.io: a JSON status with exit code 7', () => {
    const { c, s } = wsExec(V4);
    c.add(cframe(OP.binary, chan(0, 'exit 7\n')));
    s.add(sframe(OP.binary, [0x01]));
    s.add(sframe(OP.binary, chan(3, exitStatusJson(7))));
    s.add(sframe(OP.close, closePayload(1000)));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ transport: 'websocket', semantics: 'channel-v4', protocol: V4 });
    expect(ofType(events, 'k8s.status')).toEqual([
      expect.objectContaining({ format: 'json', status: 'Failure', reason: 'NonZeroExitCode', exitCode: 7, note: 'exit code 7 (NonZeroExitCode)' }),
    ]);
    expect(summary).toMatchObject({ exitCode: 7, status: 'Failure', statusReason: 'NonZeroExitCode', stdinClosed: false, anomalies: 0 });
  });

  it('channel.k8s.io (v1): a plain-text status is a Failure with that message', () => {
    const { c, s } = wsExec('channel.k8s.io');
    s.add(sframe(OP.binary, [0x01]));
    s.add(sframe(OP.binary, chan(1, 'out')));
    const statusAt = s.add(sframe(OP.binary, chan(3, 'container "c9" not found')));
    s.add(sframe(OP.close, closePayload(1000)));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'decode.stack')[0]!.semantics).toBe('channel-v1');
    const statuses = ofType(events, 'k8s.status');
    expect(statuses).toEqual([
      expect.objectContaining({ offset: statusAt + 3, format: 'text', status: 'Failure', reason: null, message: 'container "c9" not found', exitCode: null }),
    ]);
    // v1 statuses are complete at the end of their message, before the close frame.
    const lines = outline(events);
    expect(lines.indexOf('k8s.status s2c')).toBeLessThan(lines.indexOf('ws.frame s2c close'));
    expect(summary).toMatchObject({ status: 'Failure', statusReason: null, exitCode: null });
  });

  it('no subprotocol is read as channel.k8s.io', () => {
    const { c, s } = wsExec(null);
    c.add(cframe(OP.binary, chan(0, 'x')));
    s.add(sframe(OP.binary, chan(1, 'y')));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ semantics: 'channel-v1', protocol: null });
    expect(summary.streams).toEqual({ stdin: digest('x'), stdout: digest('y') });
    expect(summary.response).toEqual({ status: 101, protocol: null });
  });

  it('base64.channel.k8s.io: text frames, decoded payload, text status', () => {
    const { c, s } = wsExec('base64.channel.k8s.io');
    const binary = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0x41]);
    c.add(cframe(OP.text, chan64(0, 'ls\n')));
    s.add(sframe(OP.text, chan64(1)));
    s.add(sframe(OP.text, chan64(1, binary)));
    s.add(sframe(OP.text, chan64(3, 'error executing command: exit status 1')));
    s.add(sframe(OP.close, closePayload(1000)));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);

    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ semantics: 'base64-v1', protocol: 'base64.channel.k8s.io' });
    const data = ofType(events, 'k8s.data');
    expect(data.map((d) => [d.dir, d.stream, d.size, d.initial ?? false])).toEqual([
      ['c2s', 'stdin', 3, false],
      ['s2c', 'stdout', 0, true],
      ['s2c', 'stdout', 5, false],
      ['s2c', 'error', 38, false],
    ]);
    expect(payloadOf(data[0]!).toString()).toBe('ls\n');
    expect(payloadOf(data[2]!).equals(binary)).toBe(true);
    expect(ofType(events, 'k8s.status')).toEqual([
      expect.objectContaining({ format: 'text', status: 'Failure', message: 'error executing command: exit status 1', exitCode: null }),
    ]);
    expect(summary.streams).toEqual({ stdin: digest('ls\n'), stdout: digest(binary), error: digest('error executing command: exit status 1') });
    expect(summary).toMatchObject({ status: 'Failure', exitCode: null, anomalies: 0 });
  });

  it('v4.base64.channel.k8s.io: a JSON status whose base64 text is fragmented', () => {
    const { c, s } = wsExec('v4.base64.channel.k8s.io');
    const text = chan64(3, exitStatusJson(2));
    s.add(sframe(OP.text, chan64(1)));
    s.add(sframe(OP.text, text.subarray(0, 7), { fin: false }));
    s.add(sframe(OP.cont, text.subarray(7, 30), { fin: false }));
    s.add(sframe(OP.cont, text.subarray(30)));
    s.add(sframe(OP.close, closePayload(1000)));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'decode.stack')[0]!.semantics).toBe('base64-v4');
    const errorBytes = Buffer.concat(ofType(events, 'k8s.data').filter((d) => d.stream === 'error').map(payloadOf));
    expect(errorBytes.toString()).toBe(exitStatusJson(2));
    expect(ofType(events, 'k8s.status')).toEqual([expect.objectContaining({ format: 'json', exitCode: 2, reason: 'NonZeroExitCode' })]);
    expect(summary).toMatchObject({ exitCode: 2, streams: { error: digest(exitStatusJson(2)) }, anomalies: 0 });
  });

  it('an unknown subprotocol is reported as plain WebSocket messages', () => {
    const { c, s } = wsExec('x.example.com');
    const textAt = c.add(cframe(OP.text, 'hello'));
    s.add(sframe(OP.binary, [1, 2, 3]));
    s.add(sframe(OP.text, 'frag', { fin: false }));
    s.add(sframe(OP.cont, 'ment'));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ transport: 'websocket', semantics: 'opaque', layers: ['websocket'] });
    const data = ofType(events, 'ws.data');
    expect(data.map((d) => [d.dir, d.messageType, payloadOf(d).toString('hex')])).toEqual([
      ['c2s', 'text', Buffer.from('hello').toString('hex')],
      ['s2c', 'binary', '010203'],
      ['s2c', 'text', Buffer.from('frag').toString('hex')],
      ['s2c', 'text', Buffer.from('ment').toString('hex')],
    ]);
    expect(data[0]!.offset).toBe(textAt + 6);
    expect(ofType(events, 'k8s.data')).toEqual([]);
    expect(summary).toMatchObject({ transport: 'websocket', streams: {}, response: { status: 101, protocol: 'x.example.com' }, anomalies: 0 });
  });
});

describe('channel and close edge cases', () => {
  it('reports a channel above 4 once per channel and still shows its data', () => {
    const { c, s } = wsExec(V5);
    const firstAt = s.add(sframe(OP.binary, chan(7, 'a')));
    s.add(sframe(OP.binary, chan(7, 'bc')));
    s.add(sframe(OP.binary, chan(1, 'ok')));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const unknown = anomalies(events, 'KW_CHANNEL_UNKNOWN');
    expect(unknown).toHaveLength(1);
    expect(unknown[0]).toMatchObject({ dir: 's2c', offset: firstAt + 2, layer: 'channel', opaque: false });
    expect(ofType(events, 'k8s.data').map((d) => [d.channel, d.stream, d.size])).toEqual([
      [7, 'channel7', 1],
      [7, 'channel7', 2],
      [1, 'stdout', 2],
    ]);
    expect(summary.streams).toEqual({ channel7: digest('abc'), stdout: digest('ok') });
    expect(summary.anomalies).toBe(1);
  });

  it('reports close codes and reasons both ways', () => {
    const { c, s } = wsExec(V5);
    const clientCloseAt = c.add(cframe(OP.close, closePayload(1000, 'client done')));
    s.add(sframe(OP.binary, [0x01]));
    const serverCloseAt = s.add(sframe(OP.close, closePayload(4001, 'server going away')));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const closes = ofType(events, 'ws.frame').filter((f) => f.kind === 'close');
    expect(closes).toEqual([
      expect.objectContaining({ dir: 'c2s', offset: clientCloseAt, masked: true, closeCode: 1000, closeReason: 'client done', note: 'close 1000 "client done" masked' }),
      expect.objectContaining({ dir: 's2c', offset: serverCloseAt, masked: false, closeCode: 4001, closeReason: 'server going away', note: 'close 4001 "server going away"' }),
    ]);
    expect(summary.closeCodes).toEqual({ c2s: 1000, s2c: 4001 });
    expect(summary.anomalies).toBe(0);
  });

  it('a close frame without a code gives a null close code', () => {
    const { c, s } = wsExec(V5);
    c.add(cframe(OP.close));
    s.add(sframe(OP.close, closePayload(1000)));
    const { summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(summary.closeCodes).toEqual({ c2s: null, s2c: 1000 });
  });
});

describe('a 16 MiB stdout frame', () => {
  const SIZE = 16 * 1024 * 1024;
  const out = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4) out.writeUInt32LE((Math.imul(i, 2654435761) ^ i) >>> 0, i);
  const { c, s } = wsExec(V5);
  s.add(sframe(OP.binary, [0x01]));
  const frameAt = s.add(sframe(OP.binary, chan(1, out)));
  s.add(sframe(OP.binary, chan(3, SUCCESS_JSON)));
  s.add(sframe(OP.close, closePayload(1000)));
  const c2s = c.bytes;
  const s2c = s.bytes;
  const mib = (buf: Buffer, size: number) => {
    const parts: Buffer[] = [];
    for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
    return parts;
  };

  it('fed in 1 MiB chunks, arrives in pieces of at most 64 KiB with the right digest', () => {
    const { events, summary } = decodeAll([c2s], mib(s2c, 1024 * 1024));
    const stdout = ofType(events, 'k8s.data').filter((d) => d.stream === 'stdout' && !d.initial);
    expect(stdout.length).toBe(Math.ceil((SIZE + 1) / PAYLOAD_SEGMENT_BYTES));
    expect(stdout.every((d) => d.size <= PAYLOAD_SEGMENT_BYTES && d.size > 0)).toBe(true);
    expect(stdout.reduce((n, d) => n + d.size, 0)).toBe(SIZE);
    expect(stdout[0]!.offset).toBe(frameAt + 10 + 1);
    // Pieces are contiguous: each starts where the previous one ended.
    for (let i = 1; i < stdout.length; i++) expect(stdout[i]!.offset).toBe(stdout[i - 1]!.offset + stdout[i - 1]!.size);
    expect(Buffer.concat(stdout.map(payloadOf)).equals(out)).toBe(true);
    expect(summary.streams['stdout']).toEqual({ bytes: SIZE, sha256: sha256(out) });
    expect(summary).toMatchObject({ exitCode: 0, anomalies: 0, closeCodes: { c2s: null, s2c: 1000 } });
  });

  it('gives the same events however the 16 MiB are chunked', () => {
    const options = { payload: 'none' as const };
    const reference = JSON.stringify(decodeAll([c2s], [s2c], options).events);
    for (const chunks of [mib(s2c, 1024 * 1024), mib(s2c, 1024 * 1024 + 7), mib(s2c, 65_535), randomChunks(s2c, 16, 300_000)]) {
      expect(JSON.stringify(decodeAll([c2s], chunks, options).events)).toBe(reference);
    }
  });
});
