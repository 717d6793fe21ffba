/**
 * Remote-command semantics over the WebSocket channel protocols (protocol.md A §1):
 * - channel 0 stdin and 4 resize from the client, 1 stdout, 2 stderr, 3 status from the server;
 * - the status is text in v1 (`channel.k8s.io`, `base64.channel.k8s.io`, no subprotocol) and a
 *   JSON `metav1.Status` in v4 and v5, possibly split over several messages;
 * - v5 adds the close signal `FF 00`: the client ended stdin;
 * - right after the 101 the server sends one empty message (`01`), reported as `initial`.
 * Channels a protocol does not define are reported once and their bytes still shown.
 */
import type { Direction, K8sDataEvent } from '../events/types.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { ChannelHandler } from './channel-demux.js';
import type { DecodeContext } from './decode-context.js';
import type { PayloadBytes } from './payload-bytes.js';
import { ResizeReader, StatusCollector, streamName } from './k8s-streams.js';

export const CLOSE_SIGNAL_CHANNEL = 255;
const MAX_DEFINED_CHANNEL = 4;

export class K8sChannelHandler implements ChannelHandler {
  private readonly status: StatusCollector;
  private readonly resize: ResizeReader;
  private hadPayload = false;
  private messageIndex = 0;
  private messageOffset = 0;
  private closeBytes: number[] = [];
  private reportedChannels = new Set<number>();

  constructor(
    private readonly ctx: DecodeContext,
    private readonly dir: Direction,
    private readonly version: 1 | 4 | 5,
  ) {
    this.status = new StatusCollector(ctx, version >= 4);
    this.resize = new ResizeReader(ctx, dir);
  }

  start(channel: number, offset: number, index: number): void {
    this.hadPayload = false;
    this.messageIndex = index;
    this.messageOffset = offset;
    this.closeBytes = [];
    const closeSignal = channel === CLOSE_SIGNAL_CHANNEL && this.version === 5;
    if (channel > MAX_DEFINED_CHANNEL && !closeSignal && !this.reportedChannels.has(channel)) {
      this.reportedChannels.add(channel);
      this.ctx.emit({ type: 'decode.anomaly', dir: this.dir, offset, layer: 'channel', code: AnomalyCode.ChannelUnknown, message: `channel ${channel} is not defined by this protocol version; servers drop it`, opaque: false });
    }
  }

  payload(channel: number, bytes: PayloadBytes, offset: number): void {
    if (channel === CLOSE_SIGNAL_CHANNEL && this.version === 5) {
      // Only the first two bytes matter: more than one makes it a bad close signal.
      for (let i = 0; i < bytes.length && this.closeBytes.length < 2; i++) this.closeBytes.push(bytes.byteAt(i));
      this.hadPayload = true;
      return;
    }
    this.hadPayload = true;
    const stream = streamName(channel);
    this.ctx.emit(this.ctx.withPayload({ type: 'k8s.data', dir: this.dir, offset, channel, stream }, bytes), bytes);
    // Status and resize are parsed, so every byte of theirs is read; stdin and stdout are not.
    if (channel === 3 && this.dir === 's2c') this.status.add(bytes.all(), offset);
    else if (channel === 4 && this.dir === 'c2s') this.resize.push(bytes.all(), offset);
  }

  end(channel: number, offset: number): void {
    if (channel === CLOSE_SIGNAL_CHANNEL && this.version === 5) {
      // The close signal is exactly [0xFF, channel] (apimachinery wsstream conn.go handle).
      const target = this.closeBytes[0];
      if (this.closeBytes.length === 1 && target !== undefined) {
        this.ctx.emit({ type: 'k8s.close', dir: this.dir, offset: this.messageOffset, channel: target, stream: streamName(target) });
      } else {
        this.ctx.emit({ type: 'decode.anomaly', dir: this.dir, offset: this.messageOffset, layer: 'channel', code: AnomalyCode.ChannelBadClose, message: `close signal with ${this.closeBytes.length} payload bytes; it must be exactly one (the channel)`, opaque: false });
      }
      return;
    }
    if (!this.hadPayload) {
      const empty = Buffer.alloc(0);
      const body: K8sDataEvent = this.ctx.withPayload({ type: 'k8s.data', dir: this.dir, offset, channel, stream: streamName(channel) }, empty);
      if (this.dir === 's2c' && this.messageIndex === 0) body.initial = true;
      this.ctx.emit(body, empty);
    }
    if (channel === 3 && this.dir === 's2c') {
      if (this.version >= 4) this.status.flushIfComplete();
      else this.status.flush();
    }
  }

  close(): void {
    this.status.flush();
  }

  finish(offset: number): void {
    this.status.flush();
    this.resize.finish(offset);
  }
}
