import { describe, expect, it } from 'vitest';
import { pfError } from '../../../src/diagnose/rules/pf-error.js';
import type { EventBody } from '../../../src/events/types.js';
import { LogBuilder, ends, reply, spdy101, spdyRequest, syn } from '../events.js';

const refused: EventBody = {
  type: 'pf.error', dir: 's2c', offset: 200, requestId: '0', port: 8080,
  message: 'error forwarding port 8080 to pod 4f1c…, uid : failed to execute portforward in network namespace "/var/run/netns/cni-1": failed to connect to localhost:8080 inside namespace "4f1c…", IPv4: dial tcp4 127.0.0.1:8080: connect: connection refused',
};

describe('pf-error', () => {
  it('fires for text on a port-forward error stream and explains "connection refused"', () => {
    const log = new LogBuilder('s', false).add('c1', spdyRequest({ op: 'portforward' }), spdy101('portforward.k8s.io'), syn(1, 'error'), reply(1), syn(3, 'data'), reply(3), refused, ...ends());
    const [f] = pfError.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'pf-error', conn: 'c1', severity: 'error', title: 'Port-forward to port 8080 failed: connection refused', hop: { answeredBy: 'kubelet' } });
    expect(f!.explanation).toContain('lost connection to pod');
    expect(f!.fix).toContain('ss -ltn');
  });

  it('names the IPv4 cause when the kubelet joins IPv4 and IPv6 dial errors in one text', () => {
    const both: EventBody = { ...refused, message: 'error forwarding port 8080 to pod 4f1c…, uid : failed to execute portforward in network namespace "/var/run/netns/cni-1": failed to connect to localhost:8080 inside namespace "4f1c…", IPv4: dial tcp4 127.0.0.1:8080: connect: connection refused IPv6 dial tcp6: address localhost: no suitable address' } as EventBody;
    const log = new LogBuilder('s', false).add('c1', spdyRequest({ op: 'portforward' }), spdy101('portforward.k8s.io'), syn(1, 'error'), reply(1), syn(3, 'data'), reply(3), both, ...ends());
    const [f] = pfError.evaluate(log.view());
    expect(f?.title).toBe('Port-forward to port 8080 failed: connection refused');
    expect(f?.fix).toContain('ss -ltn');
  });

  it('is silent for a port-forward without errors', () => {
    const log = new LogBuilder('s', false).add('c1', spdyRequest({ op: 'portforward' }), spdy101('portforward.k8s.io'), syn(1, 'error'), reply(1), ...ends());
    expect(pfError.evaluate(log.view())).toEqual([]);
  });
});
