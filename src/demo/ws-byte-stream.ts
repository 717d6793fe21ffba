/**
 * A byte stream carried in WebSocket binary messages, as the port-forward tunnel uses it
 * (client-go tunneling_connection.go): every write is one binary message, every binary
 * message's payload is the next bytes, boundaries mean nothing. A text message is a protocol
 * error (`invalid message type received`) and ends the stream.
 */
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

export class WsByteStream extends Duplex {
  constructor(private readonly ws: WebSocket) {
    super();
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        ws.close(1002, 'invalid message type received');
        this.destroy();
        return;
      }
      if (!this.push(data)) ws.pause();
    });
    ws.on('close', () => this.push(null));
    ws.on('error', (e) => this.destroy(e));
  }

  override _read(): void {
    this.ws.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.ws.send(chunk, { binary: true }, (err) => callback(err ?? null));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ws.close(1000);
    callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
    callback(error);
  }
}
