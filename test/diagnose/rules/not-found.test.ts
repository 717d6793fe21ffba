import { describe, expect, it } from 'vitest';
import { notFound } from '../../../src/diagnose/rules/not-found.js';
import { LogBuilder, body, connOpen, ends, healthyWsExec, httpRequest, response, spdy101, spdyRequest, statusJson, wsRequest } from '../events.js';

describe('not-found', () => {
  it('says the pod does not exist for a Status NotFound', () => {
    const log = new LogBuilder().add('c1', spdyRequest(), response(404), body(statusJson('NotFound', 'pods "p1" not found', 404)), ...ends());
    const [f] = notFound.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'not-found', conn: 'c1', severity: 'error', title: 'Not found: pods "p1" not found', hop: { answeredBy: 'api-server' } });
    expect(f!.fix).toContain('kubectl get pod p1 -n default');
  });

  it('reads a JSON 404 to a pod GET as the API server\'s (kubewire does not record plain bodies)', () => {
    const log = new LogBuilder().add('r1', connOpen('http'), httpRequest('/api/v1/namespaces/default/pods/nosuchpod', { op: 'other' }), response(404, { type: 'http.response', headers: [['Content-Type', 'application/json']] }));
    const [f] = notFound.evaluate(log.view());
    expect(f?.title).toBe('Not found: pod default/p1');
    expect(f?.explanation).toContain('Error from server (NotFound)');
  });

  it('names the subresource, not the pod, for a 404 on pods/NAME/log whose Status does not name the pod', () => {
    const partial = new LogBuilder().add('r1', httpRequest('/api/v1/namespaces/default/pods/p1/log', { op: 'log' }), response(404, { auditId: 'a' }), body(statusJson('NotFound', 'the server could not find the requested resource', 404)), ...ends());
    const [f] = notFound.evaluate(partial.view());
    expect(f?.title).toBe('Not found: the log subresource of pod default/p1 (the server could not find the requested resource)');
    expect(f?.title).not.toMatch(/pod default\/p1 not found/);
    expect(f?.explanation).toContain('partial API server');
    expect(f?.fix).toContain('kubectl get pod p1 -n default');
    const plain = new LogBuilder().add('r1', connOpen('http'), httpRequest('/api/v1/namespaces/default/pods/p1/log', { op: 'log' }), response(404, { type: 'http.response', headers: [['Content-Type', 'application/json']] }));
    expect(notFound.evaluate(plain.view())[0]?.title).toBe('Not found: the log subresource of pod default/p1');
    const gone = new LogBuilder().add('r1', httpRequest('/api/v1/namespaces/default/pods/p1/log', { op: 'log' }), response(404, { auditId: 'a' }), body(statusJson('NotFound', 'pods "p1" not found', 404)), ...ends());
    expect(notFound.evaluate(gone.view())[0]?.title).toBe('Not found: pods "p1" not found');
  });

  it('blames a gateway route for an HTML 404, and the path for a bare one', () => {
    const html = new LogBuilder().add('c1', spdyRequest(), response(404, { headers: [['Server', 'nginx']] }), body('<html><title>404 Not Found</title></html>', 'text/html'), ...ends());
    expect(notFound.evaluate(html.view())[0]).toMatchObject({ hop: { answeredBy: 'intermediary' }, title: 'A gateway has no route for exec (404)' });
    const bare = new LogBuilder().add('c1', spdyRequest(), response(404, { headers: [['Content-Length', '0']] }), ...ends());
    expect(notFound.evaluate(bare.view())[0]?.title).toMatch(/wrong path/);
  });

  it('is silent for a WebSocket 404 that kubectl retried over SPDY, for discovery 404s and for healthy sessions', () => {
    const retried = new LogBuilder().add('c1', wsRequest(), response(404), body(statusJson('NotFound', 'nope', 404)), ...ends()).add('c2', spdyRequest(), spdy101());
    expect(notFound.evaluate(retried.view())).toEqual([]);
    const discovery = new LogBuilder().add('r1', httpRequest('/apis/metrics.k8s.io/v1beta1'), response(404, { type: 'http.response', auditId: 'a' }));
    expect(notFound.evaluate(discovery.view())).toEqual([]);
    expect(notFound.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
  });
});
