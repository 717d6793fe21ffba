/**
 * A hand-written SPDY/3.1 client for the tests of the demo's SPDY server: the codec's encoders
 * write its frames, the codec's SpdyFrameDecoder and header inflater read the server's, over a
 * real 127.0.0.1 socket pair that is torn down when the test finishes.
 */
import net from 'node:net';
import { onTestFinished } from 'vitest';
import { SpdyHeaderBlockDeflater, encodeDataFrame, encodeSynStream } from '../../src/codec/spdy-encode.js';
import { SpdyFrameDecoder } from '../../src/codec/spdy-frame.js';
import { SpdyHeaderBlockInflater, type SpdyHeaders } from '../../src/codec/spdy-header-block.js';

/** A frame the server sent, as the client recorded it. */
export type ReceivedFrame =
  | { type: 'SYN_REPLY'; streamId: number; fin: boolean; headers: SpdyHeaders; block: Buffer }
  | { type: 'DATA'; streamId: number; data: Buffer; fin: boolean }
  | { type: 'RST_STREAM'; streamId: number; status: number }
  | { type: 'GOAWAY'; lastGood: number; status: number }
  | { type: 'PING'; id: number }
  | { type: 'OTHER'; name: string };

export class SpdyTestClient {
  readonly frames: ReceivedFrame[] = [];
  tcpEnded = false;
  private readonly deflater = new SpdyHeaderBlockDeflater();
  private readonly inflater = new SpdyHeaderBlockInflater();
  private readonly decoder: SpdyFrameDecoder;
  private parts: Buffer[] = [];
  private nextId = 1;

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true); // as Go's client: no Nagle delay between small frames
    this.decoder = new SpdyFrameDecoder({
      control: (f) => {
        if (f.type === 'SYN_REPLY') {
          const r = this.inflater.inflate(f.headerBlock);
          if (!r.ok) throw new Error(r.message);
          this.frames.push({ type: 'SYN_REPLY', streamId: f.streamId, fin: f.fin, headers: r.headers, block: Buffer.from(f.headerBlock) });
        } else if (f.type === 'RST_STREAM') this.frames.push({ type: 'RST_STREAM', streamId: f.streamId, status: f.statusCode });
        else if (f.type === 'GOAWAY') this.frames.push({ type: 'GOAWAY', lastGood: f.lastGoodStreamId, status: f.statusCode });
        else if (f.type === 'PING') this.frames.push({ type: 'PING', id: f.pingId });
        else this.frames.push({ type: 'OTHER', name: f.type });
      },
      dataFrame: () => {
        this.parts = [];
      },
      data: (s) => this.parts.push(Buffer.from(s.data)),
      dataEnd: (h) => this.frames.push({ type: 'DATA', streamId: h.streamId, data: Buffer.concat(this.parts), fin: h.fin }),
      anomaly: (a) => {
        throw new Error(`server sent bad SPDY: ${a.message}`);
      },
    });
    socket.on('data', (c: Buffer) => this.decoder.push(c));
    socket.on('end', () => {
      this.tcpEnded = true;
    });
    socket.on('error', () => {});
  }

  /** Sends a SYN_STREAM; stream ids go 1, 3, 5, … unless one is given. */
  open(headers: Record<string, string>, streamId = this.nextId): number {
    this.nextId = streamId + 2;
    const block = this.deflater.deflate(Object.entries(headers));
    this.socket.write(encodeSynStream({ streamId, headerBlock: block }));
    return streamId;
  }

  data(streamId: number, payload: string | Buffer, fin = false): void {
    this.socket.write(encodeDataFrame(streamId, Buffer.from(payload), fin));
  }

  send(frame: Buffer): void {
    this.socket.write(frame);
  }

  async until(what: string, done: () => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames: ${this.summary().join(' | ')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Waits for the server's SYN_REPLY to stream `id`. */
  async replied(id: number): Promise<void> {
    await this.until(`reply ${id}`, () => this.has((f) => f.type === 'SYN_REPLY' && f.streamId === id));
  }

  has(pred: (f: ReceivedFrame) => boolean): boolean {
    return this.frames.some(pred);
  }

  /** Everything the server's DATA frames carried on stream `id`, in order. */
  received(id: number): Buffer {
    return Buffer.concat(this.frames.flatMap((f) => (f.type === 'DATA' && f.streamId === id ? [f.data] : [])));
  }

  /** Whether the server has half-closed stream `id` with a DATA frame's FIN. */
  finned(id: number): boolean {
    return this.has((f) => f.type === 'DATA' && f.streamId === id && f.fin);
  }

  summary(): string[] {
    return this.frames.map((f) => {
      switch (f.type) {
        case 'SYN_REPLY':
          return `SYN_REPLY ${f.streamId}${f.fin ? ' FIN' : ''}`;
        case 'DATA':
          return `DATA ${f.streamId}${f.data.length > 0 ? ` ${f.data.length > 256 ? `<${f.data.length}>` : JSON.stringify(f.data.toString())}` : ''}${f.fin ? ' FIN' : ''}`;
        case 'RST_STREAM':
          return `RST ${f.streamId} ${f.status}`;
        case 'GOAWAY':
          return `GOAWAY ${f.lastGood} ${f.status}`;
        case 'PING':
          return `PING ${f.id}`;
        default:
          return f.name;
      }
    });
  }
}

/**
 * A connected 127.0.0.1 pair (half-open allowed on both ends): a SpdyTestClient on one end,
 * the server's socket on the other. Both ends and the listener go when the current test finishes.
 */
export async function spdySocketPair(): Promise<{ client: SpdyTestClient; server: net.Socket }> {
  const listener = net.createServer({ allowHalfOpen: true });
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as net.AddressInfo;
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const server = await accepted;
  onTestFinished(() => {
    socket.destroy();
    server.destroy();
    listener.close();
  });
  return { client: new SpdyTestClient(socket), server };
}
