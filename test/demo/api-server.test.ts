import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoApiServer, parseRoute, type UpgradeRoute } from '../../src/demo/api-server.js';
import type { DemoPod } from '../../src/demo/contracts.js';
import { demoPods, humanDuration, podJson, podListJson, podTableJson } from '../../src/demo/demo-pods.js';
import { badRequest, forbidden, internalError, methodNotAllowed, notFound, pathNotFound, unauthorized } from '../../src/demo/k8s-errors.js';
import { kubeconfigText, writeKubeconfig, yamlQuote } from '../../src/kubeconfig/write-kubeconfig.js';
import { createDemoTls, type DemoTls } from '../../src/tls/local-ca.js';

const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';
const KUBECTL_VERSIONS = ['1.33', '1.27'];
const TOKEN = 'kubewire-test-token-0123456789';
const WATCH_INTERVAL_MS = 300;

let tls: DemoTls;
let server: DemoApiServer;
let url = '';
let port = 0;
let tmp = '';
const pods: DemoPod[] = demoPods();
const upgrades: { method: string; route: UpgradeRoute }[] = [];

function fakeLogs(pod: DemoPod, container: string, opts: { follow: boolean; tailLines?: number; timestamps: boolean }): Readable {
  const lines = [1, 2, 3].map((i) => `${pod.name}/${container} line ${i}\n`);
  const shown = opts.tailLines !== undefined ? lines.slice(-opts.tailLines || lines.length) : lines;
  if (!opts.follow) return Readable.from(shown);
  let n = 0;
  let timer: NodeJS.Timeout | null = null;
  return new Readable({
    read() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        this.push(`${pod.name}/${container} follow ${++n}\n`);
      }, n === 0 ? 0 : 50);
    },
    destroy(err, cb) {
      if (timer) clearTimeout(timer);
      cb(err);
    },
  });
}

beforeAll(async () => {
  tls = await createDemoTls();
  tmp = await mkdtemp(join(tmpdir(), 'kubewire-api-'));
  server = new DemoApiServer({
    tls: { certPem: tls.certPem, keyPem: tls.keyPem },
    token: TOKEN,
    pods,
    logs: fakeLogs,
    watchIntervalMs: WATCH_INTERVAL_MS,
    onUpgrade: (req, socket: Duplex, _head, route) => {
      upgrades.push({ method: req.method ?? '', route });
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    },
  });
  const addr = await server.listen('127.0.0.1', 0);
  url = addr.url;
  port = addr.port;
});

afterAll(async () => {
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface HttpResult {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function get(path: string, opts: { token?: string | null; method?: string; accept?: string; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== null) headers.Authorization = `Bearer ${opts.token ?? TOKEN}`;
  if (opts.accept) headers.Accept = opts.accept;
  const ro: RequestOptions = { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', ca: tls.caCertPem, headers, agent: false };
  return new Promise((resolve, reject) => {
    const req = request(ro, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads a streaming response until `done` says so, then drops the connection. */
function stream(path: string, accept: string | undefined, done: (text: string) => boolean): Promise<string> {
  const headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` };
  if (accept) headers.Accept = accept;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca: tls.caCertPem, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString('utf8');
        if (done(text)) {
          req.destroy();
          resolve(text);
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
    req.setTimeout(10_000, () => req.destroy(new Error(`timed out; no end condition on ${path}`)));
    req.end();
  });
}

/** Sends a raw upgrade request over TLS and returns everything the server wrote before closing. */
function rawUpgrade(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: tls.caCertPem }, () => socket.write(head));
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
    socket.on('end', () => {
      socket.end();
      resolve(text);
    });
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw upgrade timed out')));
  });
}

const wsHead = (path: string, token: string | null = TOKEN): string =>
  [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    ...(token === null ? [] : [`Authorization: Bearer ${token}`]),
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Protocol: v5.channel.k8s.io',
    '',
    '',
  ].join('\r\n');

const statusOf = (raw: string): unknown => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

describe('createDemoTls', () => {
  it('issues a CA and a loopback server certificate that Node verifies', async () => {
    const ca = new X509Certificate(tls.caCertPem);
    const leaf = new X509Certificate(tls.certPem);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkIP('::1')).toBeDefined();
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.keyUsage).toContain('1.3.6.1.5.5.7.3.1');
    expect(Date.parse(leaf.validFrom)).toBeLessThan(Date.now() - 30 * 60_000);
    expect(Date.parse(leaf.validTo)).toBeGreaterThan(Date.now() + 300 * 24 * 3_600_000);
    expect(tls.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('lets a TLS client that trusts the CA connect to 127.0.0.1, HTTP/1.1 by ALPN', async () => {
    const result = await new Promise<{ authorized: boolean; alpn: string | false }>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ca: tls.caCertPem, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
        resolve({ authorized: s.authorized, alpn: s.alpnProtocol ?? false });
        s.end();
      });
      s.on('error', reject);
    });
    expect(result).toEqual({ authorized: true, alpn: 'http/1.1' });
  });

  it('is rejected by a client that does not trust the CA', async () => {
    const other = await createDemoTls();
    const err = await new Promise<Error>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, ca: other.caCertPem }, () => resolve(new Error('connected')));
      s.on('error', resolve);
    });
    expect(err.message).toMatch(/self-signed|unable to verify|certificate/i);
  });
});

describe('kubeconfig', () => {
  it('writes mode 0600, creating the directory, and replaces an existing file', async () => {
    const file = join(tmp, 'nested', 'dir', 'config');
    await writeKubeconfig(file, { server: url, caCertPem: tls.caCertPem, token: TOKEN, namespace: 'default' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await chmod(file, 0o644);
    await writeKubeconfig(file, { server: url, caCertPem: tls.caCertPem, token: 'second', name: 'other' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('token: "second"');
    expect(text).toContain('current-context: "other"');
    expect(text).not.toContain('namespace:');
  });

  it('holds the server, the base64 CA, the token and one current context', () => {
    const text = kubeconfigText({ server: url, caCertPem: tls.caCertPem, token: TOKEN, namespace: 'default' });
    expect(text).toContain(`server: "${url}"`);
    expect(text).toContain(`certificate-authority-data: "${Buffer.from(tls.caCertPem).toString('base64')}"`);
    expect(text).toContain(`token: "${TOKEN}"`);
    expect(text).toContain('current-context: "kubewire-demo"');
    expect(text).toContain('namespace: "default"');
    expect(text.match(/^- name: /gm)).toHaveLength(3);
  });

  it('quotes values so that nothing can change the structure', () => {
    expect(yamlQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(yamlQuote('x\ny: z')).toBe('"x\\x0ay: z"');
    expect(yamlQuote('\u2028é')).toBe('"\\u2028é"');
  });
});

describe('Status bodies', () => {
  it('match the API server byte for byte', () => {
    expect(JSON.stringify(notFound('pods', 'x'))).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}',
    );
    expect(JSON.stringify(unauthorized())).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}');
    expect(JSON.stringify(pathNotFound())).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}',
    );
    expect(badRequest('Upgrade request required')).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Upgrade request required', reason: 'BadRequest', code: 400 });
    expect(methodNotAllowed()).toMatchObject({ reason: 'MethodNotAllowed', code: 405 });
    expect(forbidden('pods', 'web', 'User "x" cannot get resource "pods/exec" in API group "" in the namespace "default"')).toMatchObject({
      message: 'pods "web" is forbidden: User "x" cannot get resource "pods/exec" in API group "" in the namespace "default"',
      reason: 'Forbidden',
      details: { name: 'web', kind: 'pods' },
      code: 403,
    });
    expect(internalError('boom')).toMatchObject({ message: 'Internal error occurred: boom', reason: 'InternalError', code: 500, details: { causes: [{ message: 'boom' }] } });
  });
});

describe('demo pods', () => {
  it('are the four demo pods in default with phase-matching statuses', () => {
    expect(pods.map((p) => [p.name, p.phase, p.containers.map((c) => c.name)])).toEqual([
      ['web', 'Running', ['app', 'sidecar']],
      ['worker', 'Running', ['worker']],
      ['done', 'Succeeded', ['job']],
      ['pending', 'Pending', ['app']],
    ]);
    const states = pods.map((p) => (podJson(p) as { status: { containerStatuses: { state: Record<string, unknown> }[] } }).status.containerStatuses[0]!.state);
    expect(Object.keys(states[0]!)).toEqual(['running']);
    expect(states[2]).toMatchObject({ terminated: { exitCode: 0, reason: 'Completed' } });
    expect(states[3]).toEqual({ waiting: { reason: 'ContainerCreating' } });
    const list = podListJson(pods, '7') as { items: Record<string, unknown>[] };
    expect(list.items[0]!.kind).toBeUndefined();
    const table = podTableJson(pods) as { columnDefinitions: { name: string; priority: number }[]; rows: { cells: unknown[]; object: { kind: string } }[] };
    expect(table.columnDefinitions.map((c) => `${c.name}:${c.priority}`)).toEqual([
      'Name:0', 'Ready:0', 'Status:0', 'Restarts:0', 'Age:0', 'IP:1', 'Node:1', 'Nominated Node:1', 'Readiness Gates:1',
    ]);
    expect(table.rows.map((r) => r.cells.slice(0, 3))).toEqual([
      ['web', '2/2', 'Running'],
      ['worker', '1/1', 'Running'],
      ['done', '0/1', 'Completed'],
      ['pending', '0/1', 'ContainerCreating'],
    ]);
    expect(table.rows[0]!.object.kind).toBe('PartialObjectMetadata');
  });

  it('print ages like apimachinery HumanDuration', () => {
    expect([5_000, 119_000, 125_000, 42 * 60_000, 137 * 60_000, 5 * 3_600_000 + 60_000, 30 * 3_600_000, 50 * 3_600_000].map(humanDuration)).toEqual([
      '5s', '119s', '2m5s', '42m', '137m', '5h1m', '30h', '2d2h',
    ]);
  });
});

describe('DemoApiServer over HTTPS', () => {
  const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

  it('routes paths', () => {
    expect(parseRoute('/api/v1/namespaces/default/pods/web/exec')).toEqual({ t: 'stream', kind: 'exec', ns: 'default', name: 'web' });
    expect(parseRoute('/api/v1/namespaces/default/pods/')).toEqual({ t: 'pods', ns: 'default' });
    expect(parseRoute('/api/v1//pods')).toBeNull();
    expect(parseRoute('/api/v1/namespaces/%zz/pods')).toBeNull();
  });

  it('refuses requests without the bearer token', async () => {
    for (const token of [null, 'wrong']) {
      const r = await get('/api', { token });
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body)).toEqual(unauthorized());
    }
  });

  it('serves discovery, pods, tables and Status failures', async () => {
    expect(JSON.parse((await get('/api')).body)).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    expect(JSON.parse((await get('/apis')).body)).toEqual({ kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    expect(JSON.parse((await get('/version')).body)).toMatchObject({ major: '1', minor: '33', gitVersion: 'v1.33.1' });
    const resources = JSON.parse((await get('/api/v1')).body) as { resources: { name: string }[] };
    expect(resources.resources.map((r) => r.name).sort()).toEqual(['namespaces', 'pods', 'pods/attach', 'pods/exec', 'pods/log', 'pods/portforward']);
    const pod = await get('/api/v1/namespaces/default/pods/web');
    expect(pod.headers['content-type']).toBe('application/json');
    expect(JSON.parse(pod.body)).toMatchObject({ kind: 'Pod', metadata: { name: 'web' }, status: { phase: 'Running' } });
    const table = JSON.parse((await get('/api/v1/namespaces/default/pods/web', { accept: TABLE })).body) as { kind: string; rows: { cells: string[]; object: { kind: string } }[] };
    expect([table.kind, table.rows.length, table.rows[0]!.cells[0], table.rows[0]!.object.kind]).toEqual(['Table', 1, 'web', 'PartialObjectMetadata']);
    const full = JSON.parse((await get('/api/v1/namespaces/default/pods/web?includeObject=Object', { accept: TABLE })).body) as typeof table;
    expect(full.rows[0]!.object.kind).toBe('Pod');
    const list = JSON.parse((await get('/api/v1/pods?labelSelector=app%20in%20(web,worker)', { accept: 'application/json' })).body) as { items: { metadata: { name: string } }[] };
    expect(list.items.map((i) => i.metadata.name)).toEqual(['web', 'worker']);
    const byField = JSON.parse((await get('/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Ddone')).body) as { items: unknown[] };
    expect(byField.items).toHaveLength(1);
    expect((await get('/api/v1/namespaces/default/pods?fieldSelector=spec.bogus%3Dx')).status).toBe(400);

    const cases: [string, string, number, unknown][] = [
      ['GET', '/api/v1/namespaces/default/pods/nope', 404, notFound('pods', 'nope')],
      ['GET', '/api/v1/namespaces/other/pods/web', 404, notFound('pods', 'web')],
      ['GET', '/no/such/thing', 404, pathNotFound()],
      ['DELETE', '/api/v1/namespaces/default/pods/web', 405, methodNotAllowed()],
      ['POST', '/api/v1/namespaces/default/pods/web/exec?command=ls', 400, badRequest('Upgrade request required')],
      ['GET', '/api/v1/namespaces/default/pods/web/portforward', 400, badRequest('Upgrade request required')],
      ['GET', '/api/v1/namespaces/default/pods/web/log?container=nope', 400, badRequest('container nope is not valid for pod web')],
      ['GET', '/api/v1/namespaces/default/pods/pending/log', 400, badRequest('container "app" in pod "pending" is waiting to start: ContainerCreating')],
    ];
    for (const [method, path, code, body] of cases) {
      const r = await get(path, { method });
      expect([method, path, r.status, JSON.parse(r.body)]).toEqual([method, path, code, body]);
      expect(r.headers['content-type']).toBe('application/json');
    }
  });

  it('serves logs, defaulting to the first container, and follows until the client leaves', async () => {
    const r = await get('/api/v1/namespaces/default/pods/web/log');
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.body).toBe('web/app line 1\nweb/app line 2\nweb/app line 3\n');
    expect((await get('/api/v1/namespaces/default/pods/web/log?container=sidecar&tailLines=1')).body).toBe('web/sidecar line 3\n');
    const followed = await stream('/api/v1/namespaces/default/pods/worker/log?follow=true', undefined, (t) => t.includes('follow 3\n'));
    expect(followed).toMatch(/^worker\/worker follow 1\nworker\/worker follow 2\n/);
  });

  it('watches: ADDED for each pod from resourceVersion 0, then MODIFIED worker with a new resourceVersion', async () => {
    const text = await stream('/api/v1/namespaces/default/pods?watch=true&resourceVersion=0', undefined, (t) => (t.match(/"MODIFIED"/g) ?? []).length >= 2);
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> } } });
    expect(events.slice(0, 4).map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED web', 'ADDED worker', 'ADDED done', 'ADDED pending']);
    const modified = events.slice(4);
    expect(modified.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['MODIFIED worker', 'MODIFIED worker']);
    expect(Number(modified[1]!.object.metadata.resourceVersion)).toBeGreaterThan(Number(modified[0]!.object.metadata.resourceVersion));
    expect(modified[0]!.object.metadata.annotations).toHaveProperty(['kubewire.dev/heartbeat']);
  });

  it('watches as Table: column definitions only in the first event', async () => {
    const text = await stream('/api/v1/namespaces/default/pods?watch=true', TABLE, (t) => t.includes('"MODIFIED"'));
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { kind: string; columnDefinitions?: unknown[]; rows: { cells: string[] }[] } });
    expect(events.map((e) => e.object.kind)).toEqual(['Table', 'Table', 'Table', 'Table', 'Table']);
    expect(events[0]!.object.columnDefinitions).toHaveLength(9);
    expect(events[1]!.object.columnDefinitions).toBeUndefined();
    expect(events[4]!.object.rows[0]!.cells[0]).toBe('worker');
  });
});

describe('DemoApiServer upgrades', () => {
  it('hands a known pod to onUpgrade with its route', async () => {
    upgrades.length = 0;
    const out = await rawUpgrade(wsHead('/api/v1/namespaces/default/pods/web/exec?command=ls&command=-l&container=sidecar&stdout=true'));
    expect(out).toMatch(/^HTTP\/1.1 403 Forbidden\r\n/);
    expect(upgrades).toHaveLength(1);
    const { route, method } = upgrades[0]!;
    expect(method).toBe('GET');
    expect([route.kind, route.pod.name, route.path, route.query.getAll('command'), route.query.get('container')]).toEqual([
      'exec', 'web', '/api/v1/namespaces/default/pods/web/exec', ['ls', '-l'], 'sidecar',
    ]);
  });

  it('refuses bad upgrades with a raw Status response', async () => {
    upgrades.length = 0;
    const cases: [string, number, unknown][] = [
      [wsHead('/api/v1/namespaces/default/pods/web/exec?command=ls', null), 401, unauthorized()],
      [wsHead('/api/v1/namespaces/default/pods/web/exec?command=ls', 'nope'), 401, unauthorized()],
      [wsHead('/api/v1/namespaces/default/pods/ghost/exec?command=ls'), 404, notFound('pods', 'ghost')],
      [wsHead('/api/v1/namespaces/default/pods/web/attach?container=nope&stdout=true'), 400, badRequest('container nope is not valid for pod web')],
      [wsHead('/api/v1/namespaces/default/pods/pending/exec?command=ls&container=app'), 400, badRequest('unable to upgrade connection: container not found ("app")')],
      [wsHead('/nowhere'), 404, pathNotFound()],
    ];
    for (const [head, code, body] of cases) {
      const raw = await rawUpgrade(head);
      expect(raw.split('\r\n')[0]).toMatch(new RegExp(`^HTTP/1.1 ${code} `));
      expect(raw).toMatch(/\r\nContent-Type: application\/json\r\n/);
      expect(statusOf(raw)).toEqual(body);
    }
    expect(upgrades).toHaveLength(0);
  });

  it('survives garbage on the socket', async () => {
    const out = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, ca: tls.caCertPem }, () => s.write('\x00\x01garbage\r\n\r\n'));
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString()));
      s.on('close', () => resolve(text));
      s.on('error', () => undefined);
    });
    expect(out).toMatch(/^HTTP\/1.1 400/);
    expect((await get('/api')).status).toBe(200);
  });
});

// ---- real kubectl -----------------------------------------------------------------------

interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const kubectlPath = (v: string): string => join(KUBECTL_DIR, `kubectl.${v}`);
const missing = KUBECTL_VERSIONS.filter((v) => !existsSync(kubectlPath(v)));
const available = KUBECTL_VERSIONS.filter((v) => !missing.includes(v));
if (missing.length) console.warn(`[api-server.test] kubectl ${missing.join(', ')} not found in ${KUBECTL_DIR}: skipping those real-kubectl tests`);

/** Runs kubectl with a fresh HOME (cold discovery cache) and only our kubeconfig in the env. */
async function kubectl(version: string, args: string[], opts: { kubeconfig: string; home?: string; timeoutMs?: number; until?: (stdout: string) => boolean }): Promise<KubectlResult> {
  const home = opts.home ?? (await mkdtemp(join(tmp, 'home-')));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: opts.kubeconfig, LANG: 'C.UTF-8', KUBECACHEDIR: join(home, '.kube', 'cache') };
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath(version), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const kill = (): void => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    };
    const timer = setTimeout(kill, opts.timeoutMs ?? 20_000);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      if (opts.until?.(stdout)) kill();
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', (e) => {
      clearTimeout(timer);
      if (!settled) reject(e);
      settled = true;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!settled) resolve({ code, stdout, stderr });
      settled = true;
    });
  });
}

describe('real kubectl binaries', () => {
  it('are present (required when CI=true)', () => {
    if (process.env.CI === 'true') expect(missing, `kubectl binaries missing from ${KUBECTL_DIR}`).toEqual([]);
    else if (missing.length) console.warn(`[api-server.test] skipped kubectl ${missing.join(', ')} (not installed)`);
  });
});

describe.each(available)('kubectl %s against the demo API server', (version) => {
  let kubeconfig = '';
  let badKubeconfig = '';

  beforeAll(async () => {
    const dir = join(tmp, `kc-${version}`);
    await mkdir(dir, { recursive: true });
    kubeconfig = join(dir, 'config');
    badKubeconfig = join(dir, 'bad-config');
    await writeKubeconfig(kubeconfig, { server: url, caCertPem: tls.caCertPem, token: TOKEN, namespace: 'default' });
    await writeKubeconfig(badKubeconfig, { server: url, caCertPem: tls.caCertPem, token: 'not-the-token' });
  });

  const run = (args: string[], opts: { home?: string; timeoutMs?: number; until?: (s: string) => boolean; bad?: boolean } = {}): Promise<KubectlResult> =>
    kubectl(version, args, { kubeconfig: opts.bad ? badKubeconfig : kubeconfig, ...opts });

  it('get pods', async () => {
    const r = await run(['get', 'pods']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4).join(' '))).toEqual([
      'web 2/2 Running 0',
      'worker 1/1 Running 0',
      'done 0/1 Completed 0',
      'pending 0/1 ContainerCreating 0',
    ]);
    expect(lines[1]).toMatch(/\s42m$/);
  });

  it('get pods -o wide', async () => {
    const r = await run(['get', 'pods', '-o', 'wide']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/);
    expect(lines[1]).toMatch(/^web\s+2\/2\s+Running\s+0\s+\S+\s+10\.244\.0\.11\s+kubewire-node\s+<none>\s+<none>$/);
    expect(lines[4]).toMatch(/^pending\s+0\/1\s+ContainerCreating\s+0\s+\S+\s+<none>\s+kubewire-node\s+<none>\s+<none>$/);
  });

  it('get pods -A shows the namespace', async () => {
    const r = await run(['get', 'pods', '-A']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAMESPACE\s+NAME\s+READY/);
    expect(r.stdout).toMatch(/\ndefault\s+web\s+2\/2\s+Running/);
  });

  it('get pod web -o yaml', async () => {
    const r = await run(['get', 'pod', 'web', '-o', 'yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('kind: Pod');
    expect(r.stdout).toContain('  name: web\n');
    expect(r.stdout).toContain('phase: Running');
    expect(r.stdout).toContain('containerPort: 80');
  });

  it('get pod nope', async () => {
    const r = await run(['get', 'pod', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error from server (NotFound): pods "nope" not found');
  });

  it('logs web -c app, and a bad container', async () => {
    const r = await run(['logs', 'web', '-c', 'app']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('web/app line 1\nweb/app line 2\nweb/app line 3\n');
    const bad = await run(['logs', 'web', '-c', 'nope']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/container nope is not valid for pod web|container nope not found in pod web/);
    const pending = await run(['logs', 'pending']);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toContain('Error from server (BadRequest): container "app" in pod "pending" is waiting to start: ContainerCreating');
  });

  it('logs -f follows until kubectl is stopped', async () => {
    const r = await run(['logs', '-f', 'worker'], { until: (s) => s.includes('follow 3\n') });
    expect(r.stdout).toMatch(/^worker\/worker follow 1\nworker\/worker follow 2\nworker\/worker follow 3\n/);
  });

  it('get pods -w prints the list, then worker as it changes', async () => {
    const workerRows = (s: string): number => (s.match(/^worker\s/gm) ?? []).length;
    const r = await run(['get', 'pods', '-w'], { until: (s) => workerRows(s) >= 3 });
    expect(r.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    expect((r.stdout.match(/^NAME\s/gm) ?? []).length).toBe(1);
    expect(workerRows(r.stdout)).toBeGreaterThanOrEqual(3);
    expect((r.stdout.match(/^web\s/gm) ?? []).length).toBe(1);
  });

  it('a wrong token', async () => {
    // Cold discovery cache: discovery reads the 401 raw, so client-go's generic text shows (as
    // against a real API server).
    const cold = await run(['get', 'pods'], { bad: true });
    expect(cold.code).toBe(1);
    expect(cold.stderr).toMatch(/error: You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)\n$/);
    // Warm cache (the token changed since the last use): the list request decodes our Status.
    const home = await mkdtemp(join(tmp, 'home-'));
    expect((await run(['get', 'pods'], { home })).code).toBe(0);
    const warm = await run(['get', 'pods'], { home, bad: true });
    expect(warm.code).toBe(1);
    expect(warm.stderr).toBe('error: You must be logged in to the server (Unauthorized)\n');
  });

  it('exec reaches onUpgrade; a Pending pod is refused', async () => {
    upgrades.length = 0;
    const r = await run(['exec', 'web', '-c', 'sidecar', '--', 'ls', '-l']);
    expect(r.code).not.toBe(0);
    expect(upgrades.length).toBeGreaterThanOrEqual(1);
    // 1.30+ tries the WebSocket GET first and falls back to the SPDY POST after our 403.
    expect(upgrades.at(-1)!.method).toBe('POST');
    const route = upgrades.at(-1)!.route;
    expect([route.kind, route.pod.name, route.query.getAll('command'), route.query.get('container')]).toEqual(['exec', 'web', ['ls', '-l'], 'sidecar']);
    const pending = await run(['exec', 'pending', '--', 'ls']);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toContain('unable to upgrade connection: container not found ("app")');
  });

  it('parses a kubeconfig with awkward values', async () => {
    const odd = join(tmp, `odd-${version}`, 'config');
    const token = 'tok"en\\with: #yaml {stuff}\n';
    await writeKubeconfig(odd, { server: url, caCertPem: tls.caCertPem, token, name: 'we ird: name' });
    const r = await kubectl(version, ['config', 'view', '--raw', '-o', 'jsonpath={.users[0].user.token}|{.current-context}'], { kubeconfig: odd });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${token}|we ird: name`);
  });
});

describe('DemoApiServer.listen', () => {
  it('brackets an IPv6 address in the URL, and the certificate covers ::1', async (ctx) => {
    const s = new DemoApiServer({ tls: { certPem: tls.certPem, keyPem: tls.keyPem }, token: TOKEN, pods: demoPods(), logs: fakeLogs, onUpgrade: () => undefined });
    let addr: { host: string; port: number; url: string };
    try {
      addr = await s.listen('::1', 0);
    } catch (e) {
      await s.close();
      console.warn(`[api-server.test] no IPv6 loopback here (${(e as Error).message}); skipping`);
      return ctx.skip();
    }
    try {
      expect(addr.url).toBe(`https://[::1]:${addr.port}`);
      const authorized = await new Promise<boolean>((resolve, reject) => {
        const sock = connect({ host: '::1', port: addr.port, ca: tls.caCertPem }, () => {
          resolve(sock.authorized);
          sock.end();
        });
        sock.on('error', reject);
      });
      expect(authorized).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe('DemoApiServer.close', () => {
  it('ends open watches and sockets', async () => {
    const s = new DemoApiServer({ tls: { certPem: tls.certPem, keyPem: tls.keyPem }, token: TOKEN, pods: demoPods(), logs: fakeLogs, onUpgrade: () => undefined });
    const addr = await s.listen('127.0.0.1', 0);
    let closed: Promise<void> | null = null;
    const ended = new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: addr.port, path: '/api/v1/pods?watch=true', ca: tls.caCertPem, headers: { Authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
        res.once('data', () => (closed = s.close()));
        res.on('close', () => resolve());
        res.on('error', () => undefined);
      });
      req.on('error', () => resolve());
      req.end();
    });
    await ended;
    expect(closed).not.toBeNull();
    await closed;
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => connect({ host: '127.0.0.1', port: addr.port, ca: tls.caCertPem }).on('error', resolve));
    expect(err.code).toBe('ECONNREFUSED');
  });
});
