/**
 * The kubelet's legacy WebSocket port-forward (protocol.md A §3b; kubectl never uses it, other
 * clients do): the ports come in the query (`?ports=8080&ports=9090`), port i uses channel 2i
 * for data both ways and 2i+1 for error text from the server, and the server's first message
 * on each channel starts with the port as a little-endian u16: `00 90 1F` is "data of 8080".
 */
import type { Direction } from '../events/types.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { ChannelHandler } from './channel-demux.js';
import type { DecodeContext } from './decode-context.js';
import type { PayloadBytes } from './payload-bytes.js';
import { MAX_STATUS_BYTES } from './limits.js';
import { keep } from './lent-bytes.js';

export class LegacyPortForwardHandler implements ChannelHandler {
  /** Channels whose port prefix has been read (server side only). */
  private prefixDone = new Set<number>();
  private prefix: number[] = [];
  private error: Buffer[] = [];
  private errorBytes = 0;
  private errorOffset = 0;

  constructor(
    private readonly ctx: DecodeContext,
    private readonly dir: Direction,
    private readonly ports: number[],
  ) {}

  start(channel: number, offset: number): void {
    this.prefix = [];
    this.error = [];
    this.errorBytes = 0;
    this.errorOffset = offset;
    if (this.portOf(channel) === null) {
      this.ctx.emit({ type: 'decode.anomaly', dir: this.dir, offset, layer: 'portforward', code: AnomalyCode.ChannelUnknown, message: `channel ${channel} has no port: the request named ${this.ports.length} port(s)`, opaque: false });
    }
  }

  payload(channel: number, lazy: PayloadBytes, offset: number): void {
    // Rare (kubectl never speaks it): read whole.
    let bytes = lazy.all();
    if (this.dir === 's2c' && !this.prefixDone.has(channel)) {
      const need = 2 - this.prefix.length;
      for (const b of bytes.subarray(0, need)) this.prefix.push(b);
      bytes = bytes.subarray(need);
      offset += need;
      if (this.prefix.length < 2) return;
      this.prefixDone.add(channel);
      const port = this.prefix[0]! | (this.prefix[1]! << 8);
      const expected = this.portOf(channel);
      if (expected !== null && port !== expected) {
        this.ctx.emit({ type: 'decode.anomaly', dir: this.dir, offset, layer: 'portforward', code: AnomalyCode.PortForwardBadPortPrefix, message: `channel ${channel} starts with port ${port}, the request asked for ${expected}`, opaque: false });
      }
      if (bytes.length === 0) return;
    }
    if (channel % 2 === 0) {
      this.ctx.emit(this.ctx.withPayload({ type: 'pf.data', dir: this.dir, offset, requestId: null, port: this.portOf(channel), channel }, bytes), bytes);
    } else if (this.errorBytes < MAX_STATUS_BYTES) {
      const kept = bytes.subarray(0, MAX_STATUS_BYTES - this.errorBytes);
      this.error.push(keep(kept));
      this.errorBytes += kept.length;
    }
  }

  end(channel: number): void {
    if (channel % 2 === 1 && this.errorBytes > 0) {
      this.ctx.emit({ type: 'pf.error', dir: this.dir, offset: this.errorOffset, requestId: null, port: this.portOf(channel), message: Buffer.concat(this.error).toString('utf8') });
    }
    this.error = [];
    this.errorBytes = 0;
  }

  close(): void {}
  finish(): void {}

  private portOf(channel: number): number | null {
    return this.ports[Math.floor(channel / 2)] ?? null;
  }
}
