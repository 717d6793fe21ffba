import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  SpdyHeaderBlockDeflater,
  encodeDataFrame,
  encodeGoaway,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynStream,
  encodeWindowUpdate,
} from '../../src/codec/spdy-encode.js';
import { SpdyServerConnection, type SpdyServerError, type SpdyServerStream } from '../../src/demo/spdy-server-connection.js';
import { spdySocketPair, type ReceivedFrame } from '../support/spdy-client.js';

async function connected(options: ConstructorParameters<typeof SpdyServerConnection>[1] = {}) {
  const { client, server } = await spdySocketPair();
  const conn = new SpdyServerConnection(server, options);
  const streams: SpdyServerStream[] = [];
  const errors: SpdyServerError[] = [];
  conn.on('stream', (s: SpdyServerStream) => streams.push(s));
  conn.on('error', (e: SpdyServerError) => errors.push(e));
  return { client, server, conn, streams, errors };
}

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

// ---- tests ----

describe('SpdyServerConnection', () => {
  it('answers each SYN_STREAM at once with an empty SYN_REPLY, all blocks from one deflater', async () => {
    const { client, streams } = await connected();
    client.open({ streamtype: 'error' });
    await client.until('first reply', () => client.frames.length === 1);
    client.open({ StreamType: 'stdout', port: '80' });
    await client.until('second reply', () => client.frames.length === 2);

    expect(client.summary()).toEqual(['SYN_REPLY 1', 'SYN_REPLY 3']);
    const [first, second] = client.frames as Extract<ReceivedFrame, { type: 'SYN_REPLY' }>[];
    // The first block of the s2c zlib stream names the SPDY/3 dictionary; the second continues it.
    expect(first!.block.subarray(0, 6).toString('hex')).toBe('78f9e3c6a7c2');
    expect(first!.block.toString('hex')).toBe('78f9e3c6a7c262000200000000ffff'); // count 0, sync-flushed
    expect(second!.block[0]).not.toBe(0x78);
    expect(first!.headers).toEqual([]);
    expect(second!.headers).toEqual([]);

    expect(streams.map((s) => s.id)).toEqual([1, 3]);
    expect(streams[0]!.header('streamtype')).toBe('error');
    expect(streams[1]!.header('STREAMTYPE')).toBe('stdout');
    expect(streams[1]!.header('Port')).toBe('80');
    expect(streams[1]!.header('requestid')).toBeNull();
  });

  it('echoes client pings (odd ids) only, and ignores SETTINGS and WINDOW_UPDATE', async () => {
    const { client, errors } = await connected();
    client.send(encodePing(1));
    client.send(encodePing(2));
    client.send(encodeSettings([{ id: 7, value: 65536 }]));
    client.send(encodeWindowUpdate(0, 1000));
    client.send(encodePing(3));
    await client.until('ping 3', () => client.has((f) => f.type === 'PING' && f.id === 3));
    await tick();
    expect(client.summary()).toEqual(['PING 1', 'PING 3']);
    expect(errors).toEqual([]);
  });

  it('turns DATA into data events, FIN into end, RST into reset', async () => {
    const { client, streams } = await connected();
    const id = client.open({ streamtype: 'stdin' });
    await client.until('reply', () => client.frames.length === 1);
    const got: string[] = [];
    streams[0]!.on('data', (d: Buffer) => got.push(d.toString()));
    streams[0]!.on('end', () => got.push('<end>'));
    client.data(id, 'abc');
    client.data(id, 'def', true);
    await client.until('end', () => got.includes('<end>'));
    expect(got).toEqual(['abc', 'def', '<end>']);
    expect(streams[0]!.remoteEnded).toBe(true);
    expect(streams[0]!.localEnded).toBe(false);

    const other = client.open({ streamtype: 'stdout' });
    await client.until('reply', () => client.frames.length === 2);
    const resets: number[] = [];
    streams[1]!.on('reset', (code: number) => resets.push(code));
    client.send(encodeRstStream(other, 5));
    await client.until('reset', () => resets.length === 1);
    expect(resets).toEqual([5]);
    expect(streams[1]!.write(Buffer.from('late'))).toBe(false);
  });

  it('writes DATA frames of at most 32 KiB, and one empty FIN on end()', async () => {
    const { client, streams } = await connected();
    client.open({ streamtype: 'stdout' });
    await client.until('reply', () => streams.length === 1);
    const payload = Buffer.alloc(70_000, 7);
    expect(streams[0]!.write(payload)).toBeTypeOf('boolean');
    streams[0]!.end();
    streams[0]!.end();
    await client.until('fin', () => client.has((f) => f.type === 'DATA' && f.fin));
    const data = client.frames.filter((f): f is Extract<ReceivedFrame, { type: 'DATA' }> => f.type === 'DATA');
    expect(data.map((f) => [f.data.length, f.fin])).toEqual([
      [32768, false],
      [32768, false],
      [4464, false],
      [0, true],
    ]);
    expect(Buffer.concat(data.map((f) => f.data)).equals(payload)).toBe(true);
    expect(streams[0]!.localEnded).toBe(true);
  });

  it('close(): RST CANCEL for streams not FIN\'d locally, GOAWAY naming the highest client id, then TCP FIN', async () => {
    const { client, conn, streams } = await connected();
    client.open({ streamtype: 'error' });
    await client.until('reply 1', () => streams.length === 1);
    client.open({ streamtype: 'stdout' });
    await client.until('reply 3', () => streams.length === 2);
    client.open({ streamtype: 'stdin' });
    await client.until('reply 5', () => streams.length === 3);
    streams[1]!.end();
    conn.close();
    conn.close();
    await client.until('tcp end', () => client.tcpEnded);
    expect(client.summary()).toEqual(['SYN_REPLY 1', 'SYN_REPLY 3', 'SYN_REPLY 5', 'DATA 3 FIN', 'RST 1 5', 'RST 5 5', 'GOAWAY 5 0']);
    expect(conn.isClosed).toBe(true);
    expect(streams[0]!.write(Buffer.from('x'))).toBe(false);
  });

  it('answers a stream id that does not increase with RST PROTOCOL_ERROR', async () => {
    const { client, streams, errors } = await connected();
    client.open({ streamtype: 'error' }, 3);
    client.open({ streamtype: 'stdout' }, 1);
    await client.until('rst', () => client.has((f) => f.type === 'RST_STREAM'));
    expect(client.summary()).toEqual(['SYN_REPLY 3', 'RST 1 1']);
    expect(streams.map((s) => s.id)).toEqual([3]);
    expect(errors.map((e) => e.code)).toEqual(['KW_ERR_SPDY_PEER_PROTOCOL']);
  });

  it('reports a client GOAWAY and stops reading; close is emitted once when the client goes', async () => {
    const { client, conn } = await connected();
    const events: string[] = [];
    conn.on('goaway', (last: number, status: number) => events.push(`goaway ${last} ${status}`));
    conn.on('close', () => events.push('close'));
    client.send(encodeGoaway(0, 0));
    client.send(encodePing(1));
    await client.until('goaway event', () => events.length === 1);
    await tick();
    expect(client.frames).toEqual([]);
    client.socket.destroy();
    await client.until('close event', () => events.includes('close'));
    await tick();
    expect(events).toEqual(['goaway 0 0', 'close']);
  });

  it('never throws on socket errors; reports them only to an error listener', async () => {
    const { server } = await spdySocketPair();
    const conn = new SpdyServerConnection(server);
    let closed = 0;
    conn.on('close', () => closed++);
    server.destroy(new Error('boom'));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(1);

    const second = await connected();
    second.server.destroy(new Error('boom again'));
    await second.client.until('error event', () => second.errors.length === 1);
    expect(second.errors[0]!.code).toBe('KW_ERR_SPDY_SOCKET');
  });

  it('calls onFrame for every frame received and sent', async () => {
    let frames = 0;
    const { client } = await connected({ onFrame: () => frames++ });
    client.open({ streamtype: 'error' });
    client.send(encodePing(1));
    await client.until('ping echo', () => client.has((f) => f.type === 'PING'));
    expect(frames).toBe(4); // SYN_STREAM, SYN_REPLY, PING in, PING out
  });

  it('pauseReading() holds frames back until every pause is resumed', async () => {
    const { client, conn } = await connected();
    conn.pauseReading();
    conn.pauseReading();
    client.send(encodePing(1));
    await tick(60);
    expect(client.frames).toEqual([]);
    conn.resumeReading();
    await tick(60);
    expect(client.frames).toEqual([]);
    conn.resumeReading();
    await client.until('ping echo', () => client.frames.length === 1);
  });

  it('works over any Duplex, fed one byte at a time, head bytes first', async () => {
    const written: Buffer[] = [];
    const duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        written.push(chunk);
        cb();
      },
    });
    const deflater = new SpdyHeaderBlockDeflater();
    const syn = encodeSynStream({ streamId: 1, headerBlock: deflater.deflate([['streamtype', 'data']]) });
    const bytes = Buffer.concat([encodeDataFrame(1, Buffer.from('hello')), encodeDataFrame(1, Buffer.alloc(0), true), encodePing(5)]);
    const conn = new SpdyServerConnection(duplex, { head: syn.subarray(0, 5) });
    const log: string[] = [];
    conn.on('stream', (s: SpdyServerStream) => {
      log.push(`stream ${s.id} ${s.header('streamtype')}`);
      s.on('data', (d: Buffer) => log.push(`data ${d.toString()}`));
      s.on('end', () => log.push('end'));
    });
    for (const b of Buffer.concat([syn.subarray(5), bytes])) duplex.push(Buffer.from([b]));
    for (let i = 0; i < 50 && !log.includes('end'); i++) await tick(5);
    // Segments are cut at frame ends, never at read boundaries.
    expect(log).toEqual(['stream 1 data', 'data hello', 'end']);
    // SYN_REPLY then the PING echo.
    const out = Buffer.concat(written);
    expect(out.readUInt16BE(2)).toBe(2);
    expect(out.subarray(out.length - 12).equals(encodePing(5))).toBe(true);
    conn.destroy();
  });
});
