/**
 * Builds the decoders that read the bytes after a 101, from the stack chosen by
 * `selectStack`: WebSocket with a channel protocol, legacy port-forward or the tunnel above
 * it, or SPDY with exec or port-forward streams.
 */
import type { Direction } from '../events/types.js';
import { ChannelDemux } from './channel-demux.js';
import type { DecodeContext } from './decode-context.js';
import { K8sChannelHandler } from './k8s-channel.js';
import { LegacyPortForwardHandler } from './portforward-ws.js';
import { TunnelConsumer } from './portforward-tunnel.js';
import { SpdyLayer } from './spdy-layer.js';
import { statusIsJson, type StackChoice } from './stack-select.js';
import { WebSocketDirection, WsDataConsumer, type WsMessageConsumer } from './websocket-layer.js';

export interface StreamStack {
  push(dir: Direction, chunk: Uint8Array): void;
  end(dir: Direction): void;
}

export function buildStreamStack(
  choice: StackChoice,
  ctx: DecodeContext,
  ports: number[],
  startOffsets: Record<Direction, number>,
): StreamStack | null {
  const s = choice.semantics;
  if (choice.transport === 'spdy') {
    const mode = s === 'portforward-spdy' ? 'portforward' : s === 'opaque' ? 'frames' : 'exec';
    return new SpdyLayer(ctx, mode, statusIsJson(s), false, startOffsets);
  }
  if (choice.transport === 'websocket+spdy') {
    // Inside the tunnel, offsets count bytes of the joined SPDY stream (events say tunnel: true).
    const spdy = new SpdyLayer(ctx, 'portforward', false, true, { c2s: 0, s2c: 0 });
    return webSocket(ctx, startOffsets, (dir) => new TunnelConsumer(ctx, dir, spdy));
  }
  if (choice.transport !== 'websocket') return null;
  switch (s) {
    case 'channel-v1':
    case 'base64-v1':
    case 'channel-v4':
    case 'base64-v4':
    case 'channel-v5': {
      const version = s === 'channel-v5' ? 5 : s.endsWith('v4') ? 4 : 1;
      const base64 = s.startsWith('base64');
      return webSocket(ctx, startOffsets, (dir) => new ChannelDemux(ctx, dir, base64, new K8sChannelHandler(ctx, dir, version)));
    }
    case 'portforward-ws':
    case 'portforward-ws-base64':
      return webSocket(ctx, startOffsets, (dir) => new ChannelDemux(ctx, dir, s === 'portforward-ws-base64', new LegacyPortForwardHandler(ctx, dir, ports)));
    default:
      return webSocket(ctx, startOffsets, (dir) => new WsDataConsumer(ctx, dir));
  }
}

function webSocket(ctx: DecodeContext, startOffsets: Record<Direction, number>, consumer: (dir: Direction) => WsMessageConsumer): StreamStack {
  const dirs = {
    c2s: new WebSocketDirection(ctx, 'c2s', consumer('c2s'), startOffsets.c2s),
    s2c: new WebSocketDirection(ctx, 's2c', consumer('s2c'), startOffsets.s2c),
  };
  return {
    push: (dir, chunk) => dirs[dir].push(chunk),
    end: (dir) => dirs[dir].end(),
  };
}

