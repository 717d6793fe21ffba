import { describe, expect, it } from 'vitest';
import { forwardProxy } from '../../../src/diagnose/rules/forward-proxy.js';
import type { EventBody } from '../../../src/events/types.js';
import { LogBuilder, body, connClose, connOpen, ends, healthyWsExec, response, spdy101, spdyRequest, statusJson, wsRequest } from '../events.js';

const connectRefused: EventBody = {
  type: 'proxy.error', code: 'KW_ERR_UPSTREAM_PROXY', status: 502, upstream: 'https://10.0.0.1:6443',
  message: 'the proxy http://proxy.corp:3128 refused to tunnel to 10.0.0.1:6443 (for https://10.0.0.1:6443): 403 Forbidden',
};

describe('forward-proxy', () => {
  it('fires when the kubeconfig proxy refuses CONNECT', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), connectRefused, connClose('error', 20));
    const [f] = forwardProxy.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'forward-proxy', conn: 'c1', severity: 'error', hop: { where: 'kubewire↔upstream', answeredBy: 'kubewire' } });
    expect(f!.explanation).toContain('refused to tunnel');
  });

  it('fires for an HTML page and for a 407', () => {
    const html = new LogBuilder().add('c1', spdyRequest(), response(403, { headers: [['Content-Type', 'text/html']] }), body('<!DOCTYPE html><html><title>Access Denied - Zscaler</title></html>', 'text/html'), ...ends());
    const [f] = forwardProxy.evaluate(html.view());
    expect(f?.hop.why).toContain('Access Denied - Zscaler');
    const auth = new LogBuilder().add('c1', spdyRequest(), response(407, { headers: [['Proxy-Authenticate', 'Basic realm="corp"']] }), ...ends());
    expect(forwardProxy.evaluate(auth.view())[0]?.title).toMatch(/407/);
  });

  it('is silent for the API server\'s own answers', () => {
    expect(forwardProxy.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    const status = new LogBuilder()
      .add('c1', wsRequest(), response(403), body(statusJson('Forbidden', 'nope', 403)), ...ends())
      .add('c2', spdyRequest(), spdy101());
    expect(forwardProxy.evaluate(status.view())).toEqual([]);
  });
});
