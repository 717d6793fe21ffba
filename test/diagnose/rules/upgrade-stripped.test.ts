import { describe, expect, it } from 'vitest';
import { upgradeStripped } from '../../../src/diagnose/rules/upgrade-stripped.js';
import { LogBuilder, TUNNEL, body, ends, healthySpdyExec, healthyWsExec, response, spdyRequest, statusJson, wsRequest } from '../events.js';

describe('upgrade-stripped', () => {
  it('fires when the API server says "Upgrade request required"', () => {
    const log = new LogBuilder().add('c1', spdyRequest(), response(400, { auditId: '5a1' }), body(statusJson('BadRequest', 'Upgrade request required', 400)), ...ends());
    const [f] = upgradeStripped.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'upgrade-stripped', conn: 'c1', severity: 'error', hop: { answeredBy: 'api-server' } });
    expect(f!.evidence.facts.join('\n')).toContain('Connection: Upgrade, Upgrade: SPDY/3.1');
    expect(f!.fix).toContain('proxy_http_version 1.1');
  });

  it('fires when the tunnel subprotocol did not arrive', () => {
    const log = new LogBuilder().add('c1', wsRequest({ op: 'portforward', offered: [TUNNEL] }), response(400), body('unable to upgrade: no tunneling spdy protocols provided\n', 'text/plain'), ...ends());
    expect(upgradeStripped.evaluate(log.view())[0]?.title).toMatch(/subprotocol header was stripped/);
  });

  it('is silent for healthy upgrades and for other 400s', () => {
    expect(upgradeStripped.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    expect(upgradeStripped.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    const other = new LogBuilder().add('c1', spdyRequest(), response(400), body(statusJson('BadRequest', 'container c9 is not valid for pod p1', 400)), ...ends());
    expect(upgradeStripped.evaluate(other.view())).toEqual([]);
  });
});
