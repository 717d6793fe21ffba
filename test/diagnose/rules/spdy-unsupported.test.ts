import { describe, expect, it } from 'vitest';
import { spdyUnsupported } from '../../../src/diagnose/rules/spdy-unsupported.js';
import { LogBuilder, TUNNEL, body, ends, healthySpdyExec, response, spdyRequest, statusJson, wsRequest, ws101 } from '../events.js';

describe('spdy-unsupported', () => {
  it('fires when a gateway refuses the SPDY upgrade', () => {
    const log = new LogBuilder().add('c1', spdyRequest(), response(405, { headers: [['Server', 'envoy'], ['Content-Type', 'text/plain']] }), body('method not allowed', 'text/plain'), ...ends());
    const [f] = spdyUnsupported.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'spdy-unsupported', conn: 'c1', severity: 'error', hop: { answeredBy: 'intermediary' } });
    expect(f!.fix).toContain('upgrade_type: spdy/3.1');
  });

  it('fires when SPDY is refused where a WebSocket upgrade of the session passed', () => {
    const log = new LogBuilder()
      .add('c1', wsRequest({ op: 'portforward', offered: [TUNNEL] }), ws101(TUNNEL))
      .add('c2', spdyRequest(), response(400, { auditId: 'x' }), body(statusJson('BadRequest', 'upgrade not allowed here', 400)), ...ends());
    const [f] = spdyUnsupported.evaluate(log.view());
    expect(f?.title).toMatch(/where WebSocket passed/);
    expect(f?.evidence.seqs).toContain(1);
  });

  it('is silent for a healthy SPDY exec and for the API server\'s own refusals', () => {
    expect(spdyUnsupported.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    const rbac = new LogBuilder().add('c1', spdyRequest(), response(403, { auditId: 'x' }), body(statusJson('Forbidden', 'pods "p1" is forbidden', 403)), ...ends());
    expect(spdyUnsupported.evaluate(rbac.view())).toEqual([]);
  });
});
