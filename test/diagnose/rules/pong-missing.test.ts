import { describe, expect, it } from 'vitest';
import { pongMissing } from '../../../src/diagnose/rules/pong-missing.js';
import { LogBuilder, connOpen, ends, healthyWsExec, stack, wsFrame, wsRequest, ws101 } from '../events.js';

/** A live exec whose kubectl pinged every 5 s from t=5 s to t=`until`, answered only up to `answeredUntil`. */
function pinging(until: number, answeredUntil = 0): LogBuilder {
  const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'), wsFrame('s2c', 'binary', { length: 1 }));
  for (let t = 5_000; t <= until; t += 5_000) {
    log.at(t).add('c1', wsFrame('c2s', 'ping'));
    if (t <= answeredUntil) log.add('c1', wsFrame('s2c', 'pong'));
  }
  return log;
}

describe('pong-missing', () => {
  it('fires after 30 s without a pong, before kubectl\'s 61 s deadline', () => {
    expect(pongMissing.evaluate(pinging(25_000).view({ now: 26_000, ended: false }))).toEqual([]);
    const [f] = pongMissing.evaluate(pinging(35_000).view({ now: 36_000, ended: false }));
    expect(f).toMatchObject({ rule: 'pong-missing', conn: 'c1', severity: 'error', title: 'kubectl\'s WebSocket pings got no pong for 31 s' });
    expect(f!.explanation).toContain('61 s');
  });

  it('counts pings in a capture without timestamps', () => {
    const log = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'));
    for (let i = 0; i < 8; i++) log.add('c1', wsFrame('c2s', 'ping'));
    expect(pongMissing.evaluate(log.view())).toEqual([]);
    log.add('c1', ...ends());
    expect(pongMissing.evaluate(log.view())[0]?.title).toBe('kubectl\'s WebSocket pings got no pong (8 in a row)');
  });

  it('is silent while pongs come back, for a short gap, and for healthy sessions', () => {
    expect(pongMissing.evaluate(pinging(60_000, 60_000).view({ now: 62_000, ended: false }))).toEqual([]);
    expect(pongMissing.evaluate(pinging(60_000, 40_000).view({ now: 61_000, ended: false }))).toEqual([]);
    expect(pongMissing.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
  });
});
