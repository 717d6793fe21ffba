import { describe, expect, it } from 'vitest';
import { unexpectedProtocol } from '../../../src/diagnose/rules/unexpected-protocol.js';
import { LogBuilder, SPDY_EXEC_OFFER, ends, healthySpdyExec, spdy101, spdyRequest } from '../events.js';

const KUBECTL_127 = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

describe('unexpected-protocol', () => {
  it('fires when the server picks v5 for a kubectl that offered v4 and older (1.27 panics)', () => {
    const [f] = unexpectedProtocol.evaluate(new LogBuilder().add('c1', spdyRequest({ offered: KUBECTL_127 }), spdy101('v5.channel.k8s.io'), ...ends()).view());
    expect(f).toMatchObject({ rule: 'unexpected-protocol', conn: 'c1', severity: 'error' });
    expect(f!.explanation).toMatch(/panics/);
    expect(f!.fix).toMatch(/1\.29/);
  });

  it('is silent when the choice was offered (v5 over SPDY to kubectl 1.33)', () => {
    expect(unexpectedProtocol.evaluate(new LogBuilder().add('c1', spdyRequest({ offered: SPDY_EXEC_OFFER }), spdy101('v5.channel.k8s.io'), ...ends()).view())).toEqual([]);
    expect(unexpectedProtocol.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
  });
});
