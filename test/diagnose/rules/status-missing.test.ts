import { describe, expect, it } from 'vitest';
import { statusMissing } from '../../../src/diagnose/rules/status-missing.js';
import { LogBuilder, TUNNEL, closeFrame, connClose, connOpen, data, ends, healthySpdyExec, healthyWsExec, reply, spdy101, spdyFrame, spdyRequest, stack, syn, wsFrame, wsRequest, ws101 } from '../events.js';

const output = [wsFrame('s2c', 'binary', { length: 4 }), data('s2c', 'stdout', 3)];

describe('status-missing', () => {
  it('fires for a bare TCP close with no status: kubectl fails with 1006', () => {
    const log = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), ...output, ...ends());
    const [f, ...rest] = statusMissing.evaluate(log.view());
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'status-missing', conn: 'c1', severity: 'error', title: 'The command ended without a status: kubectl failed with close 1006' });
    expect(f!.explanation).toContain('rc 1');
  });

  it('leaves the endings kubectl reports as success to exit-unknown: a close frame, a SPDY end, a TCP close under SPDY', () => {
    const close = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), ...output, closeFrame('s2c'), closeFrame('c2s'), ...ends());
    expect(statusMissing.evaluate(close.view())).toEqual([]);
    const spdy = new LogBuilder('s', false).add('c1', spdyRequest(), spdy101(), stack('spdy-v4', 'spdy', 'v4.channel.k8s.io'), syn(1, 'error'), reply(1),
      spdyFrame('s2c', 'DATA', { streamId: 1, streamType: 'error', fin: true }), spdyFrame('s2c', 'GOAWAY', { lastGoodStreamId: 1 }), ...ends());
    expect(statusMissing.evaluate(spdy.view())).toEqual([]);
  });

  it('is silent when the client ended the stream itself: its close frame came first (client-node ws.close(), python resp.close())', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'), ...output)
      .after(5).add('c1', closeFrame('c2s'))
      .after(1).add('c1', closeFrame('s2c'), ...ends(), connClose('upstream', 7));
    expect(log.facts().conns.get('c1')!.clientEnded).toBe(true);
    expect(statusMissing.evaluate(log.view())).toEqual([]);
  });

  it('is silent when a SPDY client ended the connection with its GOAWAY before the server\'s', () => {
    const log = new LogBuilder().add('c1', connOpen(), spdyRequest(), spdy101(), stack('spdy-v4', 'spdy', 'v4.channel.k8s.io'), syn(1, 'error'), reply(1), syn(3, 'stdout'), reply(3))
      .after(2).add('c1', spdyFrame('s2c', 'DATA', { streamId: 3, streamType: 'stdout', length: 3 }), data('s2c', 'stdout', 3))
      .after(5).add('c1', spdyFrame('c2s', 'GOAWAY', { lastGoodStreamId: 0 }))
      .after(1).add('c1', spdyFrame('s2c', 'GOAWAY', { lastGoodStreamId: 3 }), ...ends(), connClose('upstream', 9));
    expect(statusMissing.evaluate(log.view())).toEqual([]);
    const serverFirst = new LogBuilder().add('c1', connOpen(), spdyRequest(), spdy101(), stack('spdy-v4', 'spdy', 'v4.channel.k8s.io'), syn(1, 'error'), reply(1))
      .after(5).add('c1', spdyFrame('s2c', 'GOAWAY', { lastGoodStreamId: 1 }), spdyFrame('c2s', 'GOAWAY', { lastGoodStreamId: 0 }), ...ends(), connClose('upstream', 6));
    expect(statusMissing.evaluate(serverFirst.view())).toEqual([]);
  });

  it('is silent with a status, when kubectl left, for v1 protocols and for port-forward', () => {
    expect(statusMissing.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    expect(statusMissing.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    const left = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'), ...output).after(9_000).add('c1', ...ends(), connClose('client', 9_000));
    expect(statusMissing.evaluate(left.view())).toEqual([]);
    const cutAfterSilence = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'), ...output).after(30_000).add('c1', ...ends(), connClose('upstream', 30_000));
    expect(statusMissing.evaluate(cutAfterSilence.view())).toEqual([]);
    const v1 = new LogBuilder('s', false).add('c1', wsRequest({ offered: ['channel.k8s.io'] }), ws101('channel.k8s.io'), stack('channel-v1', 'websocket', 'channel.k8s.io'), ...output, closeFrame('s2c'), ...ends());
    expect(statusMissing.evaluate(v1.view())).toEqual([]);
    const pf = new LogBuilder('s', false).add('c1', wsRequest({ op: 'portforward', offered: [TUNNEL] }), ws101(TUNNEL), stack('portforward-tunnel', 'websocket+spdy', TUNNEL), closeFrame('s2c'), ...ends());
    expect(statusMissing.evaluate(pf.view())).toEqual([]);
  });
});
