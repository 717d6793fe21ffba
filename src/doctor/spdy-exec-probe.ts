/**
 * The doctor's exec over SPDY/3.1 (`v4.channel.k8s.io`, protocol.md A §2.1), as kubectl opens
 * it: after the 101, one stream per `streamtype` (error, stdin with -i, stdout, stderr without
 * a tty, resize with one); the status is the JSON on the error stream, which the server then
 * FINs. Pings are SPDY PING frames with odd ids, which the server echoes.
 */
import { SpdyHeaderBlockDeflater, encodeDataFrame, encodeGoaway, encodePing, encodeSynStream } from '../codec/spdy-encode.js';
import { SpdyFrameDecoder } from '../codec/spdy-frame.js';
import { requestHead } from './checks.js';
import { ExecProbe, type ExecOptions } from './exec-probe.js';

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

export class SpdyExecProbe extends ExecProbe {
  readonly transport = 'spdy' as const;
  readonly label = 'SPDY';
  private readonly deflater = new SpdyHeaderBlockDeflater();
  private readonly ids = new Map<StreamType, number>();
  private readonly types = new Map<number, StreamType>();
  private readonly errorParts: Buffer[] = [];
  private readonly decoder = new SpdyFrameDecoder({
    control: (f) => {
      if (f.type === 'PING' && f.pingId % 2 === 1) this.pongAt ??= Date.now();
      // The server's end of the session without a status on the error stream.
      if (f.type === 'GOAWAY' || (f.type === 'RST_STREAM' && this.types.get(f.streamId) === 'error')) this.ended(f.type);
    },
    dataFrame: () => {},
    data: (s) => {
      const type = this.types.get(s.frame.streamId);
      if (type === 'stdout') this.output(1, s.data);
      else if (type === 'stderr') this.output(2, s.data);
      else if (type === 'error') this.errorParts.push(Buffer.from(s.data));
    },
    dataEnd: (h) => {
      if (h.fin && this.types.get(h.streamId) === 'error') this.ended('error stream FIN');
    },
    anomaly: () => this.destroy(),
  });

  protected request(path: string, headers: Record<string, string>): Buffer {
    return requestHead(this.upstream, 'POST', path, headers, {
      Connection: 'Upgrade',
      Upgrade: 'SPDY/3.1',
      'X-Stream-Protocol-Version': 'v4.channel.k8s.io',
      'Content-Length': '0',
    }, this.session);
  }

  protected opened(o: ExecOptions): void {
    const types: StreamType[] = ['error'];
    if (o.stdin) types.push('stdin');
    types.push('stdout');
    if (!o.tty) types.push('stderr');
    if (o.tty) types.push('resize');
    let id = 1;
    for (const type of types) {
      this.ids.set(type, id);
      this.types.set(id, type);
      this.write(encodeSynStream({ streamId: id, headerBlock: this.deflater.deflate([['streamtype', type]]) }));
      id += 2;
    }
  }

  protected received(bytes: Buffer): void {
    this.decoder.push(bytes);
  }

  ping(): void {
    this.write(encodePing(1));
  }

  resize(width: number, height: number): void {
    const id = this.ids.get('resize');
    if (id !== undefined) this.write(encodeDataFrame(id, Buffer.from(JSON.stringify({ Width: width, Height: height }))));
  }

  closeStdin(): void {
    const id = this.ids.get('stdin');
    if (id !== undefined) this.write(encodeDataFrame(id, new Uint8Array(0), true));
  }

  /** kubectl ends its side with a GOAWAY before it closes the connection. */
  protected hangUp(): void {
    this.write(encodeGoaway(0));
  }

  private ended(how: string): void {
    if (this.errorParts.length) this.status(Buffer.concat(this.errorParts));
    this.cleanEnd ??= how;
    this.notify();
  }
}
