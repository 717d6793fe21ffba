import { describe, expect, it } from 'vitest';
import { websocketFallback } from '../../../src/diagnose/rules/websocket-fallback.js';
import { LogBuilder, body, connClose, connEnd, connOpen, ends, healthySpdyExec, healthyWsExec, response, spdy101, spdyRequest, statusJson, wsRequest } from '../events.js';

describe('websocket-fallback', () => {
  it('fires for an empty 403 (an API server that passed v5 to the kubelet) followed by SPDY', () => {
    const log = new LogBuilder()
      .add('c1', wsRequest(), response(403, { headers: [['Content-Length', '0']] }), ...ends())
      .after(50).add('c2', spdyRequest(), spdy101());
    const [f, ...rest] = websocketFallback.evaluate(log.view());
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'websocket-fallback', conn: 'c1', severity: 'warn', hop: { where: 'kubewire↔upstream', answeredBy: 'kubelet' } });
    expect(f!.explanation).toMatch(/TranslateStreamCloseWebsocketRequests/);
    expect(f!.fix).toMatch(/1\.30/);
    expect(f!.fix).toMatch(/KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false/);
    expect(f!.evidence.seqs).toEqual([1, 2, 5, 6]);
  });

  it('explains the port-forward tunnel refused by a kubelet (PortForwardWebsockets off)', () => {
    const log = new LogBuilder()
      .add('c1', wsRequest({ op: 'portforward' }), response(400, { auditId: 'a1' }), body('query parameter "port" is required\n', 'text/plain'), ...ends())
      .add('c2', spdyRequest({ op: 'portforward' }), spdy101('portforward.k8s.io'));
    const [f] = websocketFallback.evaluate(log.view());
    expect(f?.hop.answeredBy).toBe('kubelet');
    expect(f?.explanation).toMatch(/PortForwardWebsockets/);
    expect(f?.fix).toMatch(/KUBECTL_PORT_FORWARD_WEBSOCKETS=false/);
  });

  it('names a gateway that refused the upgrade with an HTML page', () => {
    const log = new LogBuilder()
      .add('c1', wsRequest(), response(404, { headers: [['Server', 'nginx/1.25.3'], ['Content-Type', 'text/html']] }), body('<html><head><title>404 Not Found</title></head></html>', 'text/html'), ...ends())
      .add('c2', spdyRequest(), spdy101());
    const [f] = websocketFallback.evaluate(log.view());
    expect(f?.hop.answeredBy).toBe('intermediary');
    expect(f?.fix).toContain('proxy_set_header Upgrade $http_upgrade');
  });

  it('is silent when the API server refused both attempts with the same Status (a container that does not exist): the model sees no fallback', () => {
    const refusal = [response(400, { auditId: 'a1' }), body(statusJson('BadRequest', 'container nosuch is not valid for pod web', 400)), ...ends()];
    const log = new LogBuilder()
      .add('c1', wsRequest({ k8s: { pod: 'web', container: 'nosuch' } }), ...refusal)
      .after(5).add('c2', spdyRequest({ k8s: { pod: 'web', container: 'nosuch' } }), ...refusal);
    expect(log.view().story().fallback).toBeNull();
    expect(websocketFallback.evaluate(log.view())).toEqual([]);
  });

  it('fires for the WebSocket attempt the model says fell back, not for a later SPDY upgrade past the grace', () => {
    const log = new LogBuilder()
      .add('c1', connOpen(), wsRequest(), response(403, { headers: [['Content-Length', '0']] }), ...ends(), connClose('upstream', 2))
      .after(10_000).add('c2', connOpen(), spdyRequest(), spdy101());
    expect(log.view().story().fallback).toBeNull();
    expect(websocketFallback.evaluate(log.view())).toEqual([]);
  });

  it('is silent for a healthy WebSocket exec, a healthy SPDY exec, and a refusal with no SPDY retry', () => {
    expect(websocketFallback.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    expect(websocketFallback.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    const alone = new LogBuilder().add('c1', wsRequest(), response(403), connEnd('c2s'), connEnd('s2c'));
    expect(websocketFallback.evaluate(alone.view())).toEqual([]);
  });
});
