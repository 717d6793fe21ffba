/**
 * The doctor's exec over WebSocket v5 (`v5.channel.k8s.io`, protocol.md A §1): masked client
 * frames, channel 0 stdin, 1 stdout, 2 stderr, 3 the status, 4 resize, 255 the close signal.
 */
import { randomBytes } from 'node:crypto';
import { encodeClosePayload, encodeWsFrame } from '../codec/websocket-encode.js';
import { WebSocketFrameDecoder } from '../codec/websocket-frame.js';
import { requestHead } from './checks.js';
import { ExecProbe } from './exec-probe.js';

const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export class WsExecProbe extends ExecProbe {
  readonly transport = 'websocket' as const;
  readonly label = 'WebSocket v5';
  closeCode: number | null = null;
  private message: { opcode: number; parts: Buffer[] } | null = null;

  protected request(path: string, headers: Record<string, string>): Buffer {
    return requestHead(this.upstream, 'GET', path, headers, {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      'Sec-WebSocket-Protocol': 'v5.channel.k8s.io',
    }, this.session);
  }

  protected opened(): void {}

  ping(): void {
    this.sendFrame(OPCODE.ping, Buffer.from('kubewire-doctor'));
  }

  resize(width: number, height: number): void {
    this.sendChannel(4, JSON.stringify({ Width: width, Height: height }));
  }

  /** Stdin ends with the v5 close signal (channel 255, then the stdin channel). */
  closeStdin(): void {
    this.sendChannel(255, Buffer.from([0]));
  }

  protected hangUp(): void {}

  private sendFrame(opcode: number, payload: Uint8Array = new Uint8Array(0)): void {
    this.write(encodeWsFrame({ opcode, payload, mask: true }));
  }

  private sendChannel(channel: number, data: Buffer | string): void {
    const body = Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8')]);
    this.sendFrame(OPCODE.binary, body);
  }

  /** The server's frames, read by the observer's own decoder: linear in the chunks, however a frame is cut. */
  private readonly frames = new WebSocketFrameDecoder({
    frame: () => void (this.parts = []),
    payload: (segment) => void this.parts.push(segment.data),
    frameEnd: (h) => {
      const payload = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
      this.parts = [];
      this.onFrame(h.fin, h.opcode, payload);
    },
    anomaly: () => {},
  }, { expectMasked: false });
  private parts: Buffer[] = [];

  protected received(chunk: Buffer): void {
    this.frames.push(chunk);
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode === OPCODE.pong) {
      this.pongAt ??= Date.now();
      return;
    }
    if (opcode === OPCODE.ping) {
      this.sendFrame(OPCODE.pong, payload);
      return;
    }
    if (opcode === OPCODE.close) {
      this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.cleanEnd = `close ${this.closeCode}`;
      this.sendFrame(OPCODE.close, encodeClosePayload(1000));
      return;
    }
    if (opcode === OPCODE.continuation && this.message) this.message.parts.push(payload);
    else if (opcode === OPCODE.binary || opcode === OPCODE.text) this.message = { opcode, parts: [payload] };
    else return;
    if (!fin) return;
    const msg = Buffer.concat(this.message!.parts);
    this.message = null;
    if (msg.length === 0) return;
    const ch = msg[0]!;
    const data = msg.subarray(1);
    if (ch === 1 || ch === 2) this.output(ch, data);
    if (ch === 3) this.status(data);
  }
}
