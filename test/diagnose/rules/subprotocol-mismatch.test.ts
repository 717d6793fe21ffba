import { describe, expect, it } from 'vitest';
import { subprotocolMismatch } from '../../../src/diagnose/rules/subprotocol-mismatch.js';
import { LogBuilder, body, ends, healthySpdyExec, healthyWsExec, response, spdy101, spdyRequest, wsRequest, ws101 } from '../events.js';

describe('subprotocol-mismatch', () => {
  it('fires for a 101 without a subprotocol, and says kubectl fell back', () => {
    const log = new LogBuilder().add('c1', wsRequest(), ws101(null), ...ends()).add('c2', spdyRequest(), spdy101());
    const [f] = subprotocolMismatch.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'subprotocol-mismatch', conn: 'c1', severity: 'warn' });
    expect(f!.explanation).toContain('got ""');
    expect(f!.explanation).toContain('fell back to SPDY');
  });

  it('recognises a kubelet\'s v4 answer and a changed subprotocol', () => {
    const v4 = subprotocolMismatch.evaluate(new LogBuilder().add('c1', wsRequest(), ws101('v4.channel.k8s.io'), ...ends()).view())[0];
    expect(v4?.explanation).toMatch(/kubelet/);
    expect(v4?.fix).toMatch(/1\.30/);
    const changed = subprotocolMismatch.evaluate(new LogBuilder().add('c1', wsRequest(), ws101('V5.CHANNEL.K8S.IO'), ...ends()).view())[0];
    expect(changed?.explanation).toContain('a changed subprotocol');
  });

  it('fires for a SPDY 403 "unable to negotiate protocol"', () => {
    const text = 'unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io], server accepts [v4.channel.k8s.io]\n';
    const log = new LogBuilder().add('c1', spdyRequest({ offered: ['v9.channel.k8s.io'] }), response(403, { headers: [['X-Accepted-Stream-Protocol-Versions', 'v4.channel.k8s.io']] }), body(text, 'text/plain'), ...ends());
    const [f] = subprotocolMismatch.evaluate(log.view());
    expect(f).toMatchObject({ severity: 'error', hop: { answeredBy: 'kubelet' } });
    expect(f!.explanation).toContain('accepts v4.channel.k8s.io');
  });

  it('is silent when the offered protocol came back', () => {
    expect(subprotocolMismatch.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    expect(subprotocolMismatch.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
  });
});
