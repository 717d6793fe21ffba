/**
 * The older WebSocket protocols carried to SPDY, as playbooks in every chunking
 * (test/support/ws-bridge-play.ts): exec in the base64 channel protocols (text messages
 * `'0'+channel` + base64), and the kubelet's legacy WebSocket port-forward (ports in the query,
 * channels 2i and 2i+1, the port prefix first) to kubectl's SPDY port-forward streams. What
 * the bridge wrote to its client is also decoded as the observer decodes that leg, in every
 * chunking (test/support/chunking.ts), and must read as what it means.
 */
import { describe, expect, it } from 'vitest';
import { encodeDataFrame, encodeGoaway, encodeRstStream } from '../../src/codec/spdy-encode.js';
import { encodeClosePayload } from '../../src/codec/websocket-encode.js';
import type { ExpectedStreams } from '../../src/translate/remotecommand-bridge.js';
import { WsPortForwardToSpdyBridge } from '../../src/translate/ws-portforward-bridge.js';
import { WebSocketToSpdyBridge } from '../../src/translate/ws-to-spdy-bridge.js';
import { expectChunkingInvariant } from '../support/chunking.js';
import { client, Kubelet, msg, msg64, play, playAllChunkings, type Make, type Run, type Step } from '../support/ws-bridge-play.js';
import { anomalies, ofType, payloadOf, POD, wsRequest, wsResponse } from '../support/wire.js';

const V4 = 'v4.channel.k8s.io';
const V4_64 = 'v4.base64.channel.k8s.io';
const V1_64 = 'base64.channel.k8s.io';
const EXIT_3 = '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}';
const SUCCESS = '{"metadata":{},"status":"Success"}';
const EXEC_I: ExpectedStreams = { stdin: true, stdout: true, stderr: true, resize: false };
const TTY: ExpectedStreams = { stdin: true, stdout: true, stderr: false, resize: true };

const exec = (clientProtocol: string, streams: ExpectedStreams): Make => (out) => new WebSocketToSpdyBridge({ clientProtocol, upstreamProtocol: V4, streams, out });
const ports = (clientProtocol: string, list: number[]): Make => (out) => new WsPortForwardToSpdyBridge({ clientProtocol, ports: list, out });

const text = (channel: number, s: string | Buffer): string => `text ${channel} ${JSON.stringify(Buffer.from(s).toString('latin1'))}`;
const binary = (channel: number, s: string | Buffer): string => `binary ${channel} ${JSON.stringify(Buffer.from(s).toString('latin1'))}`;
const le16 = (port: number): Buffer => Buffer.of(port & 0xff, port >> 8);

/** The client leg as the observer sees it: the request and the 101, then both directions' frames. */
function clientLeg(target: string, protocol: string | null, steps: Step[], run: Run) {
  const c2s = Buffer.concat([wsRequest(target, protocol === null ? null : [protocol]), ...steps.flatMap((s) => (s.from === 'client' ? [s.bytes] : []))]);
  const s2c = Buffer.concat([wsResponse(protocol), Buffer.from(run.raw.client, 'hex')]);
  return expectChunkingInvariant(c2s, s2c, { exhaustiveLimit: 800, randomRuns: 2 });
}

describe('base64 exec to SPDY', () => {
  const EXEC_TARGET = `${POD}/exec?command=cat&stdin=true&stdout=true&stderr=true`;
  // A long stdin line in two text frames (a fragmented message), so the base64 groups straddle frames.
  const long = 'x'.repeat(70) + '\n';
  const long64 = '0' + Buffer.from(long).toString('base64');
  const book: Step[] = [
    { from: 'start' },
    { from: 'upstream', bytes: new Kubelet().reply(1, 3, 5, 7) },
    { from: 'client', bytes: Buffer.concat([msg64(0, 'abc\n'), client(9, 'p'), client(1, long64.slice(0, 31), false), client(0, long64.slice(31))]) },
    { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(5, Buffer.from('abc\n')), encodeDataFrame(7, Buffer.from([0, 1, 0xfe, 0xff]))]) },
    { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(1, Buffer.from(EXIT_3.slice(0, 40))), encodeDataFrame(1, Buffer.from(EXIT_3.slice(40)), true), encodeGoaway(7, 0)]) },
  ];

  it('v4.base64: stdin decoded to the stdin stream, stdout and stderr encoded as text, the JSON status verbatim', () => {
    const r = playAllChunkings(book, exec(V4_64, EXEC_I));
    expect(r.upstream).toEqual([
      'SYN_STREAM 1 streamtype=error', 'SYN_STREAM 3 streamtype=stdin', 'SYN_STREAM 5 streamtype=stdout', 'SYN_STREAM 7 streamtype=stderr',
      // Streamed frame by frame: the first frame's whole base64 groups, then the rest.
      'DATA 3 "abc\\n"', `DATA 3 "${'x'.repeat(21)}"`, `DATA 3 ${JSON.stringify(long.slice(21))}`, 'RST 3 5', 'GOAWAY 0 0',
    ]);
    // The first message is text "1" (empty stdout), as the kubelet sends it in base64 mode.
    expect(r.client).toEqual([text(1, ''), 'pong 70', text(1, 'abc\n'), text(2, Buffer.from([0, 1, 0xfe, 0xff])), text(3, EXIT_3), 'close 03e8']);
    expect(r.raw.client.slice(0, 6)).toBe('810131');
    expect(r.problems).toEqual([]);
    // The observer reads the client leg: stdin, stdout, stderr, the exit code.
    const { events } = clientLeg(EXEC_TARGET, V4_64, book, r);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ semantics: 'base64-v4' });
    const streamed = (stream: string) => ofType(events, 'k8s.data').filter((e) => e.stream === stream).map((e) => payloadOf(e).toString('latin1')).join('');
    expect(['stdin', 'stdout', 'stderr'].map(streamed)).toEqual([`abc\n${long}`, 'abc\n', '\x00\x01\xfe\xff']);
    expect(ofType(events, 'k8s.status')).toMatchObject([{ format: 'json', exitCode: 3 }]);
    expect(anomalies(events)).toEqual([]);
  });

  it('v4.base64 with a tty: channel 4 goes to the resize stream, decoded', () => {
    const steps: Step[] = [
      { from: 'start' },
      { from: 'client', bytes: Buffer.concat([msg64(4, '{"Width":100,"Height":30}\n'), msg64(0, 'ls\r')]) },
      { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from(SUCCESS), true) },
    ];
    const r = playAllChunkings(steps, exec(V4_64, TTY));
    expect(r.upstream).toEqual(['SYN_STREAM 1 streamtype=error', 'SYN_STREAM 3 streamtype=stdin', 'SYN_STREAM 5 streamtype=stdout', 'SYN_STREAM 7 streamtype=resize', 'DATA 7 "{\\"Width\\":100,\\"Height\\":30}\\n"', 'DATA 3 "ls\\r"', 'RST 3 5', 'RST 7 5', 'GOAWAY 0 0']);
    expect(r.client).toEqual([text(1, ''), text(3, SUCCESS), 'close 03e8']);
    const { events } = clientLeg(`${POD}/exec?command=sh&stdin=true&stdout=true&tty=true`, V4_64, steps, r);
    expect(ofType(events, 'k8s.resize')).toMatchObject([{ width: 100, height: 30 }]);
    expect(ofType(events, 'k8s.status')).toMatchObject([{ exitCode: 0 }]);
  });

  it('base64.channel.k8s.io (v1): the status as v1 text, none on success; no resize channel', () => {
    const fail: Step[] = [{ from: 'start' }, { from: 'client', bytes: msg64(4, '{"Width":100,"Height":30}\n') }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from(EXIT_3), true) }];
    const r = playAllChunkings(fail, exec(V1_64, TTY));
    expect(r.upstream).toEqual(['SYN_STREAM 1 streamtype=error', 'SYN_STREAM 3 streamtype=stdin', 'SYN_STREAM 5 streamtype=stdout', 'RST 3 5', 'GOAWAY 0 0']);
    expect(r.client).toEqual([text(1, ''), text(3, 'command terminated with non-zero exit code: exit status 3'), 'close 03e8']);
    const { events } = clientLeg(`${POD}/exec?command=sh&stdin=true&stdout=true&tty=true`, V1_64, fail, r);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ semantics: 'base64-v1' });
    expect(ofType(events, 'k8s.status')).toMatchObject([{ format: 'text', raw: 'command terminated with non-zero exit code: exit status 3' }]);
    const ok = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from(SUCCESS), true) }], exec(V1_64, EXEC_I));
    expect(ok.client).toEqual([text(1, ''), 'close 03e8']);
  });

  it('a message that is not base64 is dropped from there on and noted; the next one is read', () => {
    const r = play([{ from: 'start' }, { from: 'client', bytes: Buffer.concat([client(1, '0ab!c'), client(1, '!x'), msg64(0, 'ok')]) }], exec(V4_64, EXEC_I));
    expect(r.upstream.filter((l) => l.startsWith('DATA'))).toEqual(['DATA 3 "ok"']);
    expect(r.problems).toEqual([
      `notice: the client's ${V4_64} message: a base64 message holds characters outside the base64 alphabet: dropped, as the kubelet drops it`,
      `notice: the client's ${V4_64} message: a base64 message starts with "!", not a channel digit: dropped, as the kubelet drops it`,
    ]);
  });
});

describe('legacy WebSocket port-forward to SPDY', () => {
  const PF = `${POD}/portforward?ports=80&ports=7`;
  const book: Step[] = [
    { from: 'start' },
    { from: 'upstream', bytes: new Kubelet().reply(1, 3, 5, 7) },
    { from: 'client', bytes: Buffer.concat([msg(0, 'GET / HTTP/1.1\r\n\r\n'), client(9, ''), msg(2, 'echo me'), msg(1, 'ignored'), msg(9, 'no such port')]) },
    { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(3, Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), encodeDataFrame(7, Buffer.from('echo me'))]) },
    { from: 'keepalive' },
    // Port 7's pod side ends with an error, written in two frames: one message down.
    { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(5, Buffer.from('error forwarding port 7 to pod web, uid : ')), encodeDataFrame(5, Buffer.from('boom')), encodeDataFrame(5, Buffer.alloc(0), true), encodeDataFrame(7, Buffer.alloc(0), true)]) },
    { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(1, Buffer.alloc(0), true), encodeDataFrame(3, Buffer.alloc(0), true)]) },
  ];

  it("two ports: kubectl's stream pairs upstream, the port prefixes first, data both ways, the error text, close once every port is over", () => {
    const r = playAllChunkings(book, ports(V4, [80, 7]));
    expect(r.upstream).toEqual([
      'SYN_STREAM 1 streamtype=error port=80 requestid=0', 'DATA 1 FIN', 'SYN_STREAM 3 streamtype=data port=80 requestid=0',
      'SYN_STREAM 5 streamtype=error port=7 requestid=1', 'DATA 5 FIN', 'SYN_STREAM 7 streamtype=data port=7 requestid=1',
      'DATA 3 "GET / HTTP/1.1\\r\\n\\r\\n"', 'DATA 7 "echo me"', 'PING 1',
      // Every port over: kubectl's end of each connection, then of the session.
      'DATA 3 FIN', 'RST 3 5', 'DATA 7 FIN', 'RST 7 5', 'GOAWAY 0 0',
    ]);
    expect(r.client).toEqual([
      binary(0, le16(80)), binary(1, le16(80)), binary(2, le16(7)), binary(3, le16(7)),
      'pong', binary(0, 'HTTP/1.1 200 OK\r\n\r\n'), binary(2, 'echo me'), 'ping',
      binary(3, 'error forwarding port 7 to pod web, uid : boom'), 'close 03e8',
    ]);
    expect(r.ends).toEqual(['upstream by upstream', 'client by upstream']);
    // The observer reads the client leg as a legacy port-forward: the prefixes are not data.
    const { events, summary } = clientLeg(PF, V4, book, r);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ semantics: 'portforward-ws' });
    expect(ofType(events, 'pf.data').map((e) => [e.dir, e.port, payloadOf(e).toString('latin1')])).toEqual([
      ['c2s', 80, 'GET / HTTP/1.1\r\n\r\n'], ['c2s', 7, 'echo me'], ['s2c', 80, 'HTTP/1.1 200 OK\r\n\r\n'], ['s2c', 7, 'echo me'],
    ]);
    expect(ofType(events, 'pf.error').filter((e) => e.dir === 's2c')).toMatchObject([{ port: 7, message: 'error forwarding port 7 to pod web, uid : boom' }]);
    expect(summary.portForward.map((p) => p.port)).toEqual(expect.arrayContaining([80, 7]));
  });

  it('the base64 protocols: prefixes and data as base64 text both ways', () => {
    const steps: Step[] = [
      { from: 'start' },
      { from: 'client', bytes: msg64(0, Buffer.from([0, 0xff, 0x10, 0x20, 0x30])) },
      { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(3, Buffer.from('pong')), encodeRstStream(3, 5)]) },
    ];
    const r = playAllChunkings(steps, ports(V4_64, [8080]));
    expect(r.upstream).toEqual(['SYN_STREAM 1 streamtype=error port=8080 requestid=0', 'DATA 1 FIN', 'SYN_STREAM 3 streamtype=data port=8080 requestid=0', 'DATA 3 "\\u0000ÿ\\u0010 0"', 'DATA 3 FIN', 'RST 3 5', 'GOAWAY 0 0']);
    expect(r.client).toEqual([text(0, le16(8080)), text(1, le16(8080)), text(0, 'pong'), 'close 03e8']);
    const { events } = clientLeg(`${POD}/portforward?ports=8080`, V4_64, steps, r);
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ semantics: 'portforward-ws-base64' });
    expect(ofType(events, 'pf.data').map((e) => [e.dir, e.port, payloadOf(e).toString('hex')])).toEqual([['c2s', 8080, '00ff102030'], ['s2c', 8080, Buffer.from('pong').toString('hex')]]);
    expect(anomalies(events)).toEqual([]);
    // base64.channel.k8s.io and channel.k8s.io read the same way.
    expect(play(steps, ports(V1_64, [8080])).raw).toEqual(r.raw);
    expect(play([{ from: 'start' }], ports('channel.k8s.io', [8080])).client).toEqual([binary(0, le16(8080)), binary(1, le16(8080))]);
  });

  it('the client closes: FIN and RST CANCEL on every data stream, GOAWAY; no close frame back', () => {
    const r = playAllChunkings([{ from: 'start' }, { from: 'client', bytes: client(8, encodeClosePayload(1000)) }], ports(V4, [80, 7]));
    expect(r.upstream.slice(6)).toEqual(['DATA 3 FIN', 'RST 3 5', 'DATA 7 FIN', 'RST 7 5', 'GOAWAY 0 0']);
    expect(r.client).toEqual([binary(0, le16(80)), binary(1, le16(80)), binary(2, le16(7)), binary(3, le16(7))]);
    expect(r.ends).toEqual(['upstream by client', 'client by client']);
    const fin = play([{ from: 'start' }, { from: 'client-end' }], ports(V4, [80]));
    expect(fin.upstream.slice(3)).toEqual(['DATA 3 FIN', 'RST 3 5', 'GOAWAY 0 0']);
  });

  it('the upstream goes while a port is forwarded: the reason on its error channel, then close 1000', () => {
    const r = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(3, Buffer.alloc(0), true) }, { from: 'upstream-end' }], ports(V4, [80, 7]));
    expect(r.client.slice(4)).toEqual([binary(3, 'kubewire: the upstream ended the SPDY connection (translating WebSocket to SPDY)'), 'close 03e8']);
    expect(r.problems).toEqual(['the upstream ended the SPDY connection while ports were forwarded']);
  });
});
