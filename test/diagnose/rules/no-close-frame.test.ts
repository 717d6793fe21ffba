import { describe, expect, it } from 'vitest';
import { noCloseFrame } from '../../../src/diagnose/rules/no-close-frame.js';
import { LogBuilder, connClose, connOpen, data, ends, exitStatus, healthySpdyExec, healthyWsExec, reply, spdy101, spdyFrame, spdyRequest, stack, statusMessage, syn, wsRequest, ws101 } from '../events.js';

describe('no-close-frame', () => {
  it('fires when TCP closed after the status without a close frame (kubectl: close 1006)', () => {
    const log = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), ...statusMessage(3), ...ends());
    const [f] = noCloseFrame.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'no-close-frame', conn: 'c1', severity: 'error', title: 'The server closed TCP without a WebSocket close frame after the status' });
    expect(f!.explanation).toContain('close 1006');
    expect(f!.explanation).toContain('exit code 3');
  });

  it('fires when a live connection stays open 10 s after the status (kubectl hangs)', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5')).at(1_000).add('c1', ...statusMessage(0));
    expect(noCloseFrame.evaluate(log.view({ now: 4_000, ended: false }))).toEqual([]);
    expect(noCloseFrame.evaluate(log.view({ now: 12_000, ended: false }))[0]?.title).toMatch(/stayed open/);
  });

  it('fires for a SPDY exec that kept answering pings after the status and never ended the streams', () => {
    const log = new LogBuilder('s', false).add('c1', spdyRequest(), spdy101(), stack('spdy-v4', 'spdy', 'v4.channel.k8s.io'), syn(1, 'error'), reply(1),
      spdyFrame('s2c', 'DATA', { streamId: 1, streamType: 'error', length: 34 }), data('s2c', 'error', 34), spdyFrame('c2s', 'PING', { pingId: 1 }), spdyFrame('s2c', 'PING', { pingId: 1 }), exitStatus(0), ...ends());
    expect(noCloseFrame.evaluate(log.view())[0]?.explanation).toMatch(/neither ended the streams/);
  });

  it('is silent for proper ends, SPDY ended by TCP close, and kubectl leaving right after the status', () => {
    expect(noCloseFrame.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    expect(noCloseFrame.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    const spdyTcp = new LogBuilder('s', false).add('c1', spdyRequest(), spdy101(), stack('spdy-v4', 'spdy', 'v4.channel.k8s.io'), syn(1, 'error'), reply(1),
      spdyFrame('s2c', 'DATA', { streamId: 1, streamType: 'error', length: 34 }), data('s2c', 'error', 34), exitStatus(0), ...ends());
    expect(noCloseFrame.evaluate(spdyTcp.view())).toEqual([]);
    const kubectlLeft = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'), ...statusMessage(0)).after(2).add('c1', ...ends(), connClose('client', 20));
    expect(noCloseFrame.evaluate(kubectlLeft.view())).toEqual([]);
  });
});
