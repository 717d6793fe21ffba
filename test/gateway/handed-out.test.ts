/**
 * What the gateway hands out and passes on: `--write-kubeconfig` keeps only the users its kept
 * contexts name, and a WebSocket bearer subprotocol is taken out of the request (and reviewed
 * when there is no Authorization header).
 */
import type { IncomingMessage } from 'node:http';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { GatewayAdmission } from '../../src/gateway/gateway-admission.js';
import { gatewayKubeconfigText } from '../../src/gateway/gateway-kubeconfig.js';
import { takeBearerProtocol } from '../../src/gateway/websocket-bearer.js';
import type { Upstream } from '../../src/proxy/upstream.js';

const KUBECONFIG = `
apiVersion: v1
kind: Config
clusters:
- {name: prod, cluster: {server: https://prod:6443}}
- {name: other, cluster: {server: https://other:6443}}
users:
- {name: admin, user: {token: admin-token}}
- {name: alice, user: {token: alice-token}}
- {name: other-admin, user: {token: other-token}}
- {name: unused, user: {token: unused-token}}
contexts:
- {name: prod, context: {cluster: prod, user: admin}}
- {name: alice, context: {cluster: prod, user: alice}}
- {name: other, context: {cluster: other, user: other-admin}}
current-context: prod
`;

const upstream = { kubeconfigPaths: ['/k/config'], clusterName: 'prod', userName: 'admin', contextName: 'prod' } as unknown as Upstream;

describe('--write-kubeconfig', () => {
  it('hands out only the users of the gateway cluster\'s contexts', () => {
    const text = gatewayKubeconfigText({ upstream, server: 'https://gw:8443', caCertPem: 'CA', withoutOwnUser: false }, () => KUBECONFIG);
    const doc = load(text) as { users: { name: string }[]; contexts: { name: string }[] };
    expect(doc.users.map((u) => u.name).sort()).toEqual(['admin', 'alice']);
    expect(doc.contexts.map((c) => c.name).sort()).toEqual(['alice', 'prod']);
    expect(text).not.toContain('other-token');
    expect(text).not.toContain('unused-token');
  });

  it('leaves the gateway\'s own user out in impersonation', () => {
    const text = gatewayKubeconfigText({ upstream, server: 'https://gw:8443', caCertPem: 'CA', withoutOwnUser: true }, () => KUBECONFIG);
    expect((load(text) as { users: { name: string }[] }).users.map((u) => u.name)).toEqual(['alice']);
    expect(text).not.toContain('admin-token');
  });
});

function req(rawHeaders: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!;
  return { rawHeaders, headers } as unknown as IncomingMessage;
}

describe('a WebSocket bearer subprotocol', () => {
  const offer = `base64url.bearer.authorization.k8s.io.${Buffer.from('tok-en').toString('base64url')}`;

  it('is taken out of the request, the other offers kept in order, and its token returned', () => {
    const r = req(['Host', 'gw', 'Sec-WebSocket-Protocol', `v5.channel.k8s.io, ${offer}, v4.channel.k8s.io`]);
    expect(takeBearerProtocol(r)).toBe('tok-en');
    expect(r.rawHeaders).toEqual(['Host', 'gw', 'Sec-WebSocket-Protocol', 'v5.channel.k8s.io, v4.channel.k8s.io']);
    expect(r.headers['sec-websocket-protocol']).toBe('v5.channel.k8s.io, v4.channel.k8s.io');
  });

  it('drops the header when it was the only offer, and leaves requests without one alone', () => {
    const r = req(['Sec-WebSocket-Protocol', offer, 'Host', 'gw']);
    expect(takeBearerProtocol(r)).toBe('tok-en');
    expect(r.rawHeaders).toEqual(['Host', 'gw']);
    expect(r.headers['sec-websocket-protocol']).toBeUndefined();
    const plain = req(['Host', 'gw', 'Sec-WebSocket-Protocol', 'v5.channel.k8s.io']);
    expect(takeBearerProtocol(plain)).toBeNull();
    expect(plain.rawHeaders).toEqual(['Host', 'gw', 'Sec-WebSocket-Protocol', 'v5.channel.k8s.io']);
  });

  it('gives no token that could not be a header value', () => {
    const bad = `base64url.bearer.authorization.k8s.io.${Buffer.from('a\r\nb').toString('base64url')}`;
    const r = req(['Sec-WebSocket-Protocol', bad]);
    expect(takeBearerProtocol(r)).toBeNull();
    expect(r.rawHeaders).toEqual([]);
  });

  it('is reviewed as the credential when there is no Authorization header, and goes upstream as one', async () => {
    const admission = new GatewayAdmission({ mode: 'passthrough', upstream: {} as Upstream });
    const asked: string[] = [];
    (admission as unknown as { lookup: (a: string) => Promise<unknown> }).lookup = async (a: string) => (asked.push(a), { ok: true, user: { username: 'alice', uid: null, groups: [], extra: {}, source: 'SelfSubjectReview' } });
    const r = req(['Sec-WebSocket-Protocol', `v5.channel.k8s.io, ${offer}`]);
    const a = await admission.admit(r);
    expect(asked).toEqual(['Bearer tok-en']);
    expect(a.ok && a.credentials?.({})).toEqual({ Authorization: 'Bearer tok-en' });
    expect(r.rawHeaders).toEqual(['Sec-WebSocket-Protocol', 'v5.channel.k8s.io']);
    const withHeader = req(['Authorization', 'Bearer header-token', 'Sec-WebSocket-Protocol', offer]);
    await admission.admit(withHeader);
    expect(asked[1]).toBe('Bearer header-token');
    expect(withHeader.rawHeaders).toEqual(['Authorization', 'Bearer header-token']);
  });
});
