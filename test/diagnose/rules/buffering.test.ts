import { describe, expect, it } from 'vitest';
import { buffering } from '../../../src/diagnose/rules/buffering.js';
import { LogBuilder, connClose, connOpen, httpRequest, response } from '../events.js';

const LOGS_F = '/api/v1/namespaces/default/pods/p1/log?container=c1&follow=true';

/** The pod GET (20 ms), then a `logs -f` whose headers come at `headersAt` and which closes at `closeAt`. */
function logsFollow(target: string, headersAt: number, closeAt: number): LogBuilder {
  return new LogBuilder()
    .add('r1', connOpen('http'), httpRequest('/api/v1/namespaces/default/pods/p1', { op: 'other' })).after(20).add('r1', response(200, { type: 'http.response', auditId: 'a' }), connClose('upstream', 20))
    .at(100).add('r2', connOpen('http'), httpRequest(target, { op: 'log' }))
    .at(100 + headersAt).add('r2', response(200, { type: 'http.response', auditId: 'b' }))
    .at(100 + closeAt).add('r2', connClose('upstream', closeAt, { c2s: 0, s2c: 48_000 }));
}

describe('buffering', () => {
  it('fires when a logs -f response came all at once after a long wait', () => {
    const [f] = buffering.evaluate(logsFollow(LOGS_F, 8_000, 8_200).view());
    expect(f).toMatchObject({ rule: 'buffering', conn: 'r2', severity: 'warn', title: '`logs -f` output arrived in one burst after 8.0 s' });
    expect(f!.fix).toContain('proxy_buffering off');
  });

  it('is silent for a stream that flowed, for quick headers, and for requests that do not stream', () => {
    expect(buffering.evaluate(logsFollow(LOGS_F, 8_000, 68_000).view())).toEqual([]);
    expect(buffering.evaluate(logsFollow(LOGS_F, 30, 60_000).view())).toEqual([]);
    expect(buffering.evaluate(logsFollow('/api/v1/namespaces/default/pods/p1/log?container=c1', 8_000, 8_100).view())).toEqual([]);
  });
});
