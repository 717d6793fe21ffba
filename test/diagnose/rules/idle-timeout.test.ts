import { describe, expect, it } from 'vitest';
import { idleTimeout } from '../../../src/diagnose/rules/idle-timeout.js';
import { LogBuilder, TUNNEL, connClose, connEnd, connOpen, data, healthyWsExec, spdyFrame, stack, wsFrame, wsRequest, ws101 } from '../events.js';

/** A live WebSocket exec with output at t=1 s, cut by the server side at `cutAt` (ms) with no close frame. */
function cut(cutAt: number, closedBy: 'upstream' | 'client' = 'upstream', pings = false): LogBuilder {
  const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'));
  log.at(1_000).add('c1', wsFrame('s2c', 'binary', { length: 6 }), data('s2c', 'stdout', 5));
  if (pings) for (let t = 6_000; t < cutAt; t += 5_000) log.at(t).add('c1', wsFrame('c2s', 'ping'), wsFrame('s2c', 'pong'));
  return log.at(cutAt).add('c1', connEnd('s2c'), connEnd('c2s'), connClose(closedBy, cutAt));
}

describe('idle-timeout', () => {
  it('fires for a cut after 60 s of silence and names the usual 60 s suspects', () => {
    const [f] = idleTimeout.evaluate(cut(61_000).view());
    expect(f).toMatchObject({ rule: 'idle-timeout', conn: 'c1', severity: 'error', title: 'The connection was cut after 60 s without traffic' });
    expect(f!.explanation).toMatch(/proxy_read_timeout|ALB/);
    expect(f!.explanation).toMatch(/No keepalive pings/);
    expect(f!.fix).toContain('timeout tunnel 1h');
  });

  it('says whether pings were flowing', () => {
    const nlb = idleTimeout.evaluate(cut(351_000, 'upstream', true).view())[0];
    expect(nlb?.explanation).toContain('350 s matches AWS NLB');
    expect(nlb?.explanation).toContain('pings were flowing and answered');
    const tunnel = new LogBuilder().add('c1', connOpen(), wsRequest({ op: 'portforward', offered: [TUNNEL] }), ws101(TUNNEL), stack('portforward-tunnel', 'websocket+spdy', TUNNEL));
    tunnel.at(10_000).add('c1', { ...spdyFrame('c2s', 'PING', { pingId: 1 }), tunnel: true });
    tunnel.at(40_000).add('c1', connEnd('s2c'), connEnd('c2s'), connClose('error', 40_000, undefined, 'upstream socket: read ECONNRESET'));
    expect(idleTimeout.evaluate(tunnel.view())[0]?.explanation).toMatch(/flowing, unanswered/);
  });

  it('is silent for short gaps, for kubectl closing, for a proper end, and without timestamps', () => {
    expect(idleTimeout.evaluate(cut(2_500).view())).toEqual([]);
    expect(idleTimeout.evaluate(cut(61_000, 'client').view())).toEqual([]);
    expect(idleTimeout.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    const noClock = new LogBuilder('s', false).add('c1', connOpen(), wsRequest(), ws101(), connClose('upstream', 61_000));
    expect(idleTimeout.evaluate(noClock.view())).toEqual([]);
  });
});
