/**
 * The translation writes a frame's head and its payload apart (shell.ts `writeParts`): the two
 * must be, byte for byte, the frame the whole-frame encoders write, at every length boundary.
 */
import { describe, expect, it } from 'vitest';
import { encodeDataFrame, encodeDataFrameHead } from '../../src/codec/spdy-encode.js';
import { WsOpcode } from '../../src/codec/websocket-frame.js';
import { encodeServerFrame, serverFrameHead } from '../../src/translate/client-frame.js';

const LENGTHS = [0, 1, 124, 125, 126, 127, 65534, 65535, 65536, 70000];

describe('frame heads written apart from their payloads', () => {
  it('a server WebSocket frame: head + channel byte + payload is encodeServerFrame', () => {
    for (const n of LENGTHS) {
      const payload = Buffer.alloc(n, n & 0xff);
      for (const channel of [undefined, 1, 2]) {
        expect(Buffer.concat([serverFrameHead(WsOpcode.Binary, n, channel), payload]).equals(encodeServerFrame(WsOpcode.Binary, payload, channel)), `${n} ${channel}`).toBe(true);
      }
    }
  });

  it('a SPDY DATA frame: the 8-byte head + payload is encodeDataFrame, FIN or not', () => {
    for (const n of LENGTHS) {
      const payload = Buffer.alloc(n, 7);
      for (const fin of [false, true]) expect(Buffer.concat([encodeDataFrameHead(5, n, fin), payload]).equals(encodeDataFrame(5, payload, fin))).toBe(true);
    }
    expect(() => encodeDataFrameHead(1, 1 << 24)).toThrow(RangeError);
  });
});
