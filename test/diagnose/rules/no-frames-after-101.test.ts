import { describe, expect, it } from 'vitest';
import { noFramesAfter101 } from '../../../src/diagnose/rules/no-frames-after-101.js';
import { LogBuilder, TUNNEL, connOpen, ends, healthySpdyExec, healthyWsExec, reply, spdy101, spdyFrame, spdyRequest, stack, syn, wsFrame, wsRequest, ws101 } from '../events.js';

describe('no-frames-after-101', () => {
  it('fires for a live WebSocket exec silent for 10 s after the 101, not before', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'));
    expect(noFramesAfter101.evaluate(log.view({ now: 5_000, ended: false }))).toEqual([]);
    const [f] = noFramesAfter101.evaluate(log.view({ now: 11_000, ended: false }));
    expect(f).toMatchObject({ rule: 'no-frames-after-101', conn: 'c1', severity: 'error' });
    expect(f!.title).toMatch(/nothing for 11 s/);
  });

  it('fires for a capture whose server sent nothing after the 101', () => {
    const log = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), ...ends());
    expect(noFramesAfter101.evaluate(log.view())[0]?.title).toBe('The server sent nothing after the 101');
  });

  it('fires for a SYN_STREAM that never got its SYN_REPLY (live after 10 s, capture at the end)', () => {
    const live = new LogBuilder().add('c1', connOpen(), spdyRequest(), spdy101(), syn(1, 'error'));
    expect(noFramesAfter101.evaluate(live.view({ now: 3_000, ended: false }))).toEqual([]);
    expect(noFramesAfter101.evaluate(live.view({ now: 10_500, ended: false }))[0]?.title).toBe('SPDY stream 1 (error) was never answered (no SYN_REPLY)');
    const tunnel = new LogBuilder('s', false).add('c1', wsRequest({ op: 'portforward', offered: [TUNNEL] }), ws101(TUNNEL), syn(1, 'error'), { ...syn(3, 'data'), tunnel: true }, reply(1), ...ends());
    expect(noFramesAfter101.evaluate(tunnel.view())[0]?.title).toMatch(/stream 3 \(data\)/);
  });

  it('is silent for healthy sessions, a tunnel nobody used, and a 101 kubectl rejected', () => {
    expect(noFramesAfter101.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    expect(noFramesAfter101.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    const idleTunnel = new LogBuilder().add('c1', wsRequest({ op: 'portforward', offered: [TUNNEL] }), ws101(TUNNEL), ...ends());
    expect(noFramesAfter101.evaluate(idleTunnel.view())).toEqual([]);
    const rejected = new LogBuilder().add('c1', wsRequest(), ws101(null), ...ends());
    expect(noFramesAfter101.evaluate(rejected.view())).toEqual([]);
    const answeredByRst = new LogBuilder().add('c1', spdyRequest(), spdy101(), syn(1, 'error'), spdyFrame('s2c', 'RST_STREAM', { streamId: 1, statusCode: 3, statusName: 'REFUSED_STREAM' }), wsFrame('s2c', 'binary'), ...ends());
    expect(noFramesAfter101.evaluate(answeredByRst.view())).toEqual([]);
  });
});
