/**
 * Whole port-forward connections built by hand (protocol.md A §3): the kubelet's legacy
 * WebSocket channels, SPDY `portforward.k8s.io`, and the KEP-4006 tunnel that carries SPDY in
 * WebSocket binary messages cut wherever kubectl's writes fell. Every connection is also fed
 * split at every byte offset and one byte at a time, and must give the same events.
 */
import { describe, expect, it } from 'vitest';
import { encodeGoaway, encodePing, encodeRstStream } from '../../src/codec/spdy-encode.js';
import type { KubewireEvent } from '../../src/events/types.js';
import { expectChunkingInvariant } from '../support/chunking.js';
import {
  OP,
  POD,
  SpdyWriter,
  Wire,
  anomalies,
  chan,
  chan64,
  cframe,
  closePayload,
  ofType,
  outline,
  payloadOf,
  sframe,
  sha256,
  spdyRequest,
  spdyResponse,
  wsRequest,
  wsResponse,
} from '../support/wire.js';

const PF_TARGET = `${POD}/portforward?ports=8080&ports=9090`;
const le16 = (port: number): number[] => [port & 0xff, port >> 8];
const digest = (text: string | Buffer) => ({ bytes: Buffer.byteLength(text), sha256: sha256(Buffer.from(text)) });
const EMPTY = digest('');

/** A WebSocket port-forward connection (legacy channels or the tunnel): both heads written, frames added by the test. */
function wsPortForward(offered: string, protocol: string | null = offered, target = PF_TARGET) {
  const c = new Wire();
  const s = new Wire();
  c.add(wsRequest(target, [offered]));
  s.add(wsResponse(protocol));
  return { c, s };
}

describe('legacy WebSocket port-forward', () => {
  for (const protocol of [null, 'v4.channel.k8s.io']) {
    it(`reads channels 0/1 for 8080 and 2/3 for 9090 (${protocol ?? 'no subprotocol'})`, () => {
      const { c, s } = wsPortForward('v4.channel.k8s.io', protocol);
      // The server first names each channel's port, little-endian: 00 90 1F is data of 8080.
      const prefixAt = s.add(sframe(OP.binary, chan(0, le16(8080))));
      s.add(sframe(OP.binary, chan(1, le16(8080))));
      s.add(sframe(OP.binary, chan(2, le16(9090))));
      s.add(sframe(OP.binary, chan(3, le16(9090))));
      const reqAt = c.add(cframe(OP.binary, chan(0, 'GET / HTTP/1.1\r\n\r\n')));
      c.add(cframe(OP.binary, chan(2, 'ping')));
      const respAt = s.add(sframe(OP.binary, chan(0, 'HTTP/1.1 200 OK\r\n\r\n')));
      const errAt = s.add(sframe(OP.binary, chan(3, 'error forwarding port 9090 to pod p1: connection refused')));
      s.add(sframe(OP.close, closePayload(1000)));

      const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
      expect(ofType(events, 'decode.stack')[0]).toMatchObject({ transport: 'websocket', semantics: 'portforward-ws', layers: ['websocket', 'portforward'], protocol });
      const data = ofType(events, 'pf.data');
      expect(data.map((d) => [d.dir, d.channel, d.port, payloadOf(d).toString()])).toEqual([
        ['c2s', 0, 8080, 'GET / HTTP/1.1\r\n\r\n'],
        ['c2s', 2, 9090, 'ping'],
        ['s2c', 0, 8080, 'HTTP/1.1 200 OK\r\n\r\n'],
      ]);
      expect(data[0]).toMatchObject({ offset: reqAt + 6 + 1, requestId: null, note: 'port 8080 18 B "GET / HTTP/1.1\\r\\n\\r\\n"' });
      expect(data[2]!.offset).toBe(respAt + 2 + 1);
      // The port prefixes are not data.
      expect(data.some((d) => d.offset === prefixAt + 3)).toBe(false);
      expect(ofType(events, 'pf.error')).toEqual([
        expect.objectContaining({ dir: 's2c', port: 9090, requestId: null, message: 'error forwarding port 9090 to pod p1: connection refused' }),
      ]);
      expect(ofType(events, 'pf.error')[0]!.offset).toBeGreaterThanOrEqual(errAt);
      expect(anomalies(events)).toEqual([]);
      expect(summary).toMatchObject({
        request: { operation: 'portforward', offered: ['v4.channel.k8s.io'] },
        response: { status: 101, protocol },
        transport: 'websocket',
        streams: {},
        anomalies: 0,
      });
      expect(summary.portForward).toEqual([
        { requestId: 'port-8080', port: 8080, c2s: digest('GET / HTTP/1.1\r\n\r\n'), s2c: digest('HTTP/1.1 200 OK\r\n\r\n'), error: null },
        { requestId: 'port-9090', port: 9090, c2s: digest('ping'), s2c: EMPTY, error: 'error forwarding port 9090 to pod p1: connection refused' },
      ]);
    });
  }

  it('reads the v4.base64 variant: text frames, base64 payload and prefixes', () => {
    const { c, s } = wsPortForward('v4.base64.channel.k8s.io');
    s.add(sframe(OP.text, chan64(0, le16(8080))));
    s.add(sframe(OP.text, chan64(1, le16(8080))));
    c.add(cframe(OP.text, chan64(0, 'hello')));
    s.add(sframe(OP.text, chan64(0, Buffer.from([0, 1, 2, 0xff]))));
    s.add(sframe(OP.text, chan64(1, 'boom')));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'decode.stack')[0]!.semantics).toBe('portforward-ws-base64');
    expect(ofType(events, 'pf.data').map((d) => [d.dir, d.port, payloadOf(d).toString('hex')])).toEqual([
      ['c2s', 8080, Buffer.from('hello').toString('hex')],
      ['s2c', 8080, '000102ff'],
    ]);
    expect(ofType(events, 'pf.error').map((e) => [e.port, e.message])).toEqual([[8080, 'boom']]);
    expect(anomalies(events)).toEqual([]);
    expect(summary.portForward).toEqual([{ requestId: 'port-8080', port: 8080, c2s: digest('hello'), s2c: digest(Buffer.from([0, 1, 2, 0xff])), error: 'boom' }]);
  });

  it('reads data that arrives in the same message as the port prefix', () => {
    const { c, s } = wsPortForward('v4.channel.k8s.io');
    const at = s.add(sframe(OP.binary, chan(0, [...le16(8080), ...Buffer.from('abc')])));
    const { events } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'pf.data')).toEqual([expect.objectContaining({ offset: at + 2 + 3, size: 3, port: 8080 })]);
  });

  it('reports a wrong port prefix as KW_PF_BAD_PORT_PREFIX', () => {
    const { c, s } = wsPortForward('v4.channel.k8s.io');
    s.add(sframe(OP.binary, chan(0, le16(8081))));
    s.add(sframe(OP.binary, chan(0, 'data')));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const bad = anomalies(events, 'KW_PF_BAD_PORT_PREFIX');
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ dir: 's2c', layer: 'portforward', opaque: false });
    expect(bad[0]!.message).toContain('8081');
    expect(bad[0]!.message).toContain('8080');
    // The rest of the channel is still data.
    expect(ofType(events, 'pf.data').map((d) => payloadOf(d).toString())).toEqual(['data']);
    expect(summary.anomalies).toBe(1);
  });

  it('reports a channel with no port in the request', () => {
    const { c, s } = wsPortForward('v4.channel.k8s.io', 'v4.channel.k8s.io', `${POD}/portforward?ports=8080`);
    c.add(cframe(OP.binary, chan(4, 'x')));
    const { events } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(anomalies(events).map((a) => [a.dir, a.code, a.layer])).toEqual([['c2s', 'KW_CHANNEL_UNKNOWN', 'portforward']]);
    expect(ofType(events, 'pf.data')).toEqual([expect.objectContaining({ channel: 4, port: null })]);
  });
});

/** kubectl's port-forward streams for one local connection (protocol.md B §7). */
function pfStreams(c: SpdyWriter, errorId: number, dataId: number, port: number, requestId: string | null): Buffer[] {
  const h = (type: string): [string, string][] => [['streamtype', type], ['port', String(port)], ...(requestId === null ? [] : [['requestid', requestId] as [string, string]])];
  return [c.syn(errorId, h('error')), c.data(errorId, '', true), c.syn(dataId, h('data'))];
}

describe('SPDY portforward.k8s.io', () => {
  const PF_SPDY = `${POD}/portforward`;

  /** A SPDY port-forward connection: both heads written, frames added by the test. */
  function spdyPortForward() {
    const c = new Wire();
    const s = new Wire();
    c.add(spdyRequest(PF_SPDY, ['portforward.k8s.io']));
    s.add(spdyResponse('portforward.k8s.io'));
    return { c, s, cw: new SpdyWriter(), sw: new SpdyWriter() };
  }

  it('pairs error and data streams by requestid; error text is pf.error', () => {
    const { c, s, cw, sw } = spdyPortForward();
    c.add(...pfStreams(cw, 1, 3, 8080, '0'));
    s.add(sw.reply(1), sw.reply(3));
    const getAt = c.add(cw.data(3, 'GET / HTTP/1.1\r\n\r\n'));
    c.add(...pfStreams(cw, 5, 7, 9090, '1'));
    s.add(sw.reply(5), sw.reply(7));
    c.add(cw.data(7, 'x'));
    const okAt = s.add(sw.data(3, 'HTTP/1.1 200 OK\r\n\r\n'));
    const message = 'error forwarding port 9090 to pod 0123abcd, uid : dial tcp4 127.0.0.1:9090: connect: connection refused';
    s.add(sw.data(5, message.slice(0, 30)), sw.data(5, message.slice(30), true));
    s.add(sw.data(7, '', true), sw.data(1, '', true), sw.data(3, '', true));
    c.add(cw.data(3, '', true), encodeRstStream(7, 5), encodeGoaway(0));

    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ transport: 'spdy', semantics: 'portforward-spdy', protocol: 'portforward.k8s.io' });
    expect(ofType(events, 'spdy.stream').filter((e) => e.state === 'open').map((e) => [e.streamId, e.streamType, e.port, e.requestId])).toEqual([
      [1, 'error', 8080, '0'],
      [3, 'data', 8080, '0'],
      [5, 'error', 9090, '1'],
      [7, 'data', 9090, '1'],
    ]);
    const data = ofType(events, 'pf.data');
    expect(data.map((d) => [d.dir, d.streamId, d.requestId, d.port, payloadOf(d).toString()])).toEqual([
      ['c2s', 3, '0', 8080, 'GET / HTTP/1.1\r\n\r\n'],
      ['c2s', 7, '1', 9090, 'x'],
      ['s2c', 3, '0', 8080, 'HTTP/1.1 200 OK\r\n\r\n'],
    ]);
    expect(data[0]!.offset).toBe(getAt + 8);
    expect(data[2]!.offset).toBe(okAt + 8);
    const errors = ofType(events, 'pf.error');
    expect(errors).toEqual([expect.objectContaining({ dir: 's2c', requestId: '1', port: 9090, message })]);
    expect(errors[0]!.tunnel).toBeUndefined();
    // A stream is closed once both sides FINned it; the client's RST on 7 resets it.
    const ends = ofType(events, 'spdy.stream').filter((e) => e.state !== 'open');
    expect(ends.map((e) => [e.dir, e.streamId, e.state, e.requestId])).toEqual([
      ['c2s', 7, 'reset', '1'],
      ['s2c', 5, 'closed', '1'],
      ['s2c', 1, 'closed', '0'],
      ['s2c', 3, 'closed', '0'],
    ]);
    expect(anomalies(events)).toEqual([]);
    expect(summary).toMatchObject({ transport: 'spdy', response: { status: 101, protocol: 'portforward.k8s.io' }, request: { method: 'POST', operation: 'portforward', upgrade: 'SPDY/3.1', offered: ['portforward.k8s.io'] }, streams: {}, anomalies: 0 });
    expect(summary.portForward).toEqual([
      { requestId: '0', port: 8080, c2s: digest('GET / HTTP/1.1\r\n\r\n'), s2c: digest('HTTP/1.1 200 OK\r\n\r\n'), error: null },
      { requestId: '1', port: 9090, c2s: digest('x'), s2c: EMPTY, error: message },
    ]);
  });

  it('reports the error text when the server resets the error stream instead of ending it', () => {
    const { c, s, cw, sw } = spdyPortForward();
    c.add(...pfStreams(cw, 1, 3, 80, '0'));
    s.add(sw.reply(1), sw.reply(3), sw.data(1, 'lost connection to pod'), encodeRstStream(1, 5));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'pf.error').map((e) => e.message)).toEqual(['lost connection to pod']);
    expect(summary.portForward[0]!.error).toBe('lost connection to pod');
  });

  it('without requestid, pairs by stream id (the error stream id, or data id - 2)', () => {
    const { c, s, cw, sw } = spdyPortForward();
    c.add(...pfStreams(cw, 1, 3, 80, null));
    c.add(cw.data(3, 'req'));
    s.add(sw.reply(1), sw.reply(3), sw.data(3, 'resp'), sw.data(1, 'oops', true));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'spdy.stream').filter((e) => e.state === 'open').map((e) => [e.streamId, e.requestId])).toEqual([
      [1, '1'],
      [3, '1'],
    ]);
    expect(summary.portForward).toEqual([{ requestId: '1', port: 80, c2s: digest('req'), s2c: digest('resp'), error: 'oops' }]);
  });
});

/** kubectl's tunnel writes: every SPDY field its own WebSocket message (protocol.md B §7). */
function kubectlPieces(frame: Buffer): Buffer[] {
  let sizes: number[];
  if ((frame[0]! & 0x80) === 0) sizes = [4, 4];
  else if (frame.readUInt16BE(2) === 1) sizes = [2, 2, 4, 4, 4, 1, 1];
  else sizes = [2, 2, 4];
  const out: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    out.push(frame.subarray(at, at + n));
    at += n;
  }
  out.push(frame.subarray(at)); // empty for a FIN-only DATA frame: an empty binary message
  return out;
}

function tunnelFlags(events: KubewireEvent[]): { inside: KubewireEvent[]; outside: KubewireEvent[] } {
  const isInside = (e: KubewireEvent): boolean => e.type.startsWith('spdy.') || e.type.startsWith('pf.');
  return { inside: events.filter(isInside), outside: events.filter((e) => !isInside(e)) };
}

describe('the SPDY/3.1+portforward.k8s.io tunnel', () => {
  const TUNNEL = 'SPDY/3.1+portforward.k8s.io';

  function tunnelConnection() {
    const cw = new SpdyWriter();
    const sw = new SpdyWriter();
    const { c, s } = wsPortForward(TUNNEL, TUNNEL, `${POD}/portforward`);
    const client = (frame: Buffer) => c.add(...kubectlPieces(frame).map((p) => cframe(OP.binary, p)));
    // The server's messages arrive fragmented: a binary frame and continuations.
    const server = (frame: Buffer, cuts: number[]) => {
      const edges = [0, ...cuts.filter((k) => k > 0 && k < frame.length), frame.length];
      for (let i = 0; i + 1 < edges.length; i++) {
        s.add(sframe(i === 0 ? OP.binary : OP.cont, frame.subarray(edges[i], edges[i + 1]), { fin: i + 2 === edges.length }));
      }
    };
    return { cw, sw, c, s, client, server };
  }

  it('joins SPDY split field by field and fragmented, and marks what is inside as tunnel', () => {
    const { cw, sw, c, s, client, server } = tunnelConnection();
    for (const f of pfStreams(cw, 1, 3, 8080, '0')) client(f);
    server(sw.reply(1), [3]);
    server(sw.reply(3), [1, 9]);
    client(cw.data(3, 'GET /'));
    client(encodePing(1));
    server(sw.data(3, 'HTTP/1.1 200 OK'), [4, 8, 12]);
    server(encodePing(1), [6]);
    server(sw.data(1, 'error forwarding port 8080', true), [10]);
    client(cw.data(3, '', true));
    c.add(cframe(OP.close, closePayload(1000)));
    s.add(sframe(OP.close, closePayload(1000)));

    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ transport: 'websocket+spdy', semantics: 'portforward-tunnel', layers: ['websocket', 'spdy', 'portforward'], protocol: TUNNEL });
    // kubectl's FIN-only DATA frames end with an empty binary message.
    expect(ofType(events, 'ws.frame').filter((f) => f.dir === 'c2s' && f.kind === 'binary' && f.length === 0)).toHaveLength(2);
    const { inside, outside } = tunnelFlags(events);
    expect(inside.length).toBeGreaterThan(0);
    expect(inside.every((e) => 'tunnel' in e && e.tunnel === true)).toBe(true);
    expect(outside.every((e) => !('tunnel' in e))).toBe(true);

    expect(outline(events).filter((l) => l.startsWith('spdy.frame'))).toEqual([
      'spdy.frame c2s SYN_STREAM 1',
      'spdy.frame c2s DATA 1 fin',
      'spdy.frame c2s SYN_STREAM 3',
      'spdy.frame c2s DATA 3',
      'spdy.frame c2s PING',
      'spdy.frame c2s DATA 3 fin',
      'spdy.frame s2c SYN_REPLY 1',
      'spdy.frame s2c SYN_REPLY 3',
      'spdy.frame s2c DATA 3',
      'spdy.frame s2c PING',
      'spdy.frame s2c DATA 1 fin',
    ]);
    // Inside the tunnel offsets count bytes of the joined SPDY stream.
    const firstSyn = ofType(events, 'spdy.frame')[0]!;
    expect(firstSyn.offset).toBe(0);
    expect(ofType(events, 'pf.data').map((d) => [d.dir, d.requestId, d.port, payloadOf(d).toString()])).toEqual([
      ['c2s', '0', 8080, 'GET /'],
      ['s2c', '0', 8080, 'HTTP/1.1 200 OK'],
    ]);
    expect(ofType(events, 'pf.error')).toEqual([expect.objectContaining({ requestId: '0', port: 8080, message: 'error forwarding port 8080', tunnel: true })]);
    expect(anomalies(events)).toEqual([]);
    expect(summary).toMatchObject({
      transport: 'websocket+spdy',
      response: { status: 101, protocol: TUNNEL },
      pings: { c2s: 1, s2c: 1 },
      closeCodes: { c2s: 1000, s2c: 1000 },
      anomalies: 0,
    });
    expect(summary.portForward).toEqual([{ requestId: '0', port: 8080, c2s: digest('GET /'), s2c: digest('HTTP/1.1 200 OK'), error: 'error forwarding port 8080' }]);
  });

  it('reports a text message inside the tunnel as KW_TUNNEL_TEXT_MESSAGE and skips its bytes', () => {
    const { cw, sw, c, s, client, server } = tunnelConnection();
    for (const f of pfStreams(cw, 1, 3, 80, '0')) client(f);
    const textAt = c.add(cframe(OP.text, 'not spdy'));
    c.add(cframe(OP.text, 'again'));
    client(cw.data(3, 'after'));
    server(sw.reply(1), []);
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    const text = anomalies(events, 'KW_TUNNEL_TEXT_MESSAGE');
    expect(text).toEqual([expect.objectContaining({ dir: 'c2s', offset: textAt, layer: 'tunnel', opaque: false })]);
    // The text bytes never reach SPDY, so the stream after them still parses.
    expect(ofType(events, 'pf.data').map((d) => payloadOf(d).toString())).toEqual(['after']);
    expect(anomalies(events)).toHaveLength(1);
    expect(summary.anomalies).toBe(1);
  });

  it('reads a SPDY frame that begins and ends in the middle of WebSocket messages', () => {
    const { cw, sw, c, s, client } = tunnelConnection();
    for (const f of pfStreams(cw, 1, 3, 80, '0')) client(f);
    // Two frames in one message, cut again in the middle of the second frame's header.
    const joined = Buffer.concat([sw.reply(1), sw.reply(3), sw.data(3, 'abc')]);
    s.add(sframe(OP.binary, joined.subarray(0, joined.length - 9)));
    s.add(sframe(OP.binary, Buffer.alloc(0)));
    s.add(sframe(OP.binary, joined.subarray(joined.length - 9)));
    const { events } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(outline(events).filter((l) => l.startsWith('spdy.frame s2c'))).toEqual([
      'spdy.frame s2c SYN_REPLY 1',
      'spdy.frame s2c SYN_REPLY 3',
      'spdy.frame s2c DATA 3',
    ]);
    expect(ofType(events, 'pf.data').map((d) => [d.dir, payloadOf(d).toString()])).toEqual([['s2c', 'abc']]);
    expect(anomalies(events)).toEqual([]);
  });

  it('reports a tunnel that ends inside a SPDY frame on conn.end, marked tunnel', () => {
    const { cw, c, s, client } = tunnelConnection();
    for (const f of pfStreams(cw, 1, 3, 80, '0')) client(f);
    c.add(cframe(OP.binary, cw.data(3, 'abcdef').subarray(0, 10)));
    const { events } = expectChunkingInvariant(c.bytes, s.bytes);
    const end = ofType(events, 'conn.end').find((e) => e.dir === 'c2s')!;
    expect(end.cutOff).toMatchObject({ layer: 'spdy', tunnel: true });
  });
});
