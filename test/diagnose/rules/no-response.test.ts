import { describe, expect, it } from 'vitest';
import { noResponse } from '../../../src/diagnose/rules/no-response.js';
import type { EventBody } from '../../../src/events/types.js';
import { LogBuilder, connClose, connEnd, connOpen, ends, healthyWsExec, spdyRequest, wsRequest } from '../events.js';

describe('no-response', () => {
  it('fires when the connection closed before any answer to the upgrade', () => {
    const [f] = noResponse.evaluate(new LogBuilder().add('c1', wsRequest(), ...ends()).view());
    expect(f).toMatchObject({ rule: 'no-response', conn: 'c1', severity: 'error', hop: { answeredBy: 'unknown' } });
    expect(f!.explanation).toContain('`error: unexpected EOF`');
    const [g] = noResponse.evaluate(new LogBuilder().add('c1', spdyRequest(), ...ends()).view());
    expect(g?.explanation).toContain('error sending request');
  });

  it('waits for a live connection to close', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), connEnd('c2s'), connEnd('s2c'));
    expect(noResponse.evaluate(log.view({ ended: false }))).toEqual([]);
    log.add('c1', connClose('upstream', 30));
    expect(noResponse.evaluate(log.view())).toHaveLength(1);
  });

  it('is silent for answered upgrades and for kubewire\'s own failures', () => {
    expect(noResponse.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    const refused: EventBody = { type: 'proxy.error', code: 'KW_ERR_UPSTREAM_REFUSED', message: 'connection refused', upstream: 'https://10.0.0.1:6443', status: 502 };
    expect(noResponse.evaluate(new LogBuilder().add('c1', connOpen(), wsRequest(), refused, connClose('error', 3)).view())).toEqual([]);
  });
});
