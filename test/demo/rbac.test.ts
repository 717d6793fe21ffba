/**
 * The demo cluster's users: per-user tokens, RBAC answers with RBAC's texts, the
 * SelfSubject(Access)Reviews, how the server version authorizes stream upgrades, and roles
 * bound to groups, which the token's groups or the Impersonate-Group lines decide.
 */
import { request } from 'node:https';
import { connect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoApiServer, type DemoCredential } from '../../src/demo/api-server.js';
import { parseGroupSpec, parseServerVersion, parseUserSpec, withUserGroups } from '../../src/demo/demo-cluster.js';
import { demoPods } from '../../src/demo/demo-pods.js';
import { allowed, allowedReason, deniedReason, isAdmin, upgradeVerbs, type DemoRole, type DemoUser } from '../../src/demo/rbac.js';
import { kubeconfigText } from '../../src/kubeconfig/write-kubeconfig.js';
import { createDemoTls, type DemoTls } from '../../src/tls/local-ca.js';

const user = (name: string, role: DemoRole, groups: string[] = []): DemoUser => ({ name, uid: `uid-${name}`, groups: [...groups, 'system:authenticated'], role });
const USERS: DemoCredential[] = [
  { token: 'tok-viewer', user: user('viewer', 'view') },
  { token: 'tok-getter', user: user('getter', 'exec-get-only') },
  { token: 'tok-creator', user: user('creator', 'exec-create-only') },
  // No role of its own: what carol may do is her groups'.
  { token: 'tok-carol', user: user('carol', 'none', ['ops', 'dev']) },
  { token: 'tok-dave', user: user('dave', 'none', ['dev']) },
];
/** ClusterRoleBindings to groups, shared by the servers (a test changes it and puts it back). */
const GROUPS = new Map<string, DemoRole>([['ops', 'admin'], ['dev', 'view']]);

let tls: DemoTls;
const servers: DemoApiServer[] = [];
const urls = new Map<string, { host: string; port: number }>();
const upgraded: string[] = [];

async function start(minor: string): Promise<{ host: string; port: number }> {
  const server = new DemoApiServer({
    tls: { certPem: tls.certPem, keyPem: tls.keyPem },
    token: 'tok-admin',
    users: USERS,
    groups: GROUPS,
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

function rest(minor: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string | string[]> = {}): Promise<{ status: number; json: Record<string, any> }> {
  const { host, port } = urls.get(minor)!;
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ host, port, method, path, ca: tls.caCertPem, headers: { Authorization: `Bearer ${token}`, ...(text ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
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

/** An upgrade request (WebSocket GET or SPDY POST), with `extra` header lines; returns the status line and the body. */
function upgrade(minor: string, token: string, kind: 'ws' | 'spdy', sub = 'exec', extra: string[] = []): Promise<{ status: number; body: string }> {
  const { host, port } = urls.get(minor)!;
  const path = `/api/v1/namespaces/default/pods/web/${sub}${sub === 'portforward' ? '' : '?command=echo&container=app&stdout=true'}`;
  const lines = extra.map((l) => `${l}\r\n`).join('');
  const head = kind === 'ws'
    ? `GET ${path} HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${token}\r\n${lines}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n`
    : `POST ${path} HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${token}\r\n${lines}Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`;
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

describe('demo cluster groups: roles bound to groups, and Impersonate-Group', () => {
  const exec = (verb: string) => ({ verb, resource: 'pods', subresource: 'exec', namespace: 'default' });
  const ssr = (token: string, headers: Record<string, string | string[]> = {}) => rest('34', token, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {}, headers);
  const spdy = (token: string, extra: string[] = []) => upgrade('34', token, 'spdy', 'exec', extra);

  it('reads --user-groups NAME=GROUP,GROUP and --group GROUP=ROLE, and a user of role none', () => {
    expect(parseUserSpec('carol=none')).toEqual({ name: 'carol', role: 'none' });
    expect(withUserGroups([{ name: 'carol', role: 'none' }], ['carol=ops,dev', 'carol=ops,qa'])).toEqual([{ name: 'carol', role: 'none', groups: ['ops', 'dev', 'qa'] }]);
    expect(() => withUserGroups([], ['carol=ops'])).toThrow('--user-groups names carol, which no --user adds');
    expect(() => withUserGroups([{ name: 'carol', role: 'none' }], ['carol=ops,,dev'])).toThrow(/--user-groups takes NAME=GROUP\[,GROUP…\]/);
    expect(parseGroupSpec('ops=admin')).toEqual({ group: 'ops', role: 'admin' });
    expect(parseGroupSpec('oidc:sre=exec-create-only')).toEqual({ group: 'oidc:sre', role: 'exec-create-only' });
    expect(() => parseGroupSpec('ops=root')).toThrow(/unknown role "root" for group ops; known: admin, view, exec-get-only, exec-create-only, none/);
    expect(() => parseGroupSpec('ops')).toThrow(/--group takes GROUP=ROLE/);
    expect(() => parseGroupSpec('system:masters=view')).toThrow(/privileged group/);
  });

  it('allows what the user\'s role or any of its groups\' roles allow, and names the binding that did', () => {
    const carol = user('carol', 'none', ['dev', 'ops']);
    expect(allowed(carol, exec('create'))).toBe(false);
    expect(allowed(carol, exec('create'), GROUPS)).toBe(true);
    expect(isAdmin(carol, GROUPS)).toBe(true);
    expect(allowedReason(carol, exec('create'), GROUPS)).toBe('RBAC: allowed by ClusterRoleBinding "kubewire-demo-group-ops" of ClusterRole "kubewire-demo-admin" to Group "ops"');
    // The first binding that allows it: dev (view) for a read, before ops.
    expect(allowedReason(carol, { verb: 'get', resource: 'pods', namespace: 'default' }, GROUPS)).toBe('RBAC: allowed by ClusterRoleBinding "kubewire-demo-group-dev" of ClusterRole "kubewire-demo-view" to Group "dev"');
    const getter = user('getter', 'exec-get-only', ['ops']);
    expect(allowedReason(getter, exec('get'), GROUPS)).toMatch(/to User "getter"$/);
    expect(allowedReason(getter, exec('create'), GROUPS)).toMatch(/to Group "ops"$/);
    // A group no binding names gives nothing; the privileged group is everything, without RBAC's reason.
    expect(allowed(user('dave', 'none', ['dev', 'qa']), exec('create'), GROUPS)).toBe(false);
    expect(allowed(user('x', 'none', ['system:masters']), exec('create'))).toBe(true);
    expect(allowedReason(user('x', 'none', ['system:masters']), exec('create'))).toBe('');
    // The refusal names the user only, as the API server's does.
    expect(deniedReason(user('dave', 'none', ['dev']), exec('create'))).toBe('User "dave" cannot create resource "pods/exec" in API group "" in the namespace "default"');
  });

  it('authorizes a token\'s user by its groups; the reviews return them', async () => {
    expect((await spdy('tok-carol')).status).toBe(418);
    expect(JSON.parse((await spdy('tok-dave')).body).message).toBe(rbacText('dave', 'create', 'exec'));
    expect((await rest('34', 'tok-dave', 'GET', '/api/v1/namespaces/default/pods/web')).status).toBe(200);
    expect((await ssr('tok-carol')).json.status.userInfo).toEqual({ username: 'carol', uid: 'uid-carol', groups: ['ops', 'dev', 'system:authenticated'] });
    const review = await rest('34', 'tok-admin', 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'tok-carol' } });
    expect(review.json.status.user).toEqual({ username: 'carol', uid: 'uid-carol', groups: ['ops', 'dev', 'system:authenticated'] });
    // An admin by its group may ask TokenReviews too.
    expect((await rest('34', 'tok-carol', 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: 'tok-dave' } })).json.status.user.username).toBe('dave');
    const can = (await rest('34', 'tok-carol', 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace: 'default', verb: 'create', group: '', resource: 'pods', subresource: 'exec' } },
    })).json.status;
    expect(can).toEqual({ allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "kubewire-demo-group-ops" of ClusterRole "kubewire-demo-admin" to Group "ops"' });
  });

  it('follows a binding removed and put back from the next request on', async () => {
    GROUPS.delete('ops');
    try {
      expect(JSON.parse((await spdy('tok-carol')).body).message).toBe(rbacText('carol', 'create', 'exec'));
    } finally {
      GROUPS.set('ops', 'admin');
    }
    expect((await spdy('tok-carol')).status).toBe(418);
  });

  it('makes Impersonate-Group the request\'s groups, with system:authenticated added, and RBAC follows them', async () => {
    // The gateway's own credential (an admin) acting as carol: without her groups she is nobody …
    expect(JSON.parse((await spdy('tok-admin', ['Impersonate-User: carol'])).body).message).toBe(rbacText('carol', 'create', 'exec'));
    // … with ops she is an admin; with dev only a viewer.
    expect((await spdy('tok-admin', ['Impersonate-User: carol', 'Impersonate-Group: ops'])).status).toBe(418);
    expect(JSON.parse((await spdy('tok-admin', ['Impersonate-User: carol', 'Impersonate-Group: dev'])).body).message).toBe(rbacText('carol', 'create', 'exec'));
    // The groups replace the authenticated user's (the admin's system:masters is gone).
    expect((await ssr('tok-admin', { 'Impersonate-User': 'carol', 'Impersonate-Group': ['dev', 'qa'] })).json.status.userInfo).toEqual({ username: 'carol', uid: '', groups: ['dev', 'qa', 'system:authenticated'] });
    expect((await ssr('tok-admin', { 'Impersonate-User': 'carol', 'Impersonate-Group': 'system:unauthenticated' })).json.status.userInfo.groups).toEqual(['system:unauthenticated']);
    expect((await ssr('tok-admin', { 'Impersonate-User': 'carol' })).json.status.userInfo.groups).toEqual(['system:authenticated']);
  });

  it('grants a forwarded Impersonate-Group: system:masters everything, so a gateway passing a client\'s on would be caught', async () => {
    // What a gateway that forwarded `kubectl --as dave --as-group system:masters` would send with its own credential.
    expect((await spdy('tok-admin', ['Impersonate-User: dave', 'Impersonate-Group: system:masters'])).status).toBe(418);
    expect((await spdy('tok-admin', ['Impersonate-User: dave', 'Impersonate-Group: ops'])).status).toBe(418);
    // Without the forwarded group, dave is refused.
    expect(JSON.parse((await spdy('tok-admin', ['Impersonate-User: dave', 'Impersonate-Group: dev'])).body).message).toBe(rbacText('dave', 'create', 'exec'));
  });

  it('needs impersonate on groups to impersonate one (an admin role, or a group bound to admin)', async () => {
    const refused = JSON.parse((await spdy('tok-viewer', ['Impersonate-User: viewer', 'Impersonate-Group: system:masters'])).body);
    expect(refused).toMatchObject({ code: 403, message: 'users "viewer" is forbidden: User "viewer" cannot impersonate resource "users" in API group "" at the cluster scope' });
    const dave = await rest('34', 'tok-dave', 'GET', '/api/v1/namespaces/default/pods', undefined, { 'Impersonate-User': 'dave', 'Impersonate-Group': 'ops' });
    expect(dave.status).toBe(403);
    expect(dave.json.message).toContain('User "dave" cannot impersonate resource "users"');
    // carol is an admin by ops: she may.
    expect((await spdy('tok-carol', ['Impersonate-User: dave', 'Impersonate-Group: ops'])).status).toBe(418);
  });
});
