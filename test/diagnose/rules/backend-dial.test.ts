import { describe, expect, it } from 'vitest';
import { backendDial } from '../../../src/diagnose/rules/backend-dial.js';
import type { EventBody } from '../../../src/events/types.js';
import { LogBuilder, body, closeFrame, data, ends, healthyWsExec, response, spdyRequest, stack, statusJson, wsFrame, wsRequest, ws101 } from '../events.js';

const DIAL = 'error dialing backend: dial tcp 10.0.3.7:10250: i/o timeout';

describe('backend-dial', () => {
  it('fires for an upgrade refused with "error dialing backend"', () => {
    const log = new LogBuilder().add('c1', spdyRequest(), response(500, { auditId: 'a' }), body(statusJson('InternalError', DIAL, 500)), ...ends());
    const [f] = backendDial.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'backend-dial', conn: 'c1', severity: 'error', hop: { answeredBy: 'api-server' } });
    expect(f!.explanation).toMatch(/firewall|Konnectivity/);
    expect(f!.fix).toContain('10250');
  });

  it('fires for the status the v5 translator sends after the 101', () => {
    const status: EventBody = { type: 'k8s.status', dir: 's2c', offset: 0, format: 'json', status: 'Failure', reason: 'InternalError', message: `Internal error occurred: ${DIAL}`, code: 500, exitCode: null, raw: '{}' };
    const log = new LogBuilder().add('c1', wsRequest(), ws101(), stack('channel-v5'), wsFrame('s2c', 'binary', { length: 90 }), data('s2c', 'error', 89), status, closeFrame('s2c'), ...ends());
    expect(backendDial.evaluate(log.view())[0]?.explanation).toMatch(/after the 101/);
  });

  it('is silent for a healthy exec', () => {
    expect(backendDial.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
  });
});
