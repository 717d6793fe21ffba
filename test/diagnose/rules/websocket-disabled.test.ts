import { describe, expect, it } from 'vitest';
import { diagnoseEvents } from '../../../src/diagnose/engine.js';
import { websocketDisabled } from '../../../src/diagnose/rules/websocket-disabled.js';
import type { EventBody } from '../../../src/events/types.js';
import { LogBuilder, body, ends, healthySpdyExec, healthyWsExec, httpRequest, response, spdy101, spdyRequest, statusJson, wsRequest } from '../events.js';

const policy = (): EventBody[] => [response(403, { auditId: 'a1' }), body(statusJson('Forbidden', 'websocket upgrades are disabled on this cluster', 403)), ...ends()];
const withRetry = (refusal: EventBody[], op: 'exec' | 'portforward' = 'exec'): LogBuilder =>
  new LogBuilder().add('c1', wsRequest({ op }), ...refusal).after(5).add('c2', spdyRequest({ op }), spdy101(op === 'portforward' ? 'portforward.k8s.io' : 'v4.channel.k8s.io'));

describe('websocket-disabled', () => {
  it('fires when the API server refused the WebSocket upgrade itself and /version says 1.30+', () => {
    const [f, ...rest] = websocketDisabled.evaluate(withRetry(policy()).view({ serverVersion: 'v1.33.1' }));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'websocket-disabled', conn: 'c1', severity: 'warn', title: 'WebSocket streaming is turned off on this v1.33.1 control plane', hop: { answeredBy: 'api-server' } });
    expect(f!.explanation).toContain('TranslateStreamCloseWebsocketRequests');
    expect(f!.explanation).toContain('OpenShift 4.18–4.21');
    expect(f!.evidence.facts).toContain('the API server\'s /version: v1.33.1');
    expect(f!.fix).toContain('KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false');
    // SPDY worked, so translation is not offered.
    expect(f!.fix).not.toContain('--translate');
  });

  it('offers ws-to-spdy when SPDY did not get through either', () => {
    const log = new LogBuilder().add('c1', wsRequest(), ...policy());
    const [f] = websocketDisabled.evaluate(log.view({ serverVersion: 'v1.33.1' }));
    expect(f).toMatchObject({ severity: 'error' });
    expect(f!.fix).toContain('kubewire proxy --translate ws-to-spdy');
  });

  it('reads the kubelet\'s empty 403 relayed with Audit-Id, and the tunnel\'s "port" refusal from 1.31, as WebSocket turned off', () => {
    const empty = withRetry([response(403, { auditId: 'a1', headers: [['Content-Length', '0']] }), ...ends()]);
    expect(websocketDisabled.evaluate(empty.view({ serverVersion: 'v1.31.0' }))[0]?.explanation).toContain('An empty 403 is the kubelet\'s answer, relayed by the API server');
    const tunnel = withRetry([response(400, { auditId: 'a1' }), body('query parameter "port" is required\n', 'text/plain'), ...ends()], 'portforward');
    expect(websocketDisabled.evaluate(tunnel.view({ serverVersion: 'v1.31.0' }))[0]?.explanation).toContain('PortForwardWebsockets');
    expect(websocketDisabled.evaluate(tunnel.view({ serverVersion: 'v1.30.2' }))).toEqual([]);
  });

  it('learns the version from a /version answer the session model saw, and then speaks instead of websocket-fallback', () => {
    const log = new LogBuilder('s')
      .add('v1', httpRequest('/version'), response(200, { type: 'http.response' }), body('{"major":"1","minor":"34","gitVersion":"v1.34.2"}'), ...ends())
      .add('c1', wsRequest(), ...policy()).after(5).add('c2', spdyRequest(), spdy101());
    expect(diagnoseEvents(log.events).map((f) => f.rule)).toEqual(['websocket-disabled']);
    expect(diagnoseEvents(withRetry(policy()).events).map((f) => f.rule)).toEqual(['websocket-fallback']);
    expect(diagnoseEvents(withRetry(policy()).events, { serverVersion: 'v1.35.0' }).map((f) => f.rule)).toEqual(['websocket-disabled']);
  });

  it('is silent without the version, before 1.30, for refusals with causes of their own, and for healthy sessions', () => {
    expect(websocketDisabled.evaluate(withRetry(policy()).view())).toEqual([]);
    expect(websocketDisabled.evaluate(withRetry(policy()).view({ serverVersion: 'v1.29.4' }))).toEqual([]);
    const rbac = 'pods "p1" is forbidden: User "jane" cannot get resource "pods/exec" in API group "" in the namespace "default"';
    for (const [status, reason, message] of [[403, 'Forbidden', rbac], [404, 'NotFound', 'pods "p1" not found'], [400, 'BadRequest', 'Upgrade request required'], [400, 'BadRequest', 'container x is not valid for pod p1']] as const) {
      const log = withRetry([response(status, { auditId: 'a1' }), body(statusJson(reason, message, status)), ...ends()]);
      expect(websocketDisabled.evaluate(log.view({ serverVersion: 'v1.33.1' })), message).toEqual([]);
    }
    const gateway = withRetry([response(403, { headers: [['Server', 'nginx'], ['Content-Type', 'text/html']] }), body('<html><title>403 Forbidden</title></html>', 'text/html'), ...ends()]);
    expect(websocketDisabled.evaluate(gateway.view({ serverVersion: 'v1.33.1' }))).toEqual([]);
    expect(websocketDisabled.evaluate(healthyWsExec(new LogBuilder()).view({ serverVersion: 'v1.33.1' }))).toEqual([]);
    expect(websocketDisabled.evaluate(healthySpdyExec(new LogBuilder()).view({ serverVersion: 'v1.33.1' }))).toEqual([]);
  });
});
