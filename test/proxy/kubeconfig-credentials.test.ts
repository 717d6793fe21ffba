/**
 * The kubeconfig read without @kubernetes/client-node: exec credential plugins (run as
 * client-go runs them, kept until they expire or are rejected), token files (re-read once a
 * minute), client certificate files, and KUBECONFIG lists merged as kubectl merges them.
 * Auth-providers still go through client-node. upstream.test.ts holds the rest of the
 * kubeconfig behaviour and the dialling.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/io/errors.js';
import type { ExecConfig } from '../../src/kubeconfig/exec-config.js';
import { loadKubeconfig } from '../../src/kubeconfig/load-kubeconfig.js';
import { EventBus } from '../../src/events/event-bus.js';
import { LocalObserver } from '../../src/observer/local-observer.js';
import { ExecPlugin } from '../../src/proxy/exec-credential.js';
import { HttpForwarder } from '../../src/proxy/http-forwarder.js';
import { loadUpstream, type LoadUpstreamOptions } from '../../src/proxy/kubeconfig-upstream.js';
import { UpstreamError, type Upstream } from '../../src/proxy/upstream.js';
import { UpstreamCredentials } from '../../src/proxy/upstream-credentials.js';
import { createDemoTls, type DemoTls } from '../../src/tls/local-ca.js';
import { clientCertificate, type ClientCertificate } from '../support/client-cert.js';

interface Seen {
  authorization: string | null;
  clientCn: string | null;
}

let ca: DemoTls;
let client: ClientCertificate;
let other: ClientCertificate;
let tmp = '';
let echo: https.Server;
let echoPort = 0;
let mtls: https.Server;
let mtlsPort = 0;
const sockets = new Set<net.Socket>();
const upstreams: Upstream[] = [];

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

function report(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.headers.authorization === 'Bearer revoked') {
    res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"kind":"Status","code":401}');
    return;
  }
  const peer = (req.socket as TLSSocket).getPeerCertificate();
  const seen: Seen = { authorization: req.headers.authorization ?? null, clientCn: peer && peer.subject ? String(peer.subject.CN) : null };
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(seen));
}

async function serve(server: https.Server): Promise<number> {
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

beforeAll(async () => {
  [ca, client, other] = await Promise.all([createDemoTls(), clientCertificate(), clientCertificate('kubewire-other-user')]);
  tmp = await mkdtemp(join(tmpdir(), 'kubewire-credentials-'));
  echo = https.createServer({ key: ca.keyPem, cert: ca.certPem }, report);
  echoPort = await serve(echo);
  mtls = https.createServer({ key: ca.keyPem, cert: ca.certPem, ca: [client.certPem, other.certPem], requestCert: true, rejectUnauthorized: true }, report);
  mtlsPort = await serve(mtls);
});

afterAll(async () => {
  for (const up of upstreams) (await up.agent().catch(() => null))?.destroy();
  for (const s of sockets) s.destroy();
  await Promise.all([echo, mtls].map((s) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()))));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

let dirCount = 0;
async function freshDir(): Promise<string> {
  const dir = join(tmp, `case-${++dirCount}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** JSON is YAML, so a kubeconfig can be written without a YAML writer. */
async function writeConfig(dir: string, parts: Record<string, unknown>, name = 'config'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify({ apiVersion: 'v1', kind: 'Config', ...parts }, null, 2));
  return file;
}

const echoServer = (): string => `https://127.0.0.1:${echoPort}`;
const echoCluster = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ server: echoServer(), 'certificate-authority-data': b64(ca.caCertPem), ...extra });

function single(cluster: Record<string, unknown>, user: Record<string, unknown>): Record<string, unknown> {
  return {
    clusters: [{ name: 'c1', cluster }],
    users: [{ name: 'u1', user }],
    contexts: [{ name: 'ctx1', context: { cluster: 'c1', user: 'u1' } }],
    'current-context': 'ctx1',
  };
}

async function load(opts: LoadUpstreamOptions): Promise<Upstream> {
  const up = await loadUpstream({ env: {}, ...opts });
  upstreams.push(up);
  return up;
}

async function get(up: Upstream): Promise<Seen> {
  const { headers } = await up.connectionOptions();
  const agent = await up.agent();
  return new Promise<Seen>((resolve, reject) => {
    const req = https.request(new URL('/version', up.server), { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seen));
    });
    req.on('error', reject);
    req.end();
  });
}

async function rejection<T extends Error>(p: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(type);
  return e as T;
}

/**
 * A credential plugin: a node script that appends what it was given (KUBERNETES_EXEC_INFO, a
 * test variable, its stdin) to `runs`, then prints the JSON of `response` as it is at that moment.
 */
interface Plugin {
  script: string;
  runs: string;
  response: string;
  respond(value: unknown): Promise<void>;
  calls(): Promise<Array<{ info: Record<string, unknown>; env: string | null; stdin: string; args: string[] }>>;
}

async function plugin(dir: string, response: unknown): Promise<Plugin> {
  const script = join(dir, 'plugin.mjs');
  const runs = join(dir, 'runs.jsonl');
  const responseFile = join(dir, 'response.json');
  await writeFile(script, [
    "import { appendFileSync, readFileSync } from 'node:fs';",
    'const [runs, response, ...rest] = process.argv.slice(2);',
    "const stdin = readFileSync(0, 'utf8');",
    "appendFileSync(runs, JSON.stringify({ info: JSON.parse(process.env.KUBERNETES_EXEC_INFO), env: process.env.KW_PLUGIN_ENV ?? null, stdin, args: rest }) + '\\n');",
    "process.stdout.write(readFileSync(response, 'utf8'));",
    '',
  ].join('\n'));
  await writeFile(runs, '');
  const p: Plugin = {
    script,
    runs,
    response: responseFile,
    respond: (value) => writeFile(responseFile, typeof value === 'string' ? value : JSON.stringify(value)),
    calls: async () => (await readFile(runs, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l)),
  };
  await p.respond(response);
  return p;
}

const execUser = (p: Plugin, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  exec: { apiVersion: V1, command: process.execPath, args: [p.script, p.runs, p.response], interactiveMode: 'Never', ...extra },
});

const credential = (status: Record<string, unknown>, apiVersion = V1): Record<string, unknown> => ({ apiVersion, kind: 'ExecCredential', status });

// ---------------------------------------------------------------------------------------------

describe('exec credential plugins', () => {
  it('runs the plugin with KUBERNETES_EXEC_INFO, its args and env, and stdin closed', async () => {
    const dir = await freshDir();
    const p = await plugin(dir, credential({ token: 'tok-1' }));
    const file = await writeConfig(dir, single(
      echoCluster({ 'tls-server-name': 'localhost', extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'kubewire' } }, { name: 'other', extension: 1 }] }),
      execUser(p, { args: [p.script, p.runs, p.response, 'extra-arg'], env: [{ name: 'KW_PLUGIN_ENV', value: 'from-kubeconfig' }], provideClusterInfo: true }),
    ));
    const up = await load({ kubeconfig: file });
    expect((await get(up)).authorization).toBe('Bearer tok-1');
    expect(await p.calls()).toEqual([{
      info: {
        apiVersion: V1,
        kind: 'ExecCredential',
        spec: {
          interactive: false,
          cluster: { server: echoServer(), 'tls-server-name': 'localhost', 'certificate-authority-data': b64(ca.caCertPem), config: { audience: 'kubewire' } },
        },
      },
      env: 'from-kubeconfig',
      stdin: '',
      args: ['extra-arg'],
    }]);
  });

  it('speaks v1beta1, and describes the cluster only with provideClusterInfo', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'ca.crt'), ca.caCertPem);
    const p = await plugin(dir, credential({ token: 'beta' }, V1BETA1));
    const plain = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), execUser(p, { apiVersion: V1BETA1, interactiveMode: undefined })), 'plain') });
    expect((await get(plain)).authorization).toBe('Bearer beta');
    const withInfo = await load({
      kubeconfig: await writeConfig(dir, single({ server: echoServer(), 'certificate-authority': 'ca.crt', 'proxy-url': 'http://127.0.0.1:9' }, execUser(p, { apiVersion: V1BETA1, provideClusterInfo: true })), 'info'),
    });
    await withInfo.connectionOptions();
    const [first, second] = await p.calls();
    expect(first!.info).toEqual({ apiVersion: V1BETA1, kind: 'ExecCredential', spec: { interactive: false } });
    expect(second!.info['spec']).toEqual({ interactive: false, cluster: { server: echoServer(), 'certificate-authority-data': b64(ca.caCertPem), 'proxy-url': 'http://127.0.0.1:9' } });
  });

  it('keeps a credential without expirationTimestamp until the API server rejects it', async () => {
    const dir = await freshDir();
    const p = await plugin(dir, credential({ token: 'first' }));
    const up = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), execUser(p))) });
    await Promise.all([up.connectionOptions(), up.connectionOptions()]);
    expect((await get(up)).authorization).toBe('Bearer first');
    expect(await p.calls()).toHaveLength(1);
    await p.respond(credential({ token: 'second' }));
    up.credentialsRejected?.();
    expect((await get(up)).authorization).toBe('Bearer second');
    expect((await up.connectionOptions()).headers['Authorization']).toBe('Bearer second');
    expect(await p.calls()).toHaveLength(2);
  });

  it('runs the plugin again after the API server answers a forwarded request with 401', async () => {
    const dir = await freshDir();
    const p = await plugin(dir, credential({ token: 'revoked' }));
    const up = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), execUser(p))) });
    const bus = new EventBus({ lossless: false });
    const forwarder = new HttpForwarder(up, new LocalObserver(bus, { payload: 'head' }));
    const front = http.createServer((req, res) => void forwarder.forward(req, res, { conn: 'c', session: 's' }));
    const port = await new Promise<number>((resolve) => front.listen(0, '127.0.0.1', () => resolve((front.address() as net.AddressInfo).port)));
    const status = (): Promise<{ code: number; body: string }> => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/version', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      }).on('error', reject);
    });
    try {
      expect((await status()).code).toBe(401);
      await p.respond(credential({ token: 'fresh' }));
      const after = await status();
      expect(after.code).toBe(200);
      expect(JSON.parse(after.body)).toMatchObject({ authorization: 'Bearer fresh' });
      expect(await p.calls()).toHaveLength(2);
    } finally {
      forwarder.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await bus.close();
    }
  });

  it('keeps a credential until its expirationTimestamp, and runs the plugin again for an expired one', async () => {
    const dir = await freshDir();
    const p = await plugin(dir, credential({ token: 'long', expirationTimestamp: new Date(Date.now() + 3_600_000).toISOString() }));
    const up = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), execUser(p))) });
    for (let i = 0; i < 3; i++) expect((await up.connectionOptions()).headers['Authorization']).toBe('Bearer long');
    expect(await p.calls()).toHaveLength(1);

    const q = await plugin(await freshDir(), credential({ token: 'stale', expirationTimestamp: '2000-01-01T00:00:00Z' }));
    const expired = await load({ kubeconfig: await writeConfig(await freshDir(), single(echoCluster(), execUser(q))) });
    for (let i = 0; i < 3; i++) expect((await expired.connectionOptions()).headers['Authorization']).toBe('Bearer stale');
    expect(await q.calls()).toHaveLength(3);
  });

  it('runs the plugin again once the clock passes expirationTimestamp', async () => {
    const dir = await freshDir();
    const expiry = '2030-01-01T00:00:00Z';
    const p = await plugin(dir, credential({ token: 'a', expirationTimestamp: expiry }));
    let now = Date.parse(expiry) - 60_000;
    const config: ExecConfig = { apiVersion: V1, command: process.execPath, args: [p.script, p.runs, p.response], env: [], provideClusterInfo: false, interactiveMode: 'Never', installHint: null };
    const exec = new ExecPlugin(config, () => Promise.reject(new Error('not asked for')), () => now);
    expect((await exec.credential()).token).toBe('a');
    now += 59_000;
    expect((await exec.credential()).token).toBe('a');
    expect(await p.calls()).toHaveLength(1);
    await p.respond(credential({ token: 'b', expirationTimestamp: '2030-01-01T01:00:00Z' }));
    now += 1_000;
    expect(await exec.credential()).toEqual({ token: 'b', clientCertificateData: null, clientKeyData: null, expiresAt: Date.parse('2030-01-01T01:00:00Z') });
    expect(await p.calls()).toHaveLength(2);
  });

  it('presents the client certificate the plugin prints', async () => {
    const dir = await freshDir();
    const p = await plugin(dir, credential({ clientCertificateData: client.certPem, clientKeyData: client.keyPem }));
    const up = await load({ kubeconfig: await writeConfig(dir, single({ server: `https://127.0.0.1:${mtlsPort}`, 'certificate-authority-data': b64(ca.caCertPem) }, execUser(p))) });
    expect(await get(up)).toEqual({ authorization: null, clientCn: 'kubewire-test-user' });
  });

  it('does not run the plugin when the user has a token, basic auth or a client certificate, as client-go', async () => {
    const dir = await freshDir();
    const p = await plugin(dir, credential({ token: 'from-plugin' }));
    const token = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), { ...execUser(p), token: 'static' }), 'token') });
    expect((await get(token)).authorization).toBe('Bearer static');
    const basic = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), { ...execUser(p), username: 'ann' }), 'basic') });
    expect((await get(basic)).authorization).toBe(`Basic ${b64('ann:')}`);
    const cert = await load({
      kubeconfig: await writeConfig(dir, single({ server: `https://127.0.0.1:${mtlsPort}`, 'certificate-authority-data': b64(ca.caCertPem) }, { ...execUser(p), 'client-certificate-data': b64(client.certPem), 'client-key-data': b64(client.keyPem) }), 'cert'),
    });
    expect(await get(cert)).toEqual({ authorization: null, clientCn: 'kubewire-test-user' });
    expect(await p.calls()).toEqual([]);
  });

  it('names what is wrong with what the plugin printed', async () => {
    const cases: Array<[unknown, string]> = [
      [credential({ token: 't' }, V1BETA1), `printed an ExecCredential of "${V1BETA1}", but the kubeconfig asks for ${V1}`],
      [{ apiVersion: V1, kind: 'Status', status: {} }, 'printed a "Status", not an ExecCredential'],
      [credential({}), 'printed an ExecCredential with neither a token nor a client certificate'],
      [credential({ clientCertificateData: client.certPem }), 'printed an ExecCredential with a client certificate but no key'],
      [credential({ token: 't', expirationTimestamp: 'tomorrow' }), 'printed an ExecCredential whose expirationTimestamp "tomorrow" is not an RFC 3339 time'],
      [{ apiVersion: V1, kind: 'ExecCredential' }, 'printed an ExecCredential without status'],
      ['[1, 2]', 'did not print an ExecCredential as JSON: expected an object'],
    ];
    for (const [response, message] of cases) {
      const dir = await freshDir();
      const p = await plugin(dir, response);
      const up = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), execUser(p))) });
      const e = await rejection(up.connectionOptions(), UpstreamError);
      expect(e.code).toBe('KW_ERR_UPSTREAM_AUTH');
      expect(e.message).toBe(`cannot get credentials for ${echoServer()} (user "u1"): exec credential plugin "${process.execPath}" ${message}`);
    }
  });

  it('reports an exit status without stderr, the install hint of a missing plugin, and a plugin that wants a terminal', async () => {
    const dir = await freshDir();
    const script = join(dir, 'quiet.mjs');
    await writeFile(script, 'process.exit(4);\n');
    const quiet = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), { exec: { apiVersion: V1, command: process.execPath, args: [script], interactiveMode: 'Always' } }), 'quiet') });
    expect((await rejection(quiet.connectionOptions(), UpstreamError)).message).toBe(
      `cannot get credentials for ${echoServer()} (user "u1"): exec credential plugin "${process.execPath}" failed with exit status 4 and nothing on stderr; the kubeconfig sets interactiveMode: Always, but kubewire runs credential plugins without a terminal`,
    );
    const missing = await load({
      kubeconfig: await writeConfig(dir, single(echoCluster(), { exec: { apiVersion: V1, command: 'kubewire-no-such-plugin', interactiveMode: 'Never', installHint: 'kubewire-no-such-plugin is needed:\n  see https://example.com/install' } }), 'missing'),
    });
    expect((await rejection(missing.connectionOptions(), UpstreamError)).message).toMatch(
      /exec credential plugin "kubewire-no-such-plugin" could not be started: no such file \(ENOENT\); check users\[\]\.user\.exec\.command; kubewire-no-such-plugin is needed: see https:\/\/example\.com\/install$/,
    );
  });

  it('refuses an exec section kubectl would refuse, before anything listens', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ apiVersion: V1 }, 'the exec credential plugin has no command; set users[].user.exec.command'],
      [{ command: 'plug' }, `the exec credential plugin "plug" has no apiVersion; set users[].user.exec.apiVersion to ${V1} or ${V1BETA1}`],
      [{ command: 'plug', apiVersion: 'client.authentication.k8s.io/v1alpha1' }, `the exec credential plugin "plug" asks for apiVersion client.authentication.k8s.io/v1alpha1, which kubectl and kubewire no longer speak; use ${V1} or ${V1BETA1}`],
      [{ command: 'plug', apiVersion: V1, env: [{ value: 'x' }] }, 'exec env[0] has no name'],
      [{ command: 'plug', apiVersion: V1, interactiveMode: 'Sometimes' }, 'the exec credential plugin "plug" has interactiveMode "Sometimes"; use Never, IfAvailable or Always'],
    ];
    for (const [exec, message] of cases) {
      const file = await writeConfig(await freshDir(), single(echoCluster(), { exec }));
      const e = await rejection(loadUpstream({ env: {}, kubeconfig: file }), CliError);
      expect(e.code).toBe('KW_ERR_KUBECONFIG_INVALID');
      expect(e.message).toBe(`user "u1" in ${file}: ${message}`);
    }
  });
});

describe('token files', () => {
  it('reads a token file given relative to the kubeconfig, as kubectl does', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, 'secrets'));
    await writeFile(join(dir, 'secrets', 'token'), 'relative-token\n');
    const up = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), { 'token-file': 'secrets/token' })) });
    expect((await get(up)).authorization).toBe('Bearer relative-token');
  });

  it('re-reads the file once a minute and after a 401, and keeps the last token while the file is gone', async () => {
    const dir = await freshDir();
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'one\n');
    const target = await loadKubeconfig({ env: {}, kubeconfig: await writeConfig(dir, single(echoCluster(), { 'token-file': tokenFile })) });
    let now = 1_000_000;
    const creds = new UpstreamCredentials(target, echoServer(), () => now);
    const auth = async (): Promise<string | undefined> => (await creds.evaluate()).headers['Authorization'];
    expect(await auth()).toBe('Bearer one');
    await writeFile(tokenFile, 'two\n');
    now += 59_000;
    expect(await auth()).toBe('Bearer one');
    now += 1_000;
    expect(await auth()).toBe('Bearer two');
    await writeFile(tokenFile, 'three');
    creds.rejected();
    expect(await auth()).toBe('Bearer three');
    await rm(tokenFile);
    now += 60_000;
    expect(await auth()).toBe('Bearer three');
  });

  it('names a token file that is empty', async () => {
    const dir = await freshDir();
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, '\n');
    const up = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), { 'token-file': tokenFile })) });
    const e = await rejection(up.connectionOptions(), UpstreamError);
    expect(e.message).toBe(`cannot get credentials for ${echoServer()} (user "u1"): token-file ${tokenFile} is empty`);
  });
});

describe('client certificate files', () => {
  it('reads the files for each connection, so a renewed certificate is used', async () => {
    const dir = await freshDir();
    const [certFile, keyFile] = [join(dir, 'user.crt'), join(dir, 'user.key')];
    await writeFile(certFile, client.certPem);
    await writeFile(keyFile, client.keyPem);
    const up = await load({ kubeconfig: await writeConfig(dir, single({ server: `https://127.0.0.1:${mtlsPort}`, 'certificate-authority-data': b64(ca.caCertPem) }, { 'client-certificate': certFile, 'client-key': keyFile })) });
    const first = await up.connectionOptions();
    expect(String(first.tls.cert)).toBe(client.certPem);
    expect(String(first.tls.key)).toBe(client.keyPem);
    expect((await get(up)).clientCn).toBe('kubewire-test-user');
    await writeFile(certFile, other.certPem);
    await writeFile(keyFile, other.keyPem);
    expect(String((await up.connectionOptions()).tls.cert)).toBe(other.certPem);
  });

  it('prefers certificate data over a file, as client-go does', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'user.crt'), other.certPem);
    await writeFile(join(dir, 'user.key'), other.keyPem);
    await writeFile(join(dir, 'ca.crt'), 'not the CA');
    const up = await load({
      kubeconfig: await writeConfig(dir, single(
        { server: `https://127.0.0.1:${mtlsPort}`, 'certificate-authority-data': b64(ca.caCertPem), 'certificate-authority': 'ca.crt' },
        { 'client-certificate': 'user.crt', 'client-key': 'user.key', 'client-certificate-data': b64(client.certPem), 'client-key-data': b64(client.keyPem) },
      )),
    });
    expect((await get(up)).clientCn).toBe('kubewire-test-user');
  });

  it('names a certificate file that went away after the start', async () => {
    const dir = await freshDir();
    const certFile = join(dir, 'user.crt');
    await writeFile(certFile, client.certPem);
    await writeFile(join(dir, 'user.key'), client.keyPem);
    const up = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), { 'client-certificate': certFile, 'client-key': 'user.key' })) });
    await rm(certFile);
    const e = await rejection(up.connectionOptions(), UpstreamError);
    expect(e.message).toBe(`cannot get credentials for ${echoServer()} (user "u1"): cannot read ${certFile}: no such file`);
  });
});

describe('KUBECONFIG with several files', () => {
  it('merges in order: the first file to define a name or set current-context wins', async () => {
    const dir = await freshDir();
    const first = await writeConfig(dir, {
      contexts: [{ name: 'main', context: { cluster: 'shared', user: 'me', namespace: 'from-first' } }],
    }, 'first.yaml');
    const second = await writeConfig(dir, {
      clusters: [{ name: 'shared', cluster: echoCluster() }],
      users: [{ name: 'me', user: { token: 'from-second' } }],
      contexts: [{ name: 'main', context: { cluster: 'elsewhere', user: 'me' } }],
      'current-context': 'main',
    }, 'second.yaml');
    const third = await writeConfig(dir, {
      clusters: [{ name: 'shared', cluster: { server: 'https://10.255.255.1:1' } }],
      users: [{ name: 'me', user: { token: 'from-third' } }],
      'current-context': 'third-only',
    }, 'third.yaml');
    const up = await load({ env: { KUBECONFIG: [first, second, third].join(':') } });
    expect([up.contextName, up.clusterName, up.userName, up.namespace]).toEqual(['main', 'shared', 'me', 'from-first']);
    expect(up.server.href).toBe(`${echoServer()}/`);
    expect(up.kubeconfigPaths).toEqual([first, second, third]);
    expect((await get(up)).authorization).toBe('Bearer from-second');

    const reversed = [third, second, first];
    const e = await rejection(loadUpstream({ env: { KUBECONFIG: reversed.join(':') } }), CliError);
    expect(e.code).toBe('KW_ERR_KUBECONFIG_UNKNOWN_CONTEXT');
    expect(e.message).toBe(`current-context "third-only" (set in ${third}) is not defined in ${reversed.join(', ')} (merged from KUBECONFIG); known contexts: "main"`);
  });

  it('resolves relative file references against the folder of the file that holds them', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, 'a'));
    await mkdir(join(dir, 'b'));
    await writeFile(join(dir, 'b', 'ca.crt'), ca.caCertPem);
    await writeFile(join(dir, 'a', 'token'), 'token-in-a');
    const a = await writeConfig(join(dir, 'a'), { users: [{ name: 'me', user: { 'token-file': 'token' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'me' } }], 'current-context': 'x' });
    const b = await writeConfig(join(dir, 'b'), { clusters: [{ name: 'c', cluster: { server: echoServer(), 'certificate-authority': 'ca.crt' } }] });
    const up = await load({ env: { KUBECONFIG: `${a}:${b}` } });
    expect((await get(up)).authorization).toBe('Bearer token-in-a');
  });
});

describe('auth-providers, through client-node', () => {
  it('sends the token a gcp auth-provider holds', async () => {
    const dir = await freshDir();
    const up = await load({
      kubeconfig: await writeConfig(dir, single(echoCluster(), { 'auth-provider': { name: 'gcp', config: { 'access-token': 'gcp-token', expiry: new Date(Date.now() + 3_600_000).toISOString() } } })),
    });
    expect((await get(up)).authorization).toBe('Bearer gcp-token');
  });

  it("passes on the provider's failure", async () => {
    const dir = await freshDir();
    const up = await load({ kubeconfig: await writeConfig(dir, single(echoCluster(), { 'auth-provider': { name: 'gcp', config: { 'access-token': 'old', expiry: '2000-01-01T00:00:00Z' } } })) });
    const e = await rejection(up.connectionOptions(), UpstreamError);
    expect(e.code).toBe('KW_ERR_UPSTREAM_AUTH');
    expect(e.message).toBe(`cannot get credentials for ${echoServer()} (user "u1"): Token is expired!`);
  });
});
