import { describe, expect, it } from 'vitest';
import { forbidden } from '../../../src/diagnose/rules/forbidden.js';
import { LogBuilder, body, connClose, connOpen, ends, healthyWsExec, httpRequest, response, spdy101, spdyRequest, statusJson, wsRequest } from '../events.js';

const RBAC_GET = 'pods "p1" is forbidden: User "jane" cannot get resource "pods/exec" in API group "" in the namespace "default"';

describe('forbidden', () => {
  it('names user, verb and resource of an RBAC denial', () => {
    const rbac = 'pods "p1" is forbidden: User "jane" cannot create resource "pods/exec" in API group "" in the namespace "default"';
    const log = new LogBuilder().add('c1', spdyRequest(), response(403, { auditId: 'a1' }), body(statusJson('Forbidden', rbac, 403)), ...ends());
    const [f, ...rest] = forbidden.evaluate(log.view());
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'forbidden', conn: 'c1', severity: 'error', title: 'RBAC: jane cannot create pods/exec in default', hop: { answeredBy: 'api-server' } });
    expect(f!.explanation).toContain('POST, authorized as verb create');
    expect(f!.explanation).toContain('1.35');
    expect(f!.fix).toContain('verbs: ["get", "create"]');
    expect(f!.fix).toContain('kubectl auth can-i create pods --subresource=exec -n default --as jane');
  });

  it('leaves a WebSocket upgrade RBAC refused for a verb, and its SPDY retry, to rbac-verb-split', () => {
    const log = new LogBuilder()
      .add('c1', wsRequest(), response(403, { auditId: 'a1' }), body(statusJson('Forbidden', RBAC_GET, 403)), ...ends())
      .add('c2', spdyRequest(), spdy101());
    expect(forbidden.evaluate(log.view())).toEqual([]);
    const create = RBAC_GET.replace('cannot get', 'cannot create');
    const both = new LogBuilder()
      .add('c1', wsRequest(), response(403, { auditId: 'a1' }), body(statusJson('Forbidden', create, 403)), ...ends())
      .add('c2', spdyRequest(), response(403, { auditId: 'a2' }), body(statusJson('Forbidden', create, 403)), ...ends());
    expect(forbidden.evaluate(both.view())).toEqual([]);
  });

  it('fires for a final SPDY refusal with a Forbidden Status', () => {
    const log = new LogBuilder().add('c1', spdyRequest(), response(403), body(statusJson('Forbidden', 'denied by policy', 403)), ...ends());
    expect(forbidden.evaluate(log.view())[0]).toMatchObject({ severity: 'error', title: 'The API server refused exec (403 Forbidden)' });
  });

  it('fires for a pod GET refused by the API server', () => {
    const log = new LogBuilder().add('r1', connOpen('http'), httpRequest('/api/v1/namespaces/default/pods/p1', { op: 'other' }), response(403, { type: 'http.response', auditId: 'a2' }), connClose('upstream', 4));
    expect(forbidden.evaluate(log.view())).toHaveLength(1);
  });

  it('waits for kubectl\'s SPDY retry before calling a non-RBAC WebSocket refusal final', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), response(403), body(statusJson('Forbidden', 'denied by policy', 403)), connClose('upstream', 3));
    expect(forbidden.evaluate(log.view({ now: 1000, ended: false }))).toEqual([]);
    expect(forbidden.evaluate(log.view({ now: 5000, ended: false }))).toHaveLength(1);
  });

  it('is silent for a non-RBAC refusal that kubectl retried, for the empty 403 of an old server, and for healthy sessions', () => {
    const retried = new LogBuilder().add('c1', wsRequest(), response(403), body(statusJson('Forbidden', 'fake apiserver rejected websocket upgrade (403)', 403)), ...ends()).add('c2', spdyRequest(), spdy101());
    expect(forbidden.evaluate(retried.view())).toEqual([]);
    const empty = new LogBuilder().add('c1', wsRequest(), response(403, { headers: [['Content-Length', '0']] }), ...ends());
    expect(forbidden.evaluate(empty.view())).toEqual([]);
    expect(forbidden.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
  });
});
