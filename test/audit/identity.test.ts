/**
 * The audit identity: the demo cluster answers a SelfSubjectReview the way a 1.28+ API server
 * does (and real kubectl's `auth whoami` reads it), and whoAmI falls back to the kubeconfig's
 * facts, with a one-line reason, when a server answers 404, 403, too late or not at all.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditIdentity, describeCertificate, readReviewAnswer, reviewPath, whoAmI } from '../../src/audit/identity.js';
import { DEMO_USER_INFO } from '../../src/demo/api-server.js';
import { kubeconfigText, yamlQuote } from '../../src/kubeconfig/write-kubeconfig.js';
import { loadUpstream } from '../../src/proxy/kubeconfig-upstream.js';
import { certificatePem, extKeyUsage, issueCertificate, type NameAttribute } from '../../src/tls/certificate.js';
import { createDemoTls, type DemoTls } from '../../src/tls/local-ca.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, runKubectl } from '../support/kubectl.js';

const KUBECTL = '1.30';
const kubectls = availableKubectls([KUBECTL]);

const root = mkdtempSync(join(tmpdir(), 'kubewire-identity-'));
let n = 0;
const fresh = (name: string): string => join(root, `${++n}-${name}`);

let t: TestCluster;
let serverTls: DemoTls;
let jane: { certPem: string; keyPem: string };
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [t, serverTls, jane] = await Promise.all([startTestCluster(), createDemoTls(), clientCertificate()]);
});
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await t?.stop();
  rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers: client certificates, kubeconfigs, small servers that misbehave on purpose

/**
 * A client certificate for "jane" in group "devs", issued by a test CA. The subject is stored
 * O first, then CN, as openssl -subj "/O=devs/CN=jane" and Go's crypto/x509 order it.
 */
async function clientCertificate(): Promise<{ certPem: string; keyPem: string }> {
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date('2031-02-03T04:05:06Z');
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // Only the test CA's name and key matter here; nothing checks the chain.
  const caName: NameAttribute[] = [['O', 'kubewire-tests'], ['CN', 'identity-test-ca']];
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = issueCertificate({
    subject: [['O', 'devs'], ['CN', 'jane']], issuer: caName, serialNumber: Buffer.from('2a3b4c', 'hex'), notBefore, notAfter,
    publicKey: keys.publicKey, signingKey: caKeys.privateKey, extensions: [extKeyUsage(['clientAuth'])],
  });
  return { certPem: certificatePem(cert), keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

interface KubeconfigSpec {
  server: string;
  caCertPem?: string;
  token?: string;
  client?: { certPem: string; keyPem: string };
  user?: string;
}

/** A one-context kubeconfig; with a client certificate when asked for one. */
function kubeconfig(spec: KubeconfigSpec): string {
  const user = spec.user ?? 'test-user';
  const b64 = (text: string): string => yamlQuote(Buffer.from(text).toString('base64'));
  let text: string;
  if (spec.client) {
    text = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: c',
      '  cluster:',
      `    server: ${yamlQuote(spec.server)}`,
      ...(spec.caCertPem ? [`    certificate-authority-data: ${b64(spec.caCertPem)}`] : []),
      'users:',
      `- name: ${yamlQuote(user)}`,
      '  user:',
      `    client-certificate-data: ${b64(spec.client.certPem)}`,
      `    client-key-data: ${b64(spec.client.keyPem)}`,
      ...(spec.token ? [`    token: ${yamlQuote(spec.token)}`] : []),
      'contexts:',
      '- name: c',
      '  context:',
      '    cluster: c',
      `    user: ${yamlQuote(user)}`,
      'current-context: c',
      '',
    ].join('\n');
  } else {
    text = kubeconfigText({ server: spec.server, caCertPem: spec.caCertPem ?? '', token: spec.token ?? 'not-a-real-token', name: user });
  }
  const file = fresh('kubeconfig');
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

const upstreamFor = (spec: KubeconfigSpec) => loadUpstream({ kubeconfig: kubeconfig(spec), env: {} });

interface Seen {
  method: string;
  path: string;
  body: string;
  authorization: string | undefined;
}

/** An API server stand-in on loopback (HTTPS with the test TLS, or plain HTTP) that answers with `reply`. */
async function fakeServer(secure: boolean, reply: (req: Seen, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method ?? '', path: req.url ?? '', body: Buffer.concat(chunks).toString(), authorization: req.headers.authorization };
      seen.push(s);
      reply(s, res);
    });
  };
  const server: HttpServer = secure ? createHttpsServer({ cert: serverTls.certPem, key: serverTls.keyPem }, onRequest) : createHttpServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `${secure ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details: {}, code });
  res.writeHead(code, { 'Content-Type': 'application/json' }).end(body);
}

/** Accepts connections and never says a word. */
async function silentServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `https://127.0.0.1:${port}`;
}

/** POSTs to the demo cluster with its token. */
async function demoPost(path: string, body: string, method = 'POST'): Promise<{ status: number; json: Record<string, unknown> }> {
  const upstream = await loadUpstream({ kubeconfig: t.kubeconfig, env: {} });
  const { headers } = await upstream.connectionOptions();
  const res = await fetchVia(upstream.server, path, method, headers, body);
  return { status: res.status, json: JSON.parse(res.body) as Record<string, unknown> };
}

function fetchVia(server: URL, path: string, method: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, server), { method, headers: { ...headers, 'Content-Type': 'application/json' }, ca: t.cluster.caCertPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(method === 'GET' ? undefined : body);
  });
}

// ---------------------------------------------------------------------------------------------
// The demo cluster's SelfSubjectReview

describe('the demo cluster answers SelfSubjectReview', () => {
  it('echoes the review with the demo user, 201 Created, as an API server does', async () => {
    const r = await demoPost('/apis/authentication.k8s.io/v1/selfsubjectreviews', '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}');
    expect(r.status).toBe(201);
    expect(r.json).toEqual({
      kind: 'SelfSubjectReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      status: { userInfo: { username: 'kubewire-demo-admin', uid: DEMO_USER_INFO.uid, groups: ['system:masters', 'system:authenticated'] } },
    });
    expect(DEMO_USER_INFO.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('refuses other methods, another apiVersion, another kind and a body that is not JSON', async () => {
    const path = '/apis/authentication.k8s.io/v1/selfsubjectreviews';
    expect((await demoPost(path, '', 'GET')).json).toMatchObject({ code: 405, reason: 'MethodNotAllowed' });
    expect((await demoPost(path, '{"apiVersion":"authentication.k8s.io/v1beta1","kind":"SelfSubjectReview"}')).json).toMatchObject({
      code: 400, message: 'the API version in the data (authentication.k8s.io/v1beta1) does not match the expected API version (authentication.k8s.io/v1)',
    });
    expect((await demoPost(path, '{"kind":"Pod"}')).json).toMatchObject({ code: 400, message: expect.stringContaining('must be of type SelfSubjectReview') });
    expect((await demoPost(path, '{')).json).toMatchObject({ code: 400, message: expect.stringContaining('json parse error') });
    // Defaults come from the path, as the create handler's decoder does.
    expect((await demoPost(path, '{}')).json).toMatchObject({ kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1' });
    expect((await demoPost('/apis/authentication.k8s.io/v1beta1/selfsubjectreviews', '{}')).json).toMatchObject({ code: 404 });
    expect((await demoPost(path, 'x'.repeat(70 * 1024))).json).toMatchObject({ code: 413, reason: 'RequestEntityTooLarge' });
  });
});

// ---------------------------------------------------------------------------------------------
// whoAmI

describe('whoAmI', () => {
  it('takes the identity from the demo cluster’s SelfSubjectReview', async () => {
    const upstream = await loadUpstream({ kubeconfig: t.kubeconfig, env: {} });
    expect(await whoAmI(upstream)).toEqual({
      source: 'SelfSubjectReview',
      username: 'kubewire-demo-admin',
      uid: DEMO_USER_INFO.uid,
      groups: ['system:masters', 'system:authenticated'],
      extra: {},
      kubeconfigUser: 'kubewire-demo',
      clientCertificate: null,
      reviewError: null,
    });
  });

  it('describes the client certificate presented, with the cluster’s answer', async () => {
    const upstream = await upstreamFor({ server: t.cluster.url, caCertPem: t.cluster.caCertPem, token: t.cluster.token, client: jane, user: 'jane@dev' });
    const id = await whoAmI(upstream);
    expect(id.source).toBe('SelfSubjectReview');
    expect(id.username).toBe('kubewire-demo-admin');
    expect(id.kubeconfigUser).toBe('jane@dev');
    expect(id.clientCertificate).toEqual({
      subject: 'CN=jane,O=devs',
      issuer: 'CN=identity-test-ca,O=kubewire-tests',
      serialNumber: '2A3B4C',
      notAfter: '2031-02-03T04:05:06.000Z',
    });
  });

  it('tries v1 then v1beta1 on 404, and falls back to the kubeconfig with the reason', async () => {
    const token = 'secret-token-that-must-not-leak';
    const fake = await fakeServer(true, (_req, res) => sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource'));
    const upstream = await upstreamFor({ server: fake.url, caCertPem: serverTls.caCertPem, token, client: jane, user: 'jane@old-cluster' });
    const id = await whoAmI(upstream);
    expect(fake.seen.map((s) => `${s.method} ${s.path}`)).toEqual([`POST ${reviewPath('v1')}`, `POST ${reviewPath('v1beta1')}`]);
    expect(fake.seen.map((s) => JSON.parse(s.body) as unknown)).toEqual([
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      { apiVersion: 'authentication.k8s.io/v1beta1', kind: 'SelfSubjectReview' },
    ]);
    // The credentials go with the review, as with any request kubewire forwards.
    expect(fake.seen[0]!.authorization).toBe(`Bearer ${token}`);
    expect(id).toMatchObject({ source: 'kubeconfig', username: null, uid: null, groups: [], extra: {}, kubeconfigUser: 'jane@old-cluster' });
    expect(id.clientCertificate?.subject).toBe('CN=jane,O=devs');
    expect(id.reviewError).toMatch(/^the cluster answered 404 Not Found: the server could not find the requested resource \(at authentication.k8s.io v1 and v1beta1: .*1\.27 or later\)$/);
    expect(id.reviewError).not.toContain(token);
  });

  it('reads a 1.27 cluster’s v1beta1 answer', async () => {
    const fake = await fakeServer(false, (req, res) => {
      if (!req.path.includes('/v1beta1/')) return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
      res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({
        kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1beta1', metadata: { creationTimestamp: null },
        status: { userInfo: { username: 'system:serviceaccount:ci:deployer', uid: 'u-1', groups: ['system:serviceaccounts', 'system:authenticated'], extra: { 'authentication.kubernetes.io/pod-name': ['runner-0'] } } },
      }));
    });
    const id = await whoAmI(await upstreamFor({ server: fake.url }));
    expect(id).toMatchObject({
      source: 'SelfSubjectReview', username: 'system:serviceaccount:ci:deployer', uid: 'u-1',
      groups: ['system:serviceaccounts', 'system:authenticated'], extra: { 'authentication.kubernetes.io/pod-name': ['runner-0'] },
      kubeconfigUser: 'test-user', clientCertificate: null, reviewError: null,
    });
  });

  it('does not retry after a 403 and quotes the API server’s message', async () => {
    const why = 'selfsubjectreviews.authentication.k8s.io is forbidden: User "jane" cannot create resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope';
    const fake = await fakeServer(false, (_req, res) => sendStatus(res, 403, 'Forbidden', why));
    const id = await whoAmI(await upstreamFor({ server: fake.url }));
    expect(fake.seen).toHaveLength(1);
    expect(id).toMatchObject({ source: 'kubeconfig', kubeconfigUser: 'test-user', reviewError: `the cluster answered 403 Forbidden: ${why}` });
  });

  it('falls back after the timeout when the server never answers', async () => {
    const url = await silentServer();
    const started = Date.now();
    const id = await whoAmI(await upstreamFor({ server: url }), { timeoutMs: 300 });
    const took = Date.now() - started;
    expect(id).toMatchObject({ source: 'kubeconfig', kubeconfigUser: 'test-user', username: null, reviewError: 'no answer within 0.3 s' });
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3000);
  });

  it('says so when nothing listens', async () => {
    const id = await whoAmI(await upstreamFor({ server: await closedPort(), caCertPem: serverTls.caCertPem }), { timeoutMs: 3000 });
    expect(id.source).toBe('kubeconfig');
    expect(id.reviewError).toMatch(/connection refused/);
  });

  it('gives up on an answer over 1 MiB and on an answer without userInfo', async () => {
    const huge = await fakeServer(false, (_req, res) => {
      res.writeHead(201, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const more = (): void => {
        // Bounded: at most 2 MiB, stopped early when the client hangs up.
        while (sent < 32 && !res.destroyed) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('error', () => {});
      more();
    });
    const big = await whoAmI(await upstreamFor({ server: huge.url }));
    expect(big).toMatchObject({ source: 'kubeconfig', reviewError: expect.stringContaining('over 1 MiB') });
    const empty = await fakeServer(false, (_req, res) => res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"kind":"SelfSubjectReview","status":{}}'));
    const none = await whoAmI(await upstreamFor({ server: empty.url }));
    expect(none).toMatchObject({ source: 'kubeconfig', reviewError: expect.stringContaining('without status.userInfo') });
  });
});

describe('the pure parts', () => {
  it('reads answers into outcomes', () => {
    expect(readReviewAnswer(201, '{"status":{"userInfo":{"username":"a"}}}')).toEqual({ ok: true, username: 'a', uid: null, groups: [], extra: {} });
    expect(readReviewAnswer(404, '')).toEqual({ ok: false, notServed: true, error: 'the cluster answered 404 Not Found' });
    expect(readReviewAnswer(500, 'boom\nline two')).toEqual({ ok: false, notServed: false, error: 'the cluster answered 500 Internal Server Error: "boom line two"' });
    expect(readReviewAnswer(200, '<html>')).toMatchObject({ ok: false, error: expect.stringContaining('not JSON') });
  });

  it('keeps the kubeconfig facts in both sources', () => {
    const cert = { subject: 'CN=x', issuer: 'CN=ca', serialNumber: '01', notAfter: '2030-01-01T00:00:00.000Z' };
    expect(auditIdentity({ ok: false, notServed: false, error: 'e' }, 'u', cert)).toEqual({
      source: 'kubeconfig', username: null, uid: null, groups: [], extra: {}, kubeconfigUser: 'u', clientCertificate: cert, reviewError: 'e',
    });
    expect(auditIdentity({ ok: true, username: 'a', uid: null, groups: ['g'], extra: {} }, null, cert)).toMatchObject({ source: 'SelfSubjectReview', clientCertificate: cert, reviewError: null });
  });

  it('describes the first certificate of a chain, and nothing for what is not one', () => {
    expect(describeCertificate(jane.certPem + serverTls.caCertPem)?.subject).toBe('CN=jane,O=devs');
    expect(describeCertificate('not a certificate')).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Real kubectl

describe.skipIf(kubectls.length === 0)(`kubectl ${KUBECTL} auth whoami`, () => {
  it('prints the demo user', async () => {
    const r = await runKubectl(KUBECTL, ['auth', 'whoami'], { kubeconfig: t.kubeconfig, home: t.home, timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Username\s+kubewire-demo-admin$/m);
    expect(r.stdout).toMatch(new RegExp(`^UID\\s+${DEMO_USER_INFO.uid}$`, 'm'));
    expect(r.stdout).toMatch(/^Groups\s+\[system:masters system:authenticated\]$/m);
    const json = await runKubectl(KUBECTL, ['auth', 'whoami', '-o', 'json'], { kubeconfig: t.kubeconfig, home: t.home, timeoutMs: 20_000 });
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1', status: { userInfo: { username: 'kubewire-demo-admin' } } });
  });
});
