/**
 * Whole SPDY/3.1 exec connections built by hand (protocol.md A §2): the POST upgrade, the 101,
 * then client SYN_STREAMs named by `streamtype`, server SYN_REPLYs, DATA both ways and the
 * control frames around them. Every connection is also fed split at every byte offset and one
 * byte at a time, and must give the same events.
 */
import { describe, expect, it } from 'vitest';
import {
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynStream,
  encodeWindowUpdate,
} from '../../src/codec/spdy-encode.js';
import { expectChunkingInvariant } from '../support/chunking.js';
import {
  EXEC_TARGET,
  SpdyWriter,
  Wire,
  anomalies,
  exitStatusJson,
  ofType,
  outline,
  payloadOf,
  sha256,
  spdyRequest,
  spdyResponse,
} from '../support/wire.js';

const OFFERED = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
const digest = (text: string | Buffer) => ({ bytes: Buffer.byteLength(text), sha256: sha256(Buffer.from(text)) });
const st = (type: string): [string, string][] => [['streamtype', type]];

/** A SPDY exec connection: heads written, one header compressor per direction. */
function spdyExec(version: string | null, target = EXEC_TARGET) {
  const c = new Wire();
  const s = new Wire();
  c.add(spdyRequest(target, OFFERED));
  s.add(spdyResponse(version));
  return { c, s, cw: new SpdyWriter(), sw: new SpdyWriter() };
}

describe('exec over SPDY', () => {
  it('v4: error, stdin, stdout and stderr streams, stdin FIN, a status split over two DATA frames', () => {
    const { c, s, cw, sw } = spdyExec('v4.channel.k8s.io');
    const synAt = c.add(cw.syn(1, st('error')));
    s.add(sw.reply(1));
    c.add(cw.syn(3, st('stdin')));
    s.add(sw.reply(3));
    c.add(cw.syn(5, st('stdout')));
    s.add(sw.reply(5));
    c.add(cw.syn(7, st('stderr')));
    s.add(sw.reply(7));
    const stdinAt = c.add(cw.data(3, 'echo hi; exit 42\n'));
    const finAt = c.add(cw.data(3, '', true));
    c.add(encodePing(1));
    s.add(sw.data(5, 'hi\n'), sw.data(7, 'oops\n'), sw.data(5, '', true), sw.data(7, '', true));
    const status = exitStatusJson(42);
    const statusAt = s.add(sw.data(1, status.slice(0, 50)));
    s.add(sw.data(1, status.slice(50)));
    s.add(sw.data(1, '', true));
    s.add(encodePing(1), encodeRstStream(3, 5), encodeGoaway(7));
    c.add(encodeRstStream(1, 5), encodeGoaway(0));

    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ transport: 'spdy', protocol: 'v4.channel.k8s.io', semantics: 'spdy-v4', layers: ['spdy', 'streams'] });
    expect(ofType(events, 'spdy.stream').filter((e) => e.state === 'open').map((e) => [e.streamId, e.streamType])).toEqual([
      [1, 'error'],
      [3, 'stdin'],
      [5, 'stdout'],
      [7, 'stderr'],
    ]);
    const syn = ofType(events, 'spdy.frame')[0]!;
    expect(syn).toMatchObject({ dir: 'c2s', offset: synAt, frame: 'SYN_STREAM', version: 3, streamId: 1, streamType: 'error', headers: [['streamtype', ['error']]], priority: 0, slot: 0, assocStreamId: 0, unidirectional: false, fin: false });
    expect(syn.note).toBe('SYN_STREAM 1 streamtype=error');

    const data = ofType(events, 'k8s.data');
    expect(data.map((d) => [d.dir, d.stream, payloadOf(d).toString()])).toEqual([
      ['c2s', 'stdin', 'echo hi; exit 42\n'],
      ['s2c', 'stdout', 'hi\n'],
      ['s2c', 'stderr', 'oops\n'],
      ['s2c', 'error', status.slice(0, 50)],
      ['s2c', 'error', status.slice(50)],
    ]);
    expect(data[0]!.offset).toBe(stdinAt + 8);
    // Plain DATA frames ride in their data event (schema version 2); an empty one stays a frame.
    expect(data[0]!.spdyFrame).toEqual({ offset: stdinAt, length: 17, fin: false, streamId: 3, streamType: 'stdin' });
    const ownDataFrames = events.flatMap((e) => (e.type === 'spdy.frame' && e.frame === 'DATA' ? [e] : []));
    expect(ownDataFrames.map((e) => [e.dir, e.length])).toEqual([['c2s', 0], ['s2c', 0], ['s2c', 0], ['s2c', 0]]);
    expect(ownDataFrames[0]!.offset).toBe(finAt);
    const fin = ofType(events, 'spdy.frame').find((f) => f.offset === finAt && f.dir === 'c2s');
    expect(fin).toMatchObject({ frame: 'DATA', fin: true, length: 0, streamId: 3, streamType: 'stdin', note: 'DATA 3 stdin 0 B fin' });

    // The status is reported once the server FINs the error stream, as kubectl reads it to EOF.
    const lines = outline(events);
    expect(lines.indexOf('k8s.status s2c')).toBe(lines.indexOf('spdy.frame s2c DATA 1 fin') + 1);
    expect(ofType(events, 'k8s.status')).toEqual([
      expect.objectContaining({ offset: statusAt + 8, format: 'json', status: 'Failure', reason: 'NonZeroExitCode', exitCode: 42, raw: status }),
    ]);
    expect(ofType(events, 'spdy.stream').filter((e) => e.state === 'reset').map((e) => [e.dir, e.streamId])).toEqual([
      ['c2s', 1],
      ['s2c', 3],
    ]);
    expect(anomalies(events)).toEqual([]);
    expect(summary).toEqual({
      request: { method: 'POST', path: '/api/v1/namespaces/default/pods/p1/exec', operation: 'exec', upgrade: 'SPDY/3.1', offered: OFFERED, kubectlSession: null },
      response: { status: 101, protocol: 'v4.channel.k8s.io' },
      transport: 'spdy',
      streams: { stdin: digest('echo hi; exit 42\n'), stdout: digest('hi\n'), stderr: digest('oops\n'), error: digest(status) },
      exitCode: 42,
      status: 'Failure',
      statusReason: 'NonZeroExitCode',
      resizes: [],
      stdinClosed: true,
      pings: { c2s: 1, s2c: 1 },
      closeCodes: { c2s: null, s2c: null },
      portForward: [],
      anomalies: 0,
    });
  });

  it('reports a status whose last DATA frame carries the FIN', () => {
    const { c, s, cw, sw } = spdyExec('v4.channel.k8s.io');
    c.add(cw.syn(1, st('error')), cw.syn(3, st('stdout')));
    s.add(sw.reply(1), sw.reply(3), sw.data(1, '{"metadata":{},'), sw.data(1, '"status":"Success"}', true));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'k8s.status')).toEqual([expect.objectContaining({ exitCode: 0, status: 'Success', note: 'exit code 0 (Success)' })]);
    expect(summary).toMatchObject({ exitCode: 0, status: 'Success', stdinClosed: false });
  });

  it('reports the status when the server sends GOAWAY without FINs, and when the connection just ends', () => {
    for (const ending of ['goaway', 'eof'] as const) {
      const { c, s, cw, sw } = spdyExec('v4.channel.k8s.io');
      c.add(cw.syn(1, st('error')));
      s.add(sw.reply(1), sw.data(1, exitStatusJson(5)));
      if (ending === 'goaway') s.add(encodeGoaway(1));
      const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
      expect(ofType(events, 'k8s.status')).toHaveLength(1);
      expect(summary.exitCode).toBe(5);
    }
  });

  it('v3 and v4 with a tty read the resize stream, one JSON value per resize', () => {
    for (const version of ['v3.channel.k8s.io', 'v4.channel.k8s.io']) {
      const { c, s, cw, sw } = spdyExec(version, `${EXEC_TARGET.replace('&stderr=true', '')}&tty=true`);
      c.add(cw.syn(1, st('error')), cw.syn(3, st('stdin')), cw.syn(5, st('stdout')), cw.syn(7, st('resize')));
      s.add(sw.reply(1), sw.reply(3), sw.reply(5), sw.reply(7));
      const firstAt = c.add(cw.data(7, '{"Width":100,"Height":30}\n'));
      c.add(cw.data(7, '{"Width":101,'), cw.data(7, '"Height":31}\n{"Width":102,"Height":32}\n'));
      c.add(cw.data(3, 'exit 5\r'));
      s.add(sw.data(1, version.startsWith('v3') ? 'command terminated with non-zero exit code: exit status 5' : exitStatusJson(5), true));
      const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
      expect(ofType(events, 'decode.stack')[0]!.semantics).toBe(version.startsWith('v3') ? 'spdy-v3' : 'spdy-v4');
      const resizes = ofType(events, 'k8s.resize');
      expect(resizes.map((r) => [r.width, r.height])).toEqual([[100, 30], [101, 31], [102, 32]]);
      expect(resizes[0]!.offset).toBe(firstAt + 8);
      expect(summary.resizes).toEqual([[100, 30], [101, 31], [102, 32]]);
      expect(summary.streams['resize']!.bytes).toBe(26 + 13 + 39);
      if (version.startsWith('v3')) {
        expect(ofType(events, 'k8s.status')).toEqual([expect.objectContaining({ format: 'text', status: 'Failure', exitCode: null })]);
      } else {
        expect(summary.exitCode).toBe(5);
      }
      expect(anomalies(events)).toEqual([]);
    }
  });

  it('without X-Stream-Protocol-Version in the 101 uses the v1 semantics', () => {
    const { c, s, cw, sw } = spdyExec(null);
    c.add(cw.syn(1, st('error')), cw.syn(3, st('stdout')));
    s.add(sw.reply(1), sw.reply(3), sw.data(3, 'hi\n'), sw.data(1, 'error: something failed', true));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const stack = ofType(events, 'decode.stack')[0]!;
    expect(stack).toMatchObject({ transport: 'spdy', protocol: null, semantics: 'spdy-v1' });
    expect(stack.reason).toContain('X-Stream-Protocol-Version');
    expect(ofType(events, 'k8s.status')).toEqual([expect.objectContaining({ format: 'text', status: 'Failure', message: 'error: something failed' })]);
    expect(summary).toMatchObject({ response: { status: 101, protocol: null }, transport: 'spdy', status: 'Failure', exitCode: null, streams: { stdout: digest('hi\n') } });
  });

  it('reads a header block larger than any read (it spans reads under every chunking)', () => {
    const { c, s, cw, sw } = spdyExec('v4.channel.k8s.io');
    const many: [string, string][] = [['streamtype', 'stdout']];
    for (let i = 0; i < 60; i++) many.push([`x-extra-${i}`, `${(i * 2654435761) >>> 0}-${'v'.repeat(i)}`]);
    c.add(cw.syn(1, st('error')), cw.syn(3, many));
    s.add(sw.reply(1), sw.reply(3, [['x-server', 'yes']]), sw.data(3, 'out'));
    const { events } = expectChunkingInvariant(c.bytes, s.bytes);
    const syn3 = ofType(events, 'spdy.frame').find((f) => f.frame === 'SYN_STREAM' && f.streamId === 3)!;
    expect(syn3.headers).toHaveLength(61);
    expect(syn3.streamType).toBe('stdout');
    expect(ofType(events, 'spdy.frame').find((f) => f.frame === 'SYN_REPLY' && f.streamId === 3)!.headers).toEqual([['x-server', ['yes']]]);
    expect(ofType(events, 'k8s.data').map((d) => d.stream)).toEqual(['stdout']);
    expect(anomalies(events)).toEqual([]);
  });
});

describe('control frames', () => {
  it('reports SETTINGS, WINDOW_UPDATE, HEADERS, GOAWAY, RST_STREAM and PING both ways', () => {
    const { c, s, cw, sw } = spdyExec('v4.channel.k8s.io');
    c.add(encodeSettings([{ id: 4, value: 100 }, { id: 7, value: 65536, flags: 1 }]));
    c.add(cw.syn(1, st('error')), cw.syn(3, st('stdout')));
    s.add(encodeSettings([{ id: 7, value: 1 << 20 }], true));
    s.add(sw.reply(1), sw.reply(3));
    c.add(encodeWindowUpdate(3, 65536));
    c.add(encodeHeaders({ streamId: 3, headerBlock: cw.block([['x-client', 'a']]) }));
    s.add(encodeHeaders({ streamId: 1, headerBlock: sw.block([['x-server', 'b']]), fin: false }));
    c.add(encodePing(1), encodePing(3));
    s.add(encodePing(1), encodePing(2));
    s.add(encodeRstStream(3, 5), encodeRstStream(9, 1));
    s.add(encodeGoaway(3, 2));
    c.add(encodeGoaway(0, 0));

    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const frames = ofType(events, 'spdy.frame');
    const find = (dir: string, frame: string) => frames.filter((f) => f.dir === dir && f.frame === frame);
    expect(find('c2s', 'SETTINGS')[0]).toMatchObject({ settings: [{ id: 4, flags: 0, value: 100 }, { id: 7, flags: 1, value: 65536 }], note: 'SETTINGS 4=100 7=65536' });
    expect(find('s2c', 'SETTINGS')[0]).toMatchObject({ flags: 1, settings: [{ id: 7, flags: 0, value: 1 << 20 }] });
    expect(find('c2s', 'WINDOW_UPDATE')[0]).toMatchObject({ streamId: 3, deltaWindowSize: 65536, note: 'WINDOW_UPDATE 3 +65536' });
    expect(find('c2s', 'HEADERS')[0]).toMatchObject({ streamId: 3, streamType: 'stdout', headers: [['x-client', ['a']]] });
    expect(find('s2c', 'HEADERS')[0]).toMatchObject({ streamId: 1, streamType: 'error', headers: [['x-server', ['b']]] });
    expect(find('c2s', 'PING').map((f) => f.pingId)).toEqual([1, 3]);
    expect(find('s2c', 'PING').map((f) => f.pingId)).toEqual([1, 2]);
    expect(find('s2c', 'RST_STREAM').map((f) => [f.streamId, f.statusCode, f.statusName, f.streamType])).toEqual([
      [3, 5, 'CANCEL', 'stdout'],
      [9, 1, 'PROTOCOL_ERROR', null],
    ]);
    expect(find('s2c', 'GOAWAY')[0]).toMatchObject({ lastGoodStreamId: 3, statusCode: 2, statusName: 'INTERNAL_ERROR', note: 'GOAWAY last=3 INTERNAL_ERROR' });
    expect(find('c2s', 'GOAWAY')[0]).toMatchObject({ lastGoodStreamId: 0, statusCode: 0, statusName: 'OK' });
    expect(ofType(events, 'spdy.stream').filter((e) => e.state === 'reset').map((e) => e.streamId)).toEqual([3]);
    expect(summary.pings).toEqual({ c2s: 2, s2c: 2 });
    expect(anomalies(events)).toEqual([]);
  });
});

describe('hostile and broken SPDY', () => {
  it('a zlib bomb SYN_STREAM makes that direction opaque; the other is still decoded', () => {
    const { c, s, cw, sw } = spdyExec('v4.channel.k8s.io');
    c.add(cw.syn(1, st('error')));
    // 20 MiB of one header value deflate to a few KiB, the second block of the client's stream.
    const bombAt = c.add(cw.syn(3, [['streamtype', 'stdin'], ['x-bomb', 'a'.repeat(20 * 1024 * 1024)]]));
    c.add(cw.syn(5, st('stdout')), cw.data(3, 'never seen'), encodePing(1));
    s.add(sw.reply(1), encodePing(1), sw.data(1, exitStatusJson(1), true), encodeGoaway(5));
    expect(c.length).toBeLessThan(200_000);

    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes, { edgeBytes: 256, stride: 1009, randomRuns: 1 });
    const bombs = anomalies(events, 'KW_SPDY_HEADER_BOMB');
    expect(bombs).toEqual([expect.objectContaining({ dir: 'c2s', offset: bombAt, layer: 'zlib', opaque: true })]);
    // Nothing of the client after the bomb is interpreted.
    const c2sFrames = ofType(events, 'spdy.frame').filter((f) => f.dir === 'c2s');
    expect(c2sFrames.map((f) => [f.frame, f.streamId])).toEqual([
      ['SYN_STREAM', 1],
      ['SYN_STREAM', 3],
    ]);
    expect(c2sFrames[1]!.headers).toBeUndefined();
    expect(ofType(events, 'k8s.data').filter((d) => d.dir === 'c2s')).toEqual([]);
    // The server's direction has its own compressor and is read on.
    expect(outline(events).filter((l) => l.includes('s2c') && l.startsWith('spdy.frame'))).toEqual([
      'spdy.frame s2c SYN_REPLY 1',
      'spdy.frame s2c PING',
      'spdy.frame s2c DATA 1 fin',
      'spdy.frame s2c GOAWAY',
    ]);
    expect(summary).toMatchObject({ exitCode: 1, pings: { c2s: 0, s2c: 1 }, anomalies: 1 });
  });

  it('a header block that is not zlib is KW_SPDY_ZLIB and that direction goes opaque', () => {
    const { c, s, cw, sw } = spdyExec('v4.channel.k8s.io');
    c.add(cw.syn(1, st('error')));
    const badAt = c.add(encodeSynStream({ streamId: 3, headerBlock: Buffer.from('this is not deflate data at all') }));
    c.add(cw.syn(5, st('stdout')));
    s.add(sw.reply(1), sw.data(1, '{"metadata":{},"status":"Success"}', true));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(anomalies(events)).toEqual([expect.objectContaining({ dir: 'c2s', offset: badAt, code: 'KW_SPDY_ZLIB', layer: 'zlib', opaque: true })]);
    expect(ofType(events, 'spdy.frame').filter((f) => f.dir === 'c2s')).toHaveLength(2);
    expect(summary).toMatchObject({ exitCode: 0, anomalies: 1 });
  });

  it('a server header block that is not zlib leaves the client direction decoded', () => {
    const { c, s, cw } = spdyExec('v4.channel.k8s.io');
    c.add(cw.syn(1, st('error')), cw.syn(3, st('stdin')), cw.data(3, 'typed'));
    s.add(encodeHeaders({ streamId: 1, headerBlock: Buffer.from([0x78, 0xf9, 0x00, 0x00, 0x00, 0x00, 0xde, 0xad]) }));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(anomalies(events).map((a) => [a.dir, a.code, a.opaque])).toEqual([['s2c', 'KW_SPDY_ZLIB', true]]);
    expect(summary.streams).toEqual({ stdin: digest('typed') });
  });

  it('SYN_STREAM ids that go down or have the wrong parity are KW_SPDY_BAD_STREAM_ID', () => {
    const { c, s, cw, sw } = spdyExec('v4.channel.k8s.io');
    c.add(cw.syn(3, st('error')), cw.syn(1, st('stdout')), cw.syn(6, st('stderr')));
    s.add(sw.reply(3), sw.reply(1), sw.data(1, 'still read'));
    const { events } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(anomalies(events).map((a) => [a.dir, a.code, a.opaque])).toEqual([
      ['c2s', 'KW_SPDY_BAD_STREAM_ID', false],
      ['c2s', 'KW_SPDY_BAD_STREAM_ID', false],
    ]);
    // The streams are still tracked: their data is reported under their names.
    expect(ofType(events, 'k8s.data').map((d) => [d.stream, payloadOf(d).toString()])).toEqual([['stdout', 'still read']]);
  });

  it('DATA for a stream no SYN_STREAM opened is KW_SPDY_UNKNOWN_STREAM, once per stream', () => {
    const { c, s, cw, sw } = spdyExec('v4.channel.k8s.io');
    c.add(cw.syn(1, st('error')));
    const strayAt = s.add(sw.reply(1), sw.data(9, 'who'));
    s.add(sw.data(9, 'am i'), sw.data(11, '?'));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const unknown = anomalies(events, 'KW_SPDY_UNKNOWN_STREAM');
    expect(unknown.map((a) => [a.dir, a.opaque])).toEqual([
      ['s2c', false],
      ['s2c', false],
    ]);
    expect(unknown[0]!.offset).toBeGreaterThan(strayAt);
    expect(unknown[0]!.message).toContain('9');
    expect(unknown[1]!.message).toContain('11');
    expect(ofType(events, 'spdy.frame').filter((f) => f.frame === 'DATA').map((f) => [f.streamId, f.streamType])).toEqual([
      [9, null],
      [9, null],
      [11, null],
    ]);
    expect(ofType(events, 'k8s.data')).toEqual([]);
    expect(summary.anomalies).toBe(2);
  });
});
