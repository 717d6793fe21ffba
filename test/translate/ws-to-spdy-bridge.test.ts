/**
 * The WebSocket→SPDY bridges as playbooks (test/support/ws-bridge-play.ts): a scripted kubectl
 * (masked WebSocket frames) on one side, a scripted kubelet (SPDY frames from the project's
 * encoders) on the other, and what the bridge writes to each, decoded back, in every chunking.
 */
import { describe, expect, it } from 'vitest';
import { encodeDataFrame, encodeGoaway, encodePing, encodeRstStream } from '../../src/codec/spdy-encode.js';
import { encodeClosePayload } from '../../src/codec/websocket-encode.js';
import type { ExpectedStreams } from '../../src/translate/remotecommand-bridge.js';
import { TunnelToSpdyBridge } from '../../src/translate/tunnel-bridge.js';
import { WebSocketToSpdyBridge } from '../../src/translate/ws-to-spdy-bridge.js';
import { client, Kubelet, msg, play, playAllChunkings, type Make, type Run } from '../support/ws-bridge-play.js';

const V4 = 'v4.channel.k8s.io';
const V5 = 'v5.channel.k8s.io';
const V1 = 'channel.k8s.io';
const EXIT_3 = '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}';
const SUCCESS = '{"metadata":{},"status":"Success"}';

const remote = (streams: ExpectedStreams, clientProtocol = V5, upstreamProtocol = V4): Make => (out) => new WebSocketToSpdyBridge({ clientProtocol, upstreamProtocol, streams, out });
const tunnel: Make = (out) => new TunnelToSpdyBridge({ out });

const data = (channel: number, text: string): string => `binary ${channel} ${JSON.stringify(text)}`;

/** The tunnel's view: the bytes upstream, and the client's frames with binary payloads joined. */
function tunnelView(r: Run): unknown {
  const joined: string[] = [];
  for (const f of r.client) {
    const m = /^binary (\d+) "(.*)"$/.exec(f);
    if (m && joined.length && joined.at(-1)!.startsWith('bytes ')) joined[joined.length - 1] += Buffer.of(Number(m[1])).toString('hex') + Buffer.from(JSON.parse(`"${m[2]}"`) as string, 'latin1').toString('hex');
    else if (m) joined.push('bytes ' + Buffer.of(Number(m[1])).toString('hex') + Buffer.from(JSON.parse(`"${m[2]}"`) as string, 'latin1').toString('hex'));
    else joined.push(f);
  }
  return { upstream: r.raw.upstream, client: joined, ends: r.ends };
}
const EXEC_I: ExpectedStreams = { stdin: true, stdout: true, stderr: true, resize: false };

describe('WebSocket exec to SPDY', () => {
  it('exec -i, v5 client, v4 upstream: the streams, stdin, its end (FF 00 → FIN), pings on each leg, output, the status verbatim, the close', () => {
    const kubelet = new Kubelet();
    const r = playAllChunkings([
      { from: 'start' },
      { from: 'upstream', bytes: kubelet.reply(1, 3, 5, 7) },
      { from: 'client', bytes: Buffer.concat([msg(0, 'abc'), client(9, 'p'), msg(0, ''), client(2, Buffer.of(0xff), false), client(0, Buffer.of(0))]) },
      { from: 'upstream', bytes: Buffer.concat([encodePing(2), encodeDataFrame(5, Buffer.from('abc')), encodeDataFrame(7, Buffer.from('warn')), encodeDataFrame(5, Buffer.alloc(0), true), encodeDataFrame(7, Buffer.alloc(0), true)]) },
      { from: 'keepalive' },
      { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(1, Buffer.from(EXIT_3.slice(0, 50))), encodeDataFrame(1, Buffer.from(EXIT_3.slice(50)), true), encodeRstStream(3, 5), encodeGoaway(7, 0)]) },
      { from: 'upstream-end' },
    ], remote(EXEC_I));
    expect(r.upstream).toEqual([
      'SYN_STREAM 1 streamtype=error', 'SYN_STREAM 3 streamtype=stdin', 'SYN_STREAM 5 streamtype=stdout', 'SYN_STREAM 7 streamtype=stderr',
      'DATA 3 "abc"', 'DATA 3 FIN', 'PING 2', 'PING 1', 'RST 3 5', 'GOAWAY 0 0',
    ]);
    expect(r.client).toEqual([data(1, ''), 'pong 70', data(1, 'abc'), data(2, 'warn'), 'ping', data(3, EXIT_3), 'close 03e8']);
    expect(r.ends).toEqual(['upstream by upstream', 'client by upstream']);
  });

  it('a tty with a resize: channel 4 goes to the resize stream verbatim, no stderr stream; the first message is on stdout', () => {
    const r = playAllChunkings([
      { from: 'start' },
      { from: 'client', bytes: Buffer.concat([msg(4, '{"Width":100,"Height":30}\n'), msg(0, 'ls\r')]) },
      { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(1, Buffer.from(SUCCESS), true)]) },
    ], remote({ stdin: true, stdout: true, stderr: false, resize: true }));
    expect(r.upstream).toEqual(['SYN_STREAM 1 streamtype=error', 'SYN_STREAM 3 streamtype=stdin', 'SYN_STREAM 5 streamtype=stdout', 'SYN_STREAM 7 streamtype=resize', 'DATA 7 "{\\"Width\\":100,\\"Height\\":30}\\n"', 'DATA 3 "ls\\r"', 'RST 3 5', 'RST 7 5', 'GOAWAY 0 0']);
    expect(r.client).toEqual([data(1, ''), data(3, SUCCESS), 'close 03e8']);
  });

  it('only stderr asked for: the first message is on channel 2, stdin data for a stream not asked for is dropped', () => {
    const r = play([{ from: 'start' }, { from: 'client', bytes: msg(0, 'x') }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from(SUCCESS), true) }], remote({ stdin: false, stdout: false, stderr: true, resize: false }));
    expect(r.upstream).toEqual(['SYN_STREAM 1 streamtype=error', 'SYN_STREAM 3 streamtype=stderr', 'GOAWAY 0 0']);
    expect(r.client[0]).toBe(data(2, ''));
  });

  it('a v1 client (channel.k8s.io): the JSON Status becomes the text of v1, success becomes nothing', () => {
    const fail = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from(EXIT_3), true) }], remote(EXEC_I, V1));
    expect(fail.client).toEqual([data(1, ''), data(3, 'command terminated with non-zero exit code: exit status 3'), 'close 03e8']);
    const ok = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from(SUCCESS), true) }], remote(EXEC_I, ''));
    expect(ok.client).toEqual([data(1, ''), 'close 03e8']);
  });

  it('a v3 upstream (text status) to a v5 client: its text becomes a Failure Status, nothing becomes Success', () => {
    const fail = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from('boom'), true) }], remote(EXEC_I, V5, 'v3.channel.k8s.io'));
    expect(fail.client[1]).toBe(data(3, '{"metadata":{},"status":"Failure","message":"boom","reason":"InternalError","code":500}'));
    const ok = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.alloc(0), true) }], remote(EXEC_I, V5, 'v3.channel.k8s.io'));
    expect(ok.client).toEqual([data(1, ''), 'close 03e8']);
  });

  it('a v4 client cannot send the end of stdin: a close signal from it is noted and not carried', () => {
    const r = play([{ from: 'start' }, { from: 'client', bytes: msg(255, Buffer.of(0)) }], remote(EXEC_I, V4));
    expect(r.upstream).not.toContain('DATA 3 FIN');
    expect(r.problems).toEqual(['notice: the client sent a close signal, which v4.channel.k8s.io does not have: not carried']);
  });

  it('the upstream ends before any status: a failure Status, so the client does not report success', () => {
    const r = play([{ from: 'start' }, { from: 'upstream-end' }], remote(EXEC_I));
    expect(r.client[1]).toContain('kubewire: the upstream ended the SPDY connection before any status (translating WebSocket to SPDY)');
    expect(r.client[1]).toMatch(/^binary 3 /);
    expect(r.client.at(-1)).toBe('close 03e8');
  });

  it('the client leaves (close frame): the upstream gets RST and GOAWAY, both legs end', () => {
    const r = playAllChunkings([{ from: 'start' }, { from: 'client', bytes: client(8, encodeClosePayload(1000)) }], remote(EXEC_I));
    expect(r.upstream.slice(-2)).toEqual(['RST 3 5', 'GOAWAY 0 0']);
    expect(r.ends).toEqual(['upstream by client', 'client by client']);
  });
});

describe('WebSocket port-forward tunnel to SPDY', () => {
  it('binary payloads are the SPDY bytes upstream, upstream bytes come down as binary messages; pings answered; close ends both', () => {
    const syn = Buffer.from('80030001000000200000000100000000', 'hex');
    const r = playAllChunkings([
      { from: 'client', bytes: Buffer.concat([client(2, syn.subarray(0, 8)), client(2, syn.subarray(8)), client(9, ''), client(2, '')]) },
      { from: 'upstream', bytes: encodePing(1) },
      { from: 'keepalive' },
      { from: 'client', bytes: client(8, encodeClosePayload(1000)) },
    ], tunnel, tunnelView);
    expect(r.raw.upstream).toBe(syn.toString('hex'));
    expect(tunnelView(r)).toMatchObject({ client: ['pong', `bytes ${encodePing(1).toString('hex')}`, 'ping'] });
    expect(r.ends).toEqual(['upstream by client', 'client by client']);
  });

  it('the upstream ends: close 1000 to the client', () => {
    const r = play([{ from: 'upstream', bytes: Buffer.of(1, 2, 3) }, { from: 'upstream-end' }], tunnel);
    expect(r.client).toEqual([data(1, '\x02\x03'), 'close 03e8']);
    expect(r.ends).toEqual(['upstream by upstream', 'client by upstream']);
  });

  it('a text message is not part of the tunnel: noted, both legs end with 1002 to the client', () => {
    const r = play([{ from: 'client', bytes: client(1, 'hi') }], tunnel);
    expect(r.client).toEqual(['close 03ea']);
    expect(r.problems).toEqual(['the client sent a text message in the port-forward tunnel']);
  });
});
