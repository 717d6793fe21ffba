import { describe, expect, it } from 'vitest';
import { noFallback } from '../../../src/diagnose/rules/no-fallback.js';
import type { EventBody } from '../../../src/events/types.js';
import { LogBuilder, body, connClose, connOpen, ends, healthySpdyExec, healthyWsExec, response, spdy101, spdyRequest, statusJson, wsRequest, ws101 } from '../events.js';

const PY = [['Host', 'k'], ['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io'], ['Sec-WebSocket-Version', '13']] as [string, string][];
const refused = (status = 400, message = 'websocket streaming is not allowed here'): EventBody[] => [response(status, { auditId: 'a1' }), body(statusJson(status === 403 ? 'Forbidden' : 'BadRequest', message, status)), ...ends()];

describe('no-fallback', () => {
  it('fires for a refused WebSocket upgrade with no SPDY attempt within the grace: the client has no fallback', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest({ headers: PY }), ...refused(), connClose('upstream', 2));
    expect(noFallback.evaluate(log.view({ now: 1_000, ended: false }))).toEqual([]);
    const [f, ...rest] = noFallback.evaluate(log.view({ now: 4_000, ended: false }));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'no-fallback', conn: 'c1', severity: 'error', title: 'WebSocket refused (400) and the client made no SPDY attempt', hop: { where: 'client↔kubewire', answeredBy: 'api-server' } });
    expect(f!.explanation).toContain('no SPDY fallback, or a broken one');
    expect(f!.explanation).toContain('python-kubernetes');
    expect(f!.explanation).toContain('not a network fault');
    expect(f!.evidence.facts.at(-1)).toBe('no SPDY upgrade followed');
    expect(f!.fix).toContain('kubewire proxy --translate ws-to-spdy');
  });

  it('fires for a rejected 101, and when the SPDY attempt came only after the grace', () => {
    expect(noFallback.evaluate(new LogBuilder().add('c1', wsRequest(), ws101(null), ...ends()).view())[0]?.title).toContain('bad 101');
    const late = new LogBuilder().add('c1', connOpen(), wsRequest(), ...refused(), connClose('upstream', 2)).after(10_000).add('c2', connOpen(), spdyRequest(), spdy101());
    expect(noFallback.evaluate(late.view())[0]?.explanation).toContain('came only after');
  });

  it('is silent when kubectl fell back, for healthy sessions, for SPDY refusals and for unanswered upgrades', () => {
    const fellBack = new LogBuilder().add('c1', wsRequest(), ...refused(403)).after(5).add('c2', spdyRequest(), spdy101());
    expect(noFallback.evaluate(fellBack.view())).toEqual([]);
    expect(noFallback.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    expect(noFallback.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    expect(noFallback.evaluate(new LogBuilder().add('c1', spdyRequest(), ...refused(403)).view())).toEqual([]);
    expect(noFallback.evaluate(new LogBuilder().add('c1', wsRequest(), ...ends()).view())).toEqual([]);
  });

  it('is silent for refusals no transport changes: a missing pod or container, a missing credential', () => {
    const gone = new LogBuilder().add('c1', wsRequest(), response(404, { auditId: 'a1' }), body(statusJson('NotFound', 'pods "p1" not found', 404)), ...ends());
    expect(noFallback.evaluate(gone.view())).toEqual([]);
    expect(noFallback.evaluate(new LogBuilder().add('c1', wsRequest(), ...refused(400, 'container nosuch is not valid for pod p1')).view())).toEqual([]);
    expect(noFallback.evaluate(new LogBuilder().add('c1', wsRequest(), response(401), ...ends()).view())).toEqual([]);
  });
});
