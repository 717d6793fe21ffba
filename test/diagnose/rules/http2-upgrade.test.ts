import { describe, expect, it } from 'vitest';
import { http2Upgrade } from '../../../src/diagnose/rules/http2-upgrade.js';
import { LogBuilder, body, ends, healthyWsExec, httpRequest, response, spdyRequest, statusJson, wsRequest } from '../events.js';

describe('http2-upgrade', () => {
  it('fires for an exec request that came over HTTP/2', () => {
    const log = new LogBuilder().add('r1', httpRequest('/api/v1/namespaces/default/pods/p1/exec?command=ls', { version: '2.0', op: 'exec' }), response(400, { type: 'http.response', version: '2.0' }));
    const [f] = http2Upgrade.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'http2-upgrade', conn: 'r1', severity: 'error' });
    expect(f!.evidence.facts.join('\n')).toMatch(/over 2\.0/);
  });

  it('fires for a refusal that passed an HTTP/2 hop (Via)', () => {
    const log = new LogBuilder().add('c1', spdyRequest(), response(400, { headers: [['Via', '2 envoy']] }), body(statusJson('BadRequest', 'Upgrade request required', 400)), ...ends());
    expect(http2Upgrade.evaluate(log.view())[0]?.evidence.facts.join('\n')).toContain('Via: 2 envoy');
  });

  it('is silent for HTTP/1.1 upgrades and for plain requests over HTTP/2', () => {
    expect(http2Upgrade.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    const plain = new LogBuilder().add('r1', httpRequest('/api/v1/namespaces/default/pods/p1', { version: '2.0' }), response(200, { type: 'http.response', version: '2.0' }));
    expect(http2Upgrade.evaluate(plain.view())).toEqual([]);
    const viaHttp11 = new LogBuilder().add('c1', wsRequest(), response(403, { headers: [['Via', '1.1 squid']] }), ...ends());
    expect(http2Upgrade.evaluate(viaHttp11.view())).toEqual([]);
  });
});
