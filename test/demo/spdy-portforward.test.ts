import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeGoaway, encodeRstStream } from '../../src/codec/spdy-encode.js';
import type { DialPodPort } from '../../src/demo/contracts.js';
import { parsePortHeader, serveSpdyPortForward } from '../../src/demo/spdy-portforward.js';
import { SpdyServerConnection } from '../../src/demo/spdy-server-connection.js';
import { spdySocketPair, type SpdyTestClient } from '../support/spdy-client.js';
import { fakePod } from './fixtures.js';

/** Pod sockets and servers a test opened, closed after it. */
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

// ---- fake pod ports and a served session ----

const POD = fakePod({ name: 'p1', uid: 'uid-1' });

interface PodPorts {
  dial: DialPodPort;
  dialed: number[];
  /** Pod-side sockets, to watch them close. */
  sockets: net.Socket[];
}

/**
 * Pod ports 80 and 81: each answers `P<port>|`, echoes what it gets and ends when the client
 * ends (half-close passed on). Any other port is refused with the text a kubelet would write.
 */
async function podPorts(): Promise<PodPorts> {
  const addresses = new Map<number, number>();
  const sockets: net.Socket[] = [];
  for (const port of [80, 81]) {
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      sockets.push(s);
      s.on('error', () => {});
      s.write(`P${port}|`);
      s.on('data', (d) => s.write(d));
      s.on('end', () => s.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    addresses.set(port, (server.address() as net.AddressInfo).port);
    cleanups.push(() => server.close());
  }
  const dialed: number[] = [];
  const dial: DialPodPort = (pod, port) => {
    dialed.push(port);
    const real = addresses.get(port);
    if (real === undefined) {
      return Promise.reject(new Error(`error forwarding port ${port} to pod ${pod.name}, uid ${pod.uid}: connection refused`));
    }
    return new Promise((resolve, reject) => {
      const s = net.connect({ port: real, host: '127.0.0.1', allowHalfOpen: true });
      cleanups.push(() => s.destroy());
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  };
  return { dial, dialed, sockets };
}

async function serve(options: { streamTimeoutMs?: number } = {}) {
  const pod = await podPorts();
  const { client, server } = await spdySocketPair();
  const conn = new SpdyServerConnection(server);
  serveSpdyPortForward(conn, POD, pod.dial, options);
  return { client, conn, pod };
}

/** kubectl's sequence for one local connection: error stream (FIN'd at once), then data. */
async function openPair(client: SpdyTestClient, port: string, requestId: string | null): Promise<{ error: number; data: number }> {
  const extra: Record<string, string> = requestId === null ? {} : { requestid: requestId };
  const error = client.open({ streamtype: 'error', port, ...extra });
  await client.replied(error);
  client.data(error, '', true);
  const data = client.open({ port, streamtype: 'data', ...extra });
  await client.replied(data);
  return { error, data };
}

// ---- tests ----

describe('parsePortHeader', () => {
  it('checks the port as the kubelet stream validator does', () => {
    expect(parsePortHeader('8080')).toEqual({ ok: true, port: 8080 });
    expect(parsePortHeader(null)).toEqual({ ok: false, message: '"port" header is required' });
    expect(parsePortHeader('x')).toEqual({ ok: false, message: 'unable to parse "x" as a port: strconv.ParseUint: parsing "x": invalid syntax' });
    expect(parsePortHeader('70000')).toEqual({
      ok: false,
      message: 'unable to parse "70000" as a port: strconv.ParseUint: parsing "70000": value out of range',
    });
    expect(parsePortHeader('0')).toEqual({ ok: false, message: 'port "0" must be > 0' });
    expect(parsePortHeader('-1').ok).toBe(false);
  });
});

describe('serveSpdyPortForward', () => {
  it('pairs by requestid, copies both ways, and passes the half-close on: FIN on error and data', async () => {
    const { client, pod } = await serve();
    const { error, data } = await openPair(client, '80', '0');
    client.data(data, 'hello ');
    client.data(data, 'pod');
    await client.until('echo', () => client.received(data).toString() === 'P80|hello pod');
    expect(client.finned(data)).toBe(false); // the client has not half-closed yet
    client.data(data, '', true);
    await client.until('FINs', () => client.finned(data) && client.finned(error));
    expect(pod.dialed).toEqual([80]);
    expect(client.received(error).toString()).toBe('');
    expect(client.summary().filter((s) => s.endsWith('FIN'))).toEqual([`DATA ${error} FIN`, `DATA ${data} FIN`]);
  });

  it('pairs interleaved local connections by requestid, not by stream id', async () => {
    const { client, pod } = await serve();
    const e0 = client.open({ streamtype: 'error', port: '80', requestid: '0' });
    const e1 = client.open({ streamtype: 'error', port: '81', requestid: '1' });
    const d1 = client.open({ streamtype: 'data', port: '81', requestid: '1' });
    const d0 = client.open({ streamtype: 'data', port: '80', requestid: '0' });
    await client.replied(d0);
    client.data(d1, 'one', true);
    client.data(d0, 'zero', true);
    await client.until('all FINs', () => [e0, e1, d0, d1].every((id) => client.finned(id)));
    expect(client.received(d0).toString()).toBe('P80|zero');
    expect(client.received(d1).toString()).toBe('P81|one');
    expect(pod.dialed.sort()).toEqual([80, 81]);
  });

  it('without requestid, pairs the error stream id with data id − 2 (old clients)', async () => {
    const { client } = await serve();
    const a = await openPair(client, '80', null);
    const b = await openPair(client, '81', null);
    expect([a, b]).toEqual([
      { error: 1, data: 3 },
      { error: 5, data: 7 },
    ]);
    client.data(a.data, 'a', true);
    client.data(b.data, 'b', true);
    await client.until('all FINs', () => [1, 3, 5, 7].every((id) => client.finned(id)));
    expect(client.received(3).toString()).toBe('P80|a');
    expect(client.received(7).toString()).toBe('P81|b');
  });

  it('client bytes sent before the pod port answers are kept and delivered in order', async () => {
    const { client } = await serve();
    const error = client.open({ streamtype: 'error', port: '80', requestid: '0' });
    const data = client.open({ streamtype: 'data', port: '80', requestid: '0' });
    client.data(data, 'early', true);
    await client.until('FINs', () => client.finned(data) && client.finned(error));
    expect(client.received(data).toString()).toBe('P80|early');
  });

  it('a refused dial writes the rejection text on the error stream, then FINs error and data', async () => {
    const { client, pod } = await serve();
    const { error, data } = await openPair(client, '82', '0');
    await client.until('FINs', () => client.finned(data) && client.finned(error));
    expect(pod.dialed).toEqual([82]);
    expect(client.summary().slice(-3)).toEqual([
      `DATA ${error} "error forwarding port 82 to pod p1, uid uid-1: connection refused"`,
      `DATA ${error} FIN`,
      `DATA ${data} FIN`,
    ]);
  });

  it('a bad port header is answered with the kubelet text on the error stream', async () => {
    const { client, pod } = await serve();
    const { error, data } = await openPair(client, 'x', '0');
    await client.until('FINs', () => client.finned(data) && client.finned(error));
    expect(client.received(error).toString()).toBe('unable to parse "x" as a port: strconv.ParseUint: parsing "x": invalid syntax');
    expect(pod.dialed).toEqual([]);
  });

  it('a pair whose data stream never comes times out with a message on its error stream', async () => {
    const { client } = await serve({ streamTimeoutMs: 60 });
    const error = client.open({ streamtype: 'error', port: '80', requestid: '7' });
    await client.until('FIN', () => client.finned(error));
    expect(client.received(error).toString()).toBe('(request=7) timed out waiting for streams');
  });

  it('a second stream of the same type for a request is reported on that request\'s error stream', async () => {
    const { client } = await serve({ streamTimeoutMs: 200 });
    const error = client.open({ streamtype: 'error', port: '80', requestid: '3' });
    client.open({ streamtype: 'error', port: '80', requestid: '3' });
    await client.until('message', () => client.received(error).toString().includes('already assigned'));
    expect(client.received(error).toString()).toBe('error processing stream for request 3: error stream already assigned');
  });

  it('a client RST on the data stream drops the pod connection', async () => {
    const { client, pod } = await serve();
    const { data } = await openPair(client, '80', '0');
    await client.until('greeting', () => client.received(data).toString() === 'P80|');
    const podSide = pod.sockets[0]!;
    const closed = new Promise<void>((r) => podSide.once('close', () => r()));
    client.send(encodeRstStream(data, 5));
    await closed;
  });

  it('a client GOAWAY drops every pod connection and closes the session', async () => {
    const { client, pod } = await serve();
    const { data } = await openPair(client, '80', '0');
    await client.until('greeting', () => client.received(data).toString() === 'P80|');
    const closed = new Promise<void>((r) => pod.sockets[0]!.once('close', () => r()));
    client.send(encodeGoaway(0, 0));
    await closed;
    await client.until('tcp end', () => client.tcpEnded);
    expect(client.summary().slice(-1)).toEqual([`GOAWAY ${data} 0`]);
  });

  it('a large transfer both ways arrives whole (backpressure on either side loses nothing)', async () => {
    const { client } = await serve();
    const { error, data } = await openPair(client, '81', '0');
    const payload = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    for (let at = 0; at < payload.length; at += 32 * 1024) client.data(data, payload.subarray(at, at + 32 * 1024));
    client.data(data, '', true);
    await client.until('FINs', () => client.finned(data) && client.finned(error), 8000);
    const got = client.received(data);
    expect(got.subarray(0, 4).toString()).toBe('P81|');
    expect(got.subarray(4).equals(payload)).toBe(true);
  });
});
