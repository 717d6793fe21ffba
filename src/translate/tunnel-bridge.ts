/**
 * SPDY port-forward carried in the KEP-4006 tunnel, sans-IO. Both ends already speak one
 * spdystream session (kubectl and the kubelet), and the tunnel carries its bytes inside
 * WebSocket binary messages whose boundaries mean nothing (protocol.md A §3c). So nothing is
 * re-framed: each chunk from the client goes upstream as one masked binary message, and the
 * payload of every binary (or continuation) frame from upstream goes to the client as it is:
 *
 *   client  80 03 00 01 …  (SYN_STREAM {streamtype: error, port: 80, requestid: 0})
 *   →       82 9a <key> <the same bytes, masked>
 *
 * The SPDY pings, data, error streams and GOAWAY of the session pass through inside; the
 * WebSocket leg's own pings are answered here, and the leg is pinged to keep it alive.
 */
import { WsOpcode } from '../codec/websocket-frame.js';
import { encodeClientFrame, encodeServerFrame, serverFrameHead } from './client-frame.js';
import type { BridgeOutput } from './remotecommand-bridge.js';
import { WsMessageReader } from './ws-message-reader.js';

const EMPTY = Buffer.alloc(0);
const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL_ERROR = 1002;

export class SpdyTunnelBridge {
  private readonly out: BridgeOutput;
  private readonly maskKey: (() => Buffer) | undefined;
  private readonly ws: WsMessageReader;
  private closeSent = false;
  private done = false;

  constructor(opts: { out: BridgeOutput; maskKey?: () => Buffer }) {
    this.out = opts.out;
    this.maskKey = opts.maskKey;
    this.ws = new WsMessageReader(
      {
        // Text is not part of the tunnel (the API server rejects it); only binary bytes are SPDY.
        // As read: a message that came in several reads goes on as its pieces, not joined.
        data: (_channel, bytes, opcode) => {
          if (opcode !== WsOpcode.Binary || this.done) return;
          const [first, ...rest] = bytes.views();
          this.out.toClient(first!, rest.length > 0 ? rest : undefined);
        },
        ping: (payload) => {
          if (!this.closeSent && !this.done) this.out.toUpstream(encodeClientFrame(WsOpcode.Pong, payload, this.key()));
        },
        close: (code) => {
          if (code !== null && code !== CLOSE_NORMAL) this.out.problem?.(`the upstream closed the tunnel with code ${code}`);
          this.finish();
        },
        broken: (a) => {
          this.out.problem?.(`the upstream's WebSocket cannot be read on: ${a.message}`);
          this.finish();
        },
      },
      { masked: false, channelled: false },
    );
  }

  /** The tunnel needs no streams before it carries bytes. */
  readonly ready = true;
  readonly heldUpstreamBytes = 0;
  readonly missingStreams: string[] = [];

  get finished(): boolean {
    return this.done;
  }

  fromClient(chunk: Buffer): void {
    if (this.done || this.closeSent || chunk.length === 0) return;
    this.out.toUpstream(encodeClientFrame(WsOpcode.Binary, chunk, this.key()));
  }

  /** The client's FIN: the session is over on its side; close 1000 upstream, as kubectl does. */
  clientEnded(): void {
    if (this.done) return;
    this.closeUpstream('client');
    this.done = true;
    this.out.endClient('client');
  }

  fromUpstream(chunk: Buffer): void {
    if (this.done) return;
    this.ws.push(chunk);
  }

  upstreamEnded(): void {
    this.ws.end();
    this.finish();
  }

  keepalive(): void {
    if (this.done || this.closeSent) return;
    this.out.toUpstream(encodeClientFrame(WsOpcode.Ping, EMPTY, this.key()));
  }

  abort(message: string): void {
    this.out.problem?.(message);
    this.closeUpstream('proxy');
    if (!this.done) {
      this.done = true;
      this.out.endClient('proxy');
    }
  }

  /** The upstream ended the tunnel: the client's SPDY session ends with the end of its socket. */
  private finish(): void {
    if (this.done) return;
    this.closeUpstream('upstream');
    this.done = true;
    this.out.endClient('upstream');
  }

  private closeUpstream(by: 'client' | 'upstream' | 'proxy'): void {
    if (this.closeSent) return;
    this.closeSent = true;
    const payload = Buffer.allocUnsafe(2);
    payload.writeUInt16BE(CLOSE_NORMAL, 0);
    this.out.toUpstream(encodeClientFrame(WsOpcode.Close, payload, this.key()));
    this.out.endUpstream(by);
  }

  private key(): Buffer | undefined {
    return this.maskKey?.();
  }
}

/**
 * The other direction: a client's KEP-4006 tunnel carried to a SPDY upstream. kubewire is the
 * API server's tunnel handler here (AS streamtunnel.go): the payload of every binary message
 * from the client is the next SPDY bytes upstream, and what the upstream sends goes down as
 * unmasked binary messages, as they were read:
 *
 *   client  82 9a <key> <80 03 00 01 …, masked>
 *   →       80 03 00 01 …   (the SYN_STREAM itself)
 *
 * The client's WebSocket pings are answered here, and the client is pinged to keep the leg
 * alive; the SPDY pings inside pass through.
 */
export class TunnelToSpdyBridge {
  private readonly out: BridgeOutput;
  private readonly ws: WsMessageReader;
  private upstreamDone = false;
  private done = false;

  constructor(opts: { out: BridgeOutput }) {
    this.out = opts.out;
    this.ws = new WsMessageReader(
      {
        data: (_channel, bytes, opcode) => this.onData(bytes.all(), opcode),
        ping: (payload) => {
          if (!this.done) this.out.toClient(encodeServerFrame(WsOpcode.Pong, payload));
        },
        // kubectl's close 1000 at the end of port-forward: the end of its SPDY session.
        close: () => this.clientGone(),
        broken: (a) => {
          this.out.problem?.(`the client's WebSocket cannot be read on: ${a.message}`);
          this.endUpstream('proxy');
          this.closeClient(CLOSE_PROTOCOL_ERROR, 'proxy');
        },
      },
      { masked: true, channelled: false },
    );
  }

  readonly ready = true;
  readonly heldUpstreamBytes = 0;
  readonly missingStreams: string[] = [];

  get finished(): boolean {
    return this.done;
  }

  fromClient(chunk: Buffer): void {
    if (this.done) return;
    this.ws.push(chunk);
  }

  /** The client's TCP ended: so has its SPDY session. */
  clientEnded(): void {
    this.ws.end();
    this.clientGone();
  }

  fromUpstream(chunk: Buffer): void {
    if (this.done || chunk.length === 0) return;
    this.out.toClient(serverFrameHead(WsOpcode.Binary, chunk.length), chunk);
  }

  /** The upstream's SPDY session ended with its TCP: close 1000, which the client reads as EOF. */
  upstreamEnded(): void {
    this.endUpstream('upstream');
    this.closeClient(CLOSE_NORMAL, 'upstream');
  }

  keepalive(): void {
    if (!this.done) this.out.toClient(encodeServerFrame(WsOpcode.Ping, EMPTY));
  }

  abort(message: string): void {
    this.out.problem?.(message);
    this.endUpstream('proxy');
    this.closeClient(CLOSE_NORMAL, 'proxy');
  }

  private onData(data: Buffer, opcode: number): void {
    if (this.done || this.upstreamDone) return;
    if (opcode === WsOpcode.Binary) {
      this.out.toUpstream(Buffer.from(data));
    } else {
      // client-go's tunnel rejects text (`invalid message type received`); so does the server's.
      this.out.problem?.('the client sent a text message in the port-forward tunnel');
      this.endUpstream('proxy');
      this.closeClient(CLOSE_PROTOCOL_ERROR, 'proxy');
    }
  }

  private clientGone(): void {
    this.endUpstream('client');
    if (!this.done) {
      this.done = true;
      this.out.endClient('client');
    }
  }

  private endUpstream(by: 'client' | 'upstream' | 'proxy'): void {
    if (this.upstreamDone) return;
    this.upstreamDone = true;
    this.out.endUpstream(by);
  }

  private closeClient(code: number, by: 'client' | 'upstream' | 'proxy'): void {
    if (this.done) return;
    this.done = true;
    const payload = Buffer.allocUnsafe(2);
    payload.writeUInt16BE(code, 0);
    this.out.toClient(encodeServerFrame(WsOpcode.Close, payload));
    this.out.endClient(by);
  }
}
