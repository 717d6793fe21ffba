import { describe, expect, it } from 'vitest';
import { corruptFrames } from '../../../src/diagnose/rules/corrupt-frames.js';
import type { DecodeAnomalyEvent, Direction } from '../../../src/events/types.js';
import { LogBuilder, closeFrame, connClose, connOpen, ends, healthyWsExec, spdy101, spdyRequest, stack, wsRequest, ws101 } from '../events.js';

const anomaly = (dir: Direction, code: DecodeAnomalyEvent['code'], opaque = false, layer: DecodeAnomalyEvent['layer'] = 'websocket'): DecodeAnomalyEvent => ({
  type: 'decode.anomaly', dir, offset: 120, layer, code, message: `test ${code}`, opaque,
});

describe('corrupt-frames', () => {
  it('fires for RSV bits from the server side and hints at compression', () => {
    const log = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), anomaly('s2c', 'KW_WS_RSV_BITS'), ...ends());
    const [f] = corruptFrames.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'corrupt-frames', conn: 'c1', severity: 'warn', hop: { where: 'kubewire↔upstream' } });
    expect(f!.explanation).toMatch(/permessage-deflate/);
  });

  it('is an error when decoding had to stop, and blames the client side for client bytes', () => {
    const spdy = new LogBuilder('s', false).add('c1', spdyRequest(), spdy101(), anomaly('s2c', 'KW_SPDY_ZLIB', true, 'zlib'), ...ends());
    expect(corruptFrames.evaluate(spdy.view())[0]?.severity).toBe('error');
    const client = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), anomaly('c2s', 'KW_WS_MASK_DIRECTION'), ...ends());
    expect(corruptFrames.evaluate(client.view())[0]?.hop.where).toBe('client↔kubewire');
  });

  it('is silent for healthy sessions, rejected handshakes, bytes after kubectl\'s close, and a cut after kubectl left', () => {
    expect(corruptFrames.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    const rejected = new LogBuilder('s', false).add('c1', wsRequest(), ws101(null), anomaly('s2c', 'KW_WS_RSV_BITS'), ...ends());
    expect(corruptFrames.evaluate(rejected.view())).toEqual([]);
    const afterClose = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), closeFrame('c2s'), anomaly('c2s', 'KW_DATA_AFTER_CLOSE'), ...ends());
    expect(corruptFrames.evaluate(afterClose.view())).toEqual([]);
    const cut = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), anomaly('s2c', 'KW_TRUNCATED', false), ...ends(), connClose('client', 50));
    expect(corruptFrames.evaluate(cut.view())).toEqual([]);
  });

  it('is silent for channel data in text frames (python-kubernetes), which the servers take', () => {
    const log = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), anomaly('c2s', 'KW_CHANNEL_BAD_MESSAGE_TYPE'), ...ends());
    expect(corruptFrames.evaluate(log.view())).toEqual([]);
  });
});
