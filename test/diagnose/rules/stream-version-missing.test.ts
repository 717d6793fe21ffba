import { describe, expect, it } from 'vitest';
import { streamVersionMissing } from '../../../src/diagnose/rules/stream-version-missing.js';
import { LogBuilder, ends, healthySpdyExec, healthyWsExec, spdy101, spdyRequest } from '../events.js';

describe('stream-version-missing', () => {
  it('fires for a SPDY exec 101 without X-Stream-Protocol-Version: exit codes are lost', () => {
    const [f] = streamVersionMissing.evaluate(new LogBuilder().add('c1', spdyRequest(), spdy101(null), ...ends()).view());
    expect(f).toMatchObject({ rule: 'stream-version-missing', conn: 'c1', severity: 'error' });
    expect(f!.explanation).toMatch(/exit codes are lost/);
  });

  it('says port-forward stops', () => {
    const [f] = streamVersionMissing.evaluate(new LogBuilder().add('c1', spdyRequest({ op: 'portforward' }), spdy101(null), ...ends()).view());
    expect(f?.explanation).toContain('unable to negotiate protocol');
  });

  it('is silent when the header is there', () => {
    expect(streamVersionMissing.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    expect(streamVersionMissing.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
  });
});
