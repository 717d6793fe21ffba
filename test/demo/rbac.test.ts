/**
 * The demo cluster's users: per-user tokens, RBAC answers with RBAC's texts, the
 * SelfSubject(Access)Reviews, and how the server version authorizes stream upgrades.
 */
import { request } from 'node:https';
import { connect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoApiServer, type DemoCredential } from '../../src/demo/api-server.js';
import { parseServerVersion, parseUserSpec } from '../../src/demo/demo-cluster.js';
import { demoPods } from '../../src/demo/demo-pods.js';
import { allowed, deniedReason, upgradeVerbs, type DemoRole, type DemoUser } from '../../src/demo/rbac.js';
import { kubeconfigText } from '../../src/kubeconfig/write-kubeconfig.js';
import { createDemoTls, type DemoTls } from '../../src/tls/local-ca.js';

const user = (name: string, role: DemoRole): DemoUser => ({ name, uid: `uid-${name}`, groups: ['system:authenticated'], role });
const USERS: DemoCredential[] = [
  { token: 'tok-viewer', user: user('viewer', 'view') },
  { token: 'tok-getter', user: user('getter', 'exec-get-only') },
  { token: 'tok-creator', user: user('creator', 'exec-create-only') },
];

let tls: DemoTls;
const servers: DemoApiServer[] = [];
const urls = new Map<string, { host: string; port: number }>();
const upgraded: string[] = [];

async function start(minor: string): Promise<{ host: string; port: number }> {
  const server = new DemoApiServer({
    tls: { certPem: tls.certPem, keyPem: tls.keyPem },
    token: 'tok-admin',
    users: USERS,
    version: { major: '1', minor, gitVersion: `v1.${minor}.0` },
    pods: demoPods(),
    logs: () => Readable.from(['x\n']),
    onUpgrade: (req, socket: Duplex, _head, route) => {
      upgraded.push(`${req.method} ${route.kind}`);
      socket.end('HTTP/1.1 418 Teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    },
  });
  servers.push(server);
  const a = await server.listen('127.0.0.1', 0);
  return { host: a.host, port: a.port };
}

beforeAll(async () => {
  tls = await createDemoTls();
  for (const minor of ['34', '35']) urls.set(minor, await start(minor));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

function rest(minor: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const { host, port } = urls.get(minor)!;
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ host, port, method, path, ca: tls.caCertPem, headers: { Authorization: `Bearer ${token}`, ...(text ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: /json/.test(String(res.headers['content-type'])) ? JSON.parse(text) as Record<string, any> : { text } });
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end(text);
  });
}

/** An upgrade request (WebSocket GET or SPDY POST); returns the status line and the body. */
function upgrade(minor: string, token: string, kind: 'ws' | 'spdy', sub = 'exec'): Promise<{ status: number; body: string }> {
  const { host, port } = urls.get(minor)!;
  const path = `/api/v1/namespaces/default/pods/web/${sub}${sub === 'portforward' ? '' : '?command=echo&container=app&stdout=true'}`;
  const head = kind === 'ws'
    ? `GET ${path} HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n`
    : `POST ${path} HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${token}\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, ca: tls.caCertPem, ALPNProtocols: ['http/1.1'], servername: 'localhost' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(new Error('timeout')), 5000);
    s.on('secureConnect', () => s.write(head));
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (end >= 0 && (length === undefined || Buffer.byteLength(text) >= end + 4 + Number(length))) {
        clearTimeout(timer);
        s.destroy();
        resolve({ status: Number(text.split(' ')[1]), body: text.slice(end + 4) });
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const rbacText = (name: string, verb: string, sub: string): string => `pods "web" is forbidden: User "${name}" cannot ${verb} resource "pods/${sub}" in API group "" in the namespace "default"`;

describe('demo cluster users and RBAC', () => {
  it('reads NAME=ROLE and the server versions 1.30 … 1.36', () => {
    expect(parseUserSpec('jane=exec-create-only')).toEqual({ name: 'jane', role: 'exec-create-only' });
    expect(() => parseUserSpec('jane=root')).toThrow(/unknown role "root".*admin, view, exec-get-only, exec-create-only/);
    expect(() => parseUserSpec('Jane')).toThrow(/NAME=ROLE/);
    expect(parseServerVersion('1.35')).toEqual({ major: '1', minor: '35', gitVersion: 'v1.35.0' });
    expect(parseServerVersion('v1.36.2').gitVersion).toBe('v1.36.2');
    expect(() => parseServerVersion('1.29')).toThrow(/1\.30 … 1\.36/);
  });

  it('checks WebSocket upgrades for get, and from 1.35 for create as well; SPDY for create', () => {
    expect(upgradeVerbs('GET', 34)).toEqual(['get']);
    expect(upgradeVerbs('GET', 35)).toEqual(['get', 'create']);
    expect(upgradeVerbs('POST', 36)).toEqual(['create']);
    const getter = user('g', 'exec-get-only');
    expect(allowed(getter, { verb: 'get', resource: 'pods', subresource: 'exec', namespace: 'default' })).toBe(true);
    expect(allowed(getter, { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'default' })).toBe(false);
    expect(allowed(user('v', 'view'), { verb: 'list', resource: 'pods', namespace: null })).toBe(true);
    expect(deniedReason(user('v', 'view'), { verb: 'list', resource: 'namespaces', namespace: null })).toBe('User "v" cannot list resource "namespaces" in API group "" at the cluster scope');
  });

  it('writes a user and a context entry per user, the default context unchanged', () => {
    const text = kubeconfigText({ server: 'https://127.0.0.1:1', caCertPem: 'x', token: 't0', namespace: 'default', users: [{ name: 'jane', token: 't1' }] });
    expect(text).toContain('- name: "jane"\n  user:\n    token: "t1"');
    expect(text).toContain('- name: "jane"\n  context:\n    cluster: "kubewire-demo"\n    user: "jane"\n    namespace: "default"');
    expect(text).toContain('current-context: "kubewire-demo"');
  });

  it('answers SelfSubjectReview for the token\'s user', async () => {
    const r = await rest('34', 'tok-creator', 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    expect(r.status).toBe(201);
    expect(r.json.status.userInfo).toMatchObject({ username: 'creator', groups: ['system:authenticated'] });
    expect((await rest('34', 'tok-admin', 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {})).json.status.userInfo.username).toBe('kubewire-demo-admin');
    expect((await rest('34', 'nope', 'GET', '/api/v1/namespaces/default/pods/web')).status).toBe(401);
  });

  it('answers SelfSubjectAccessReview by the role, as kubectl auth can-i asks', async () => {
    const ask = async (token: string, verb: string, subresource: string) => (await rest('35', token, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace: 'default', verb, group: '', resource: 'pods', subresource } },
    })).json.status;
    expect(await ask('tok-getter', 'get', 'exec')).toEqual({ allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "kubewire-demo-getter" of ClusterRole "kubewire-demo-exec-get-only" to User "getter"' });
    expect(await ask('tok-getter', 'create', 'exec')).toEqual({ allowed: false });
    expect(await ask('tok-creator', 'create', 'portforward')).toMatchObject({ allowed: true });
    expect(await ask('tok-viewer', 'get', 'attach')).toEqual({ allowed: false });
    expect(await ask('tok-admin', 'create', 'exec')).toEqual({ allowed: true });
  });

  it('lets every role read pods, their logs and namespaces (kubectl exec GETs the pod first)', async () => {
    for (const token of ['tok-viewer', 'tok-getter', 'tok-creator']) {
      expect((await rest('34', token, 'GET', '/api/v1/namespaces/default/pods/web')).status).toBe(200);
      expect((await rest('34', token, 'GET', '/api/v1/namespaces/default/pods/web/log')).json.text).toBe('x\n');
      expect((await rest('34', token, 'GET', '/api/v1/namespaces')).status).toBe(200);
    }
  });

  it('authorizes upgrades by method and version, with RBAC\'s refusal', async () => {
    upgraded.length = 0;
    // view: neither transport.
    expect(await upgrade('34', 'tok-viewer', 'ws')).toMatchObject({ status: 403 });
    expect(JSON.parse((await upgrade('34', 'tok-viewer', 'spdy')).body).message).toBe(rbacText('viewer', 'create', 'exec'));
    // exec-create-only: WebSocket refused for get, SPDY through.
    const ws = JSON.parse((await upgrade('34', 'tok-creator', 'ws')).body);
    expect(ws).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403, message: rbacText('creator', 'get', 'exec') });
    expect((await upgrade('34', 'tok-creator', 'spdy')).status).toBe(418);
    // exec-get-only: WebSocket through on 1.34, refused for create on 1.35; SPDY refused.
    expect((await upgrade('34', 'tok-getter', 'ws')).status).toBe(418);
    expect(JSON.parse((await upgrade('35', 'tok-getter', 'ws')).body).message).toBe(rbacText('getter', 'create', 'exec'));
    expect(JSON.parse((await upgrade('35', 'tok-getter', 'spdy', 'portforward')).body).message).toBe(rbacText('getter', 'create', 'portforward'));
    // admin: everything.
    expect((await upgrade('35', 'tok-admin', 'ws')).status).toBe(418);
    expect(upgraded).toEqual(['POST exec', 'GET exec', 'GET exec']);
  });
});
