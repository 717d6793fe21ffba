import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/io/errors.js';
import { loadUpstream, type LoadUpstreamOptions } from '../../src/proxy/kubeconfig-upstream.js';
import { UpstreamError, type Upstream } from '../../src/proxy/upstream.js';
import { createDemoTls, type DemoTls } from '../../src/tls/local-ca.js';
import { clientCertificate } from '../support/client-cert.js';


interface Seen {
  authorization: string | null;
  impersonate: string | null;
  alpn: string | false | null;
  clientCn: string | null;
}

let ca: DemoTls;
let otherCa: DemoTls;
let client: { certPem: string; keyPem: string };
let tmp = '';
let echo: https.Server;
let echoPort = 0;
let mtls: https.Server;
let mtlsPort = 0;
let plain: http.Server;
let plainPort = 0;
let silent: net.Server;
let silentPort = 0;
let proxy: http.Server;
let proxyPort = 0;
let refusedPort = 0;
const proxied: string[] = [];
const openSockets = new Set<net.Socket>();
const upstreams: Upstream[] = [];
const scripted: net.Server[] = [];

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function track<T extends net.Server>(server: T): T {
  server.on('connection', (s: net.Socket) => {
    openSockets.add(s);
    s.on('close', () => openSockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => s.on('error', () => {}));
  server.on('tlsClientError', () => {});
  return server;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function report(req: http.IncomingMessage, res: http.ServerResponse): void {
  const socket = req.socket as TLSSocket;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : null;
  const seen: Seen = {
    authorization: req.headers.authorization ?? null,
    impersonate: (req.headers['impersonate-user'] as string | undefined) ?? null,
    alpn: 'alpnProtocol' in socket ? socket.alpnProtocol ?? null : null,
    clientCn: peer && peer.subject ? String(peer.subject.CN) : null,
  };
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(seen));
}

beforeAll(async () => {
  [ca, otherCa, client] = await Promise.all([createDemoTls(), createDemoTls(), clientCertificate()]);
  tmp = await mkdtemp(join(tmpdir(), 'kubewire-upstream-'));
  echo = track(https.createServer({ key: ca.keyPem, cert: ca.certPem, ALPNProtocols: ['h2', 'http/1.1'] }, report));
  echoPort = await listen(echo);
  mtls = track(https.createServer({ key: ca.keyPem, cert: ca.certPem, ca: client.certPem, requestCert: true, rejectUnauthorized: true }, report));
  mtlsPort = await listen(mtls);
  plain = track(http.createServer(report));
  plainPort = await listen(plain);
  silent = track(net.createServer(() => {}));
  silentPort = await listen(silent);
  proxy = track(http.createServer((_req, res) => res.writeHead(405).end()));
  proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => {});
    proxied.push(req.url ?? '');
    if (req.headers['proxy-authorization'] === `Basic ${b64('bad:user')}`) {
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    if (host !== '127.0.0.1') {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  });
  proxyPort = await listen(proxy);
  const closed = net.createServer();
  refusedPort = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});

afterAll(async () => {
  for (const up of upstreams) (await up.agent().catch(() => null))?.destroy();
  for (const s of openSockets) s.destroy();
  await Promise.all([echo, mtls, plain, silent, proxy, ...scripted].map((s) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()))));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

interface ConfigParts {
  clusters?: Array<{ name: string; cluster?: Record<string, unknown> }>;
  users?: Array<{ name: string; user?: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context?: Record<string, unknown> }>;
  'current-context'?: string;
}

let dirCount = 0;
async function freshDir(): Promise<string> {
  const dir = join(tmp, `case-${++dirCount}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** JSON is YAML, so a kubeconfig can be written without a YAML writer. */
async function writeConfig(dir: string, parts: ConfigParts, name = 'config'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify({ apiVersion: 'v1', kind: 'Config', preferences: {}, ...parts }, null, 2));
  return file;
}

function single(cluster: Record<string, unknown>, user: Record<string, unknown>, context: Record<string, unknown> = {}): ConfigParts {
  return {
    clusters: [{ name: 'c1', cluster }],
    users: [{ name: 'u1', user }],
    contexts: [{ name: 'ctx1', context: { cluster: 'c1', user: 'u1', ...context } }],
    'current-context': 'ctx1',
  };
}

const caData = (): string => b64(ca.caCertPem);
const echoServer = (): string => `https://127.0.0.1:${echoPort}`;

async function load(opts: LoadUpstreamOptions): Promise<Upstream> {
  const up = await loadUpstream({ env: {}, ...opts });
  upstreams.push(up);
  return up;
}

async function loadSingle(cluster: Record<string, unknown>, user: Record<string, unknown>, extra: Partial<LoadUpstreamOptions> = {}): Promise<Upstream> {
  return load({ kubeconfig: await writeConfig(await freshDir(), single(cluster, user)), ...extra });
}

/** A REST request the way the forwarder makes it: the upstream's agent plus its headers. */
async function viaAgent(up: Upstream): Promise<Seen> {
  const { headers } = await up.connectionOptions();
  const agent = await up.agent();
  const mod = up.server.protocol === 'https:' ? https : http;
  return new Promise<Seen>((resolve, reject) => {
    const req = mod.request(new URL('/version', up.server), { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seen));
    });
    req.on('error', reject);
    req.end();
  });
}

/** An upgrade-style leg: connect(), then a hand-written request on the raw socket. */
async function viaConnect(up: Upstream): Promise<{ seen: Seen; socket: Duplex }> {
  const options = await up.connectionOptions();
  const socket = await up.connect(options);
  const headerLines = Object.entries(options.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(`GET /version HTTP/1.1\r\nHost: ${up.server.host}\r\n${headerLines}Connection: close\r\n\r\n`);
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { seen: JSON.parse(body) as Seen, socket };
}

async function cliError(p: Promise<unknown>): Promise<CliError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(CliError);
  expect((e as CliError).exitCode).toBe(2);
  return e as CliError;
}

async function upstreamError(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(UpstreamError);
  return e as UpstreamError;
}

// ---------------------------------------------------------------------------------------------

describe('credentials and TLS material', () => {
  it('sends a bearer token and describes the upstream', async () => {
    const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData() }, { token: 'tok-abc' });
    expect(up.describe()).toBe(`https://127.0.0.1:${echoPort} (context ctx1)`);
    expect([up.contextName, up.clusterName, up.userName, up.namespace, up.proxyUrl]).toEqual(['ctx1', 'c1', 'u1', null, null]);
    const opts = await up.connectionOptions();
    expect(opts.headers).toEqual({ Authorization: 'Bearer tok-abc' });
    expect(opts.tls.rejectUnauthorized).toBe(true);
    expect(opts.tls.servername).toBeUndefined();
    expect(opts.tls.ALPNProtocols).toBeUndefined();
    expect((await viaAgent(up)).authorization).toBe('Bearer tok-abc');
    expect((await viaConnect(up)).seen.authorization).toBe('Bearer tok-abc');
  });

  it('reads a token file (trailing newline dropped)', async () => {
    const dir = await freshDir();
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'tok-from-file\n');
    const up = await load({ kubeconfig: await writeConfig(dir, single({ server: echoServer(), 'certificate-authority-data': caData() }, { 'token-file': tokenFile })) });
    expect((await viaAgent(up)).authorization).toBe('Bearer tok-from-file');
  });

  it('sends basic auth and Impersonate-User', async () => {
    const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData() }, { username: 'ann', password: 'pw', as: 'bob' });
    const seen = await viaAgent(up);
    expect(seen.authorization).toBe(`Basic ${b64('ann:pw')}`);
    expect(seen.impersonate).toBe('bob');
  });

  it('presents a client certificate given as data', async () => {
    const up = await loadSingle(
      { server: `https://127.0.0.1:${mtlsPort}`, 'certificate-authority-data': caData() },
      { 'client-certificate-data': b64(client.certPem), 'client-key-data': b64(client.keyPem) },
    );
    expect((await viaAgent(up)).clientCn).toBe('kubewire-test-user');
    expect((await viaConnect(up)).seen.clientCn).toBe('kubewire-test-user');
  });

  it('presents a client certificate from files given relative to the kubeconfig, with the CA from a file', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, 'pki'));
    await writeFile(join(dir, 'pki', 'ca.crt'), ca.caCertPem);
    await writeFile(join(dir, 'pki', 'user.crt'), client.certPem);
    await writeFile(join(dir, 'pki', 'user.key'), client.keyPem);
    const file = await writeConfig(dir, single(
      { server: `https://127.0.0.1:${mtlsPort}`, 'certificate-authority': 'pki/ca.crt' },
      { 'client-certificate': 'pki/user.crt', 'client-key': 'pki/user.key' },
    ));
    const up = await load({ kubeconfig: file });
    expect((await viaAgent(up)).clientCn).toBe('kubewire-test-user');
  });

  it('trusts the CA from certificate-authority-data and from certificate-authority alike', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'ca.crt'), ca.caCertPem);
    const fromFile = await load({ kubeconfig: await writeConfig(dir, single({ server: echoServer(), 'certificate-authority': join(dir, 'ca.crt') }, { token: 't' })) });
    const fromData = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData() }, { token: 't' });
    for (const up of [fromFile, fromData]) {
      expect(String((await up.connectionOptions()).tls.ca)).toContain('BEGIN CERTIFICATE');
      expect((await viaConnect(up)).seen.authorization).toBe('Bearer t');
    }
  });

  it('resumes the TLS session of an earlier upgrade dial, so a busy proxy opens new streams quickly', async () => {
    const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData() }, { token: 'tok-resume' });
    // The server's session ticket comes after the handshake, with its answer.
    await viaConnect(up);
    const second = (await up.connect()) as TLSSocket;
    expect(second.isSessionReused()).toBe(true);
    second.destroy();
    expect((await viaConnect(up)).seen.authorization).toBe('Bearer tok-resume');
  });

  it('skips verification with insecure-skip-tls-verify', async () => {
    const up = await loadSingle({ server: echoServer(), 'insecure-skip-tls-verify': true }, { token: 'insecure' });
    expect((await up.connectionOptions()).tls.rejectUnauthorized).toBe(false);
    expect((await viaAgent(up)).authorization).toBe('Bearer insecure');
    expect((await viaConnect(up)).seen.authorization).toBe('Bearer insecure');
  });

  it('applies the cluster CA for a context without a user', async () => {
    const dir = await freshDir();
    const file = await writeConfig(dir, {
      clusters: [{ name: 'c1', cluster: { server: echoServer(), 'certificate-authority-data': caData() } }],
      contexts: [{ name: 'anon', context: { cluster: 'c1' } }],
      'current-context': 'anon',
    });
    const up = await load({ kubeconfig: file });
    expect(up.userName).toBe('');
    expect(await viaAgent(up)).toMatchObject({ authorization: null });
  });

  it('sets servername for a DNS name and honours tls-server-name', async () => {
    const byName = await loadSingle({ server: `https://localhost:${echoPort}`, 'certificate-authority-data': caData() }, { token: 't' });
    expect((await byName.connectionOptions()).tls.servername).toBe('localhost');
    const overridden = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData(), 'tls-server-name': 'localhost' }, { token: 't' });
    expect((await overridden.connectionOptions()).tls.servername).toBe('localhost');
    expect((await viaConnect(overridden)).seen.authorization).toBe('Bearer t');
  });

  it('sends no credentials to a plain http:// server, as kubectl does', async () => {
    const up = await loadSingle({ server: `http://127.0.0.1:${plainPort}` }, { token: 'never-sent' });
    expect(await up.connectionOptions()).toEqual({ headers: {}, tls: {} });
    expect((await viaAgent(up)).authorization).toBeNull();
    expect((await viaConnect(up)).seen.authorization).toBeNull();
  });
});

describe('exec credential plugins', () => {
  async function plugin(dir: string, body: string): Promise<string> {
    const script = join(dir, 'plugin.mjs');
    await writeFile(script, body);
    return script;
  }

  it('runs the plugin and sends its token', async () => {
    const dir = await freshDir();
    const script = await plugin(dir, `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: process.argv[2] } }));\n`);
    const up = await load({
      kubeconfig: await writeConfig(dir, single(
        { server: echoServer(), 'certificate-authority-data': caData() },
        { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [script, 'exec-token-123'], interactiveMode: 'Never' } },
      )),
    });
    expect((await viaAgent(up)).authorization).toBe('Bearer exec-token-123');
    expect((await viaConnect(up)).seen.authorization).toBe('Bearer exec-token-123');
  });

  it('resolves a relative command with a path separator against the kubeconfig folder', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, 'bin'));
    const command = join(dir, 'bin', 'cred');
    await writeFile(command, `#!${process.execPath}\nprocess.stdout.write(JSON.stringify({ kind: 'ExecCredential', status: { token: 'relative-plugin' } }));\n`);
    await chmod(command, 0o755);
    const up = await load({
      kubeconfig: await writeConfig(dir, single({ server: echoServer(), 'certificate-authority-data': caData() }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './bin/cred' } })),
    });
    expect((await up.connectionOptions()).headers['Authorization']).toBe('Bearer relative-plugin');
  });

  it('reports a failing plugin with its stderr', async () => {
    const dir = await freshDir();
    const script = await plugin(dir, `process.stderr.write('error: not logged in, run "login"\\n'); process.exit(3);\n`);
    const up = await load({
      kubeconfig: await writeConfig(dir, single({ server: echoServer(), 'certificate-authority-data': caData() }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [script] } })),
    });
    const e = await upstreamError(up.connectionOptions());
    expect(e.code).toBe('KW_ERR_UPSTREAM_AUTH');
    expect(e.message).toBe(`cannot get credentials for ${echoServer()} (user "u1"): exec credential plugin "${process.execPath}" failed: error: not logged in, run "login"`);
    expect((await upstreamError(up.connect())).code).toBe('KW_ERR_UPSTREAM_AUTH');
  });

  it('reports a plugin that cannot be started', async () => {
    const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData() }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubewire-no-such-plugin' } });
    const e = await upstreamError(up.connectionOptions());
    expect(e.code).toBe('KW_ERR_UPSTREAM_AUTH');
    expect(e.message).toContain('exec credential plugin "kubewire-no-such-plugin" could not be started: no such file (ENOENT)');
  });

  it('reports a plugin that prints no JSON', async () => {
    const dir = await freshDir();
    const script = await plugin(dir, `process.stdout.write('token: nope');\n`);
    const up = await load({
      kubeconfig: await writeConfig(dir, single({ server: echoServer(), 'certificate-authority-data': caData() }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [script] } })),
    });
    expect((await upstreamError(up.connectionOptions())).message).toContain('did not print an ExecCredential as JSON');
  });
});

describe('choosing the kubeconfig and the context', () => {
  it('merges the files in KUBECONFIG: first definition and first current-context win', async () => {
    const dir = await freshDir();
    const first = await writeConfig(dir, {
      clusters: [{ name: 'shared', cluster: { server: echoServer(), 'certificate-authority-data': caData() } }],
      users: [{ name: 'alice', user: { token: 'alice-token' } }],
      contexts: [{ name: 'one', context: { cluster: 'shared', user: 'alice' } }],
      'current-context': 'one',
    }, 'first.yaml');
    const second = await writeConfig(dir, {
      clusters: [{ name: 'shared', cluster: { server: 'https://10.255.255.1:1' } }],
      users: [{ name: 'bob', user: { token: 'bob-token' } }],
      contexts: [{ name: 'two', context: { cluster: 'shared', user: 'bob', namespace: 'team-b' } }],
      'current-context': 'two',
    }, 'second.yaml');
    const missing = join(dir, 'missing.yaml');
    const env = { KUBECONFIG: [first, missing, second].join(':') };

    const current = await load({ env });
    expect(current.kubeconfigPaths).toEqual([first, second]);
    expect([current.contextName, current.userName, current.namespace]).toEqual(['one', 'alice', null]);

    const two = await load({ env, context: 'two' });
    expect([two.contextName, two.clusterName, two.userName, two.namespace]).toEqual(['two', 'shared', 'bob', 'team-b']);
    expect(two.server.href).toBe(`${echoServer()}/`);
    expect((await viaAgent(two)).authorization).toBe('Bearer bob-token');
  });

  it('prefers --kubeconfig over KUBECONFIG, and KUBECONFIG over ~/.kube/config', async () => {
    const home = await freshDir();
    await mkdir(join(home, '.kube'));
    const homeConfig = await writeConfig(join(home, '.kube'), single({ server: 'https://home.example:6443' }, { token: 'h' }));
    const envConfig = await writeConfig(await freshDir(), single({ server: 'https://env.example:6443' }, { token: 'e' }));
    const flagConfig = await writeConfig(await freshDir(), single({ server: 'https://flag.example:6443' }, { token: 'f' }));
    expect((await load({ env: { HOME: home } })).server.hostname).toBe('home.example');
    expect((await load({ env: { HOME: home, KUBECONFIG: envConfig } })).server.hostname).toBe('env.example');
    const flag = await load({ env: { HOME: home, KUBECONFIG: envConfig }, kubeconfig: flagConfig });
    expect(flag.server.hostname).toBe('flag.example');
    expect(flag.kubeconfigPaths).toEqual([flagConfig]);
    expect(homeConfig).toBe(join(home, '.kube', 'config'));
  });

  it('selects a non-current context with --context, with its namespace', async () => {
    const dir = await freshDir();
    const file = await writeConfig(dir, {
      clusters: [{ name: 'a', cluster: { server: 'https://a.example:6443/prefix/' } }, { name: 'b', cluster: { server: echoServer(), 'certificate-authority-data': caData() } }],
      users: [{ name: 'ua', user: { token: 'a' } }, { name: 'ub', user: { token: 'b' } }],
      contexts: [{ name: 'ctx-a', context: { cluster: 'a', user: 'ua' } }, { name: 'ctx-b', context: { cluster: 'b', user: 'ub', namespace: 'kube-system' } }],
      'current-context': 'ctx-a',
    });
    const a = await load({ kubeconfig: file });
    expect(a.describe()).toBe('https://a.example:6443/prefix (context ctx-a)');
    const b = await load({ kubeconfig: file, context: 'ctx-b' });
    expect([b.contextName, b.clusterName, b.userName, b.namespace]).toEqual(['ctx-b', 'b', 'ub', 'kube-system']);
    expect((await viaAgent(b)).authorization).toBe('Bearer b');
  });
});

describe('kubeconfig errors', () => {
  it('says where it looked when there is no kubeconfig', async () => {
    const home = await freshDir();
    let e = await cliError(loadUpstream({ env: { HOME: home } }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_NOT_FOUND');
    expect(e.message).toBe(`no kubeconfig found: KUBECONFIG is not set and ${join(home, '.kube', 'config')} does not exist; pass --kubeconfig <file> or set KUBECONFIG`);

    e = await cliError(loadUpstream({ env: { KUBECONFIG: `${home}/a:${home}/b` } }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_NOT_FOUND');
    expect(e.message).toBe(`no kubeconfig found: none of the files in KUBECONFIG exist (${home}/a, ${home}/b); fix KUBECONFIG or pass --kubeconfig <file>`);

    e = await cliError(loadUpstream({ env: {}, kubeconfig: join(home, 'nope') }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_NOT_FOUND');
    expect(e.message).toBe(`the kubeconfig ${join(home, 'nope')} given with --kubeconfig does not exist`);
  });

  it('names a kubeconfig that cannot be read', async () => {
    const dir = await freshDir();
    const e = await cliError(loadUpstream({ env: {}, kubeconfig: dir }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_UNREADABLE');
    expect(e.message).toBe(`cannot read kubeconfig ${dir}: is a directory, not a file`);
  });

  it.skipIf(process.getuid?.() === 0)('names a kubeconfig without read permission', async () => {
    const file = await writeConfig(await freshDir(), single({ server: echoServer() }, {}));
    await chmod(file, 0o000);
    const e = await cliError(loadUpstream({ env: {}, kubeconfig: file }));
    expect(e.message).toBe(`cannot read kubeconfig ${file}: permission denied`);
  });

  it('passes on the YAML error with the file name', async () => {
    const dir = await freshDir();
    const file = join(dir, 'config');
    await writeFile(file, 'apiVersion: v1\nclusters: [\n');
    let e = await cliError(loadUpstream({ env: {}, kubeconfig: file }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_PARSE');
    expect(e.message).toMatch(new RegExp(`^kubeconfig ${file} is not valid YAML: unexpected end of the stream`));

    await writeFile(file, '- just\n- a list\n');
    e = await cliError(loadUpstream({ env: {}, kubeconfig: file }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_PARSE');
    expect(e.message).toBe(`kubeconfig ${file} is not a kubeconfig: expected a YAML mapping with clusters, users and contexts`);
  });

  it('lists the contexts when there is no current-context or the context is unknown', async () => {
    const parts = single({ server: echoServer() }, { token: 't' });
    delete parts['current-context'];
    const file = await writeConfig(await freshDir(), parts);
    let e = await cliError(loadUpstream({ env: {}, kubeconfig: file }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_NO_CONTEXT');
    expect(e.message).toBe(`no current-context is set in ${file}; pass --context <name> (known contexts: "ctx1")`);

    e = await cliError(loadUpstream({ env: {}, kubeconfig: file, context: 'prod' }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_UNKNOWN_CONTEXT');
    expect(e.message).toBe(`the context "prod" given with --context is not defined in ${file}; known contexts: "ctx1"`);

    const stale = await writeConfig(await freshDir(), { ...parts, 'current-context': 'gone' });
    e = await cliError(loadUpstream({ env: {}, kubeconfig: stale }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_UNKNOWN_CONTEXT');
    expect(e.message).toBe(`current-context "gone" (set in ${stale}) is not defined in ${stale}; known contexts: "ctx1"`);
  });

  it('names a missing cluster or user', async () => {
    const noCluster = await writeConfig(await freshDir(), { ...single({ server: echoServer() }, { token: 't' }), contexts: [{ name: 'ctx1', context: { cluster: 'elsewhere', user: 'u1' } }] });
    let e = await cliError(loadUpstream({ env: {}, kubeconfig: noCluster }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_MISSING_CLUSTER');
    expect(e.message).toBe(`context "ctx1" names cluster "elsewhere", which is not defined in ${noCluster}; known clusters: "c1"`);

    const noUser = await writeConfig(await freshDir(), { ...single({ server: echoServer() }, { token: 't' }), contexts: [{ name: 'ctx1', context: { cluster: 'c1', user: 'nobody' } }] });
    e = await cliError(loadUpstream({ env: {}, kubeconfig: noUser }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_MISSING_USER');
    expect(e.message).toBe(`context "ctx1" names user "nobody", which is not defined in ${noUser}; known users: "u1"`);
  });

  it('names a cluster without server, but ignores broken entries that are not in use', async () => {
    const dir = await freshDir();
    const file = await writeConfig(dir, {
      clusters: [{ name: 'empty', cluster: { 'insecure-skip-tls-verify': true } }, { name: 'good', cluster: { server: echoServer() } }],
      users: [{ name: 'u1', user: { token: 't' } }],
      contexts: [{ name: 'broken', context: { cluster: 'empty', user: 'u1' } }, { name: 'fine', context: { cluster: 'good', user: 'u1' } }],
      'current-context': 'broken',
    });
    const e = await cliError(loadUpstream({ env: {}, kubeconfig: file }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_NO_SERVER');
    expect(e.message).toBe(`cluster "empty" (used by context "broken") in ${file} has no server; set clusters[].cluster.server to the API server URL`);
    expect((await load({ kubeconfig: file, context: 'fine' })).clusterName).toBe('good');
  });

  it('names an unreadable token-file or certificate file', async () => {
    const dir = await freshDir();
    const tokenFile = join(dir, 'missing-token');
    const file = await writeConfig(dir, single({ server: echoServer() }, { 'token-file': tokenFile }));
    let e = await cliError(loadUpstream({ env: {}, kubeconfig: file }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_TOKEN_FILE');
    expect(e.message).toContain(`token-file ${tokenFile} of user "u1" in ${file}: no such file`);

    const caFile = await writeConfig(await freshDir(), single({ server: echoServer(), 'certificate-authority': 'ca.crt' }, { token: 't' }));
    e = await cliError(loadUpstream({ env: {}, kubeconfig: caFile }));
    expect(e.code).toBe('KW_ERR_KUBECONFIG_FILE_REF');
    expect(e.message).toBe(`certificate-authority ${join(caFile, '..', 'ca.crt')} of cluster "c1" in ${caFile} cannot be read: no such file`);
  });
});

describe('connect()', () => {
  it('gives a TLS socket without h2 even when the server offers it', async () => {
    const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData() }, { token: 't' });
    const socket = (await up.connect()) as TLSSocket;
    expect(socket.encrypted).toBe(true);
    expect(socket.alpnProtocol).toBe(false);
    socket.destroy();
    // The agent offers http/1.1 only.
    expect((await viaAgent(up)).alpn).toBe('http/1.1');
    expect((await viaConnect(up)).seen.alpn).toBe(false);
  });

  it('reports a refused connection', async () => {
    const up = await loadSingle({ server: `https://127.0.0.1:${refusedPort}`, 'certificate-authority-data': caData() }, { token: 't' });
    const e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_REFUSED');
    expect(e.message).toBe(`cannot reach the API server https://127.0.0.1:${refusedPort}: connection refused (ECONNREFUSED)`);
    const viaRequest = await viaAgent(up).then(() => null, (err: unknown) => err);
    expect(viaRequest).toBeInstanceOf(UpstreamError);
  });

  it('reports a certificate from an unknown authority', async () => {
    const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': b64(otherCa.caCertPem) }, { token: 't' });
    const e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_TLS');
    expect(e.message).toMatch(new RegExp(`^TLS handshake with https://127\\.0\\.0\\.1:${echoPort}: certificate signed by unknown authority \\([A-Z_]+\\); check certificate-authority in the kubeconfig$`));
  });

  it('reports a server that does not speak TLS', async () => {
    const up = await loadSingle({ server: `https://127.0.0.1:${plainPort}`, 'certificate-authority-data': caData() }, { token: 't' });
    const e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_TLS');
    expect(e.message).toContain('the server did not answer with TLS');
  });

  it('gives up after the connect timeout', async () => {
    const up = await loadSingle({ server: `https://127.0.0.1:${silentPort}`, 'certificate-authority-data': caData() }, { token: 't' }, { connectTimeoutMs: 300 });
    const e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_TIMEOUT');
    expect(e.message).toBe(`cannot reach the API server https://127.0.0.1:${silentPort}: no answer within 0.3 s (during the TLS handshake)`);
  });

  it('reports a host name that does not resolve', async () => {
    const up = await loadSingle({ server: 'https://kubewire-test.invalid:6443' }, { token: 't' }, { connectTimeoutMs: 5000 });
    const e = await upstreamError(up.connect());
    expect(['KW_ERR_UPSTREAM_DNS', 'KW_ERR_UPSTREAM_TIMEOUT']).toContain(e.code);
    if (e.code === 'KW_ERR_UPSTREAM_DNS') expect(e.message).toMatch(/^cannot reach the API server https:\/\/kubewire-test\.invalid:6443: host name "kubewire-test\.invalid" /);
  });
});

describe('proxy-url', () => {
  it('tunnels connect() and the agent through an HTTP CONNECT proxy', async () => {
    proxied.length = 0;
    const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData(), 'proxy-url': `http://127.0.0.1:${proxyPort}` }, { token: 'via-proxy' });
    expect(up.proxyUrl?.href).toBe(`http://127.0.0.1:${proxyPort}/`);
    const { seen, socket } = await viaConnect(up);
    expect(seen.authorization).toBe('Bearer via-proxy');
    expect((socket as TLSSocket).alpnProtocol).toBe(false);
    expect((await viaAgent(up)).authorization).toBe('Bearer via-proxy');
    expect(proxied).toEqual([`127.0.0.1:${echoPort}`, `127.0.0.1:${echoPort}`]);
  });

  it('tunnels to a plain http:// server too', async () => {
    const up = await loadSingle({ server: `http://127.0.0.1:${plainPort}`, 'proxy-url': `http://127.0.0.1:${proxyPort}` }, {});
    expect((await viaConnect(up)).seen.authorization).toBeNull();
  });

  it('reports a proxy that refuses the tunnel', async () => {
    const up = await loadSingle({ server: `https://localhost:${echoPort}`, 'certificate-authority-data': caData(), 'proxy-url': `http://127.0.0.1:${proxyPort}` }, { token: 't' });
    let e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_PROXY');
    expect(e.message).toBe(`the proxy http://127.0.0.1:${proxyPort} refused to tunnel to localhost:${echoPort} (for https://localhost:${echoPort}): 403 Forbidden`);

    const auth = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData(), 'proxy-url': `http://bad:user@127.0.0.1:${proxyPort}` }, { token: 't' });
    e = await upstreamError(auth.connect());
    expect(e.message).toMatch(/: 407 Proxy Authentication Required; check the user and password in proxy-url$/);
  });

  it('reports a proxy that cannot be reached', async () => {
    const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData(), 'proxy-url': `http://127.0.0.1:${refusedPort}` }, { token: 't' });
    const e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_PROXY');
    expect(e.message).toBe(`cannot reach the proxy http://127.0.0.1:${refusedPort} for ${echoServer()}: connection refused (ECONNREFUSED)`);
  });

  it('rejects socks5 and https proxies as not supported', async () => {
    for (const proxyUrl of ['socks5://127.0.0.1:1080', 'https://127.0.0.1:3128']) {
      const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData(), 'proxy-url': proxyUrl }, { token: 't' });
      const e = await upstreamError(up.connect());
      expect(e.code).toBe('KW_ERR_UPSTREAM_PROXY');
      expect(e.message).toBe(`proxy-url ${proxyUrl.split(':')[0]}://127.0.0.1:${proxyUrl.split(':').pop()} for ${echoServer()} is not supported: kubewire only tunnels through http:// proxies (HTTP CONNECT)`);
      expect((await upstreamError(up.agent())).code).toBe('KW_ERR_UPSTREAM_PROXY');
    }
  });
});

/**
 * A proxy that reads the CONNECT request head and answers with `writes`, one TCP write each,
 * a few milliseconds apart so that they arrive as separate reads; then ends if `end` is set.
 */
async function scriptedProxy(writes: Array<string | Buffer>, end = true): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = track(net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      requests.push(head);
      void (async () => {
        for (const w of writes) {
          if (socket.destroyed) return;
          socket.write(w);
          await new Promise((resolve) => setTimeout(resolve, 15));
        }
        if (end) socket.end();
      })();
    };
    socket.on('data', onData);
  }));
  scripted.push(server);
  return { url: `http://127.0.0.1:${await listen(server)}`, requests };
}

async function readToEnd(socket: Duplex): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

describe('CONNECT answers (RFC 9110 §9.3.6)', () => {
  it('reads a head that arrives in pieces and keeps the bytes after it for a plain http:// server', async () => {
    const after = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const p = await scriptedProxy(['HTTP/1.1 200 Connection', ' established\r\nProxy-Agent: t', 'est\r\n\r', `\n${after}`]);
    const up = await loadSingle({ server: 'http://127.0.0.1:9', 'proxy-url': p.url.replace('http://', 'http://a%20b:p%3Aw@') }, {});
    expect(await readToEnd(await up.connect())).toBe(after);
    expect(p.requests).toEqual([`CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nProxy-Authorization: Basic ${b64('a b:p:w')}\r\n\r\n`]);
  });

  it('brackets an IPv6 literal in the CONNECT authority', async () => {
    const p = await scriptedProxy(['HTTP/1.1 403 Forbidden\r\n\r\n']);
    const up = await loadSingle({ server: 'https://[::1]:6443', 'certificate-authority-data': caData(), 'proxy-url': p.url }, { token: 't' });
    const e = await upstreamError(up.connect());
    expect(e.message).toBe(`the proxy ${p.url} refused to tunnel to [::1]:6443 (for https://[::1]:6443): 403 Forbidden`);
    expect(p.requests[0]).toMatch(/^CONNECT \[::1\]:6443 HTTP\/1\.1\r\nHost: \[::1\]:6443\r\n\r\n$/);
  });

  it('reports a refusal without a reason phrase', async () => {
    const p = await scriptedProxy(['HTTP/1.0 502\r\n\r\n']);
    const up = await loadSingle({ server: 'http://127.0.0.1:9', 'proxy-url': p.url }, {});
    const e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_PROXY');
    expect(e.message).toBe(`the proxy ${p.url} refused to tunnel to 127.0.0.1:9 (for http://127.0.0.1:9): 502`);
  });

  it('reports an answer that is not HTTP/1.x', async () => {
    for (const answer of ['SSH-2.0-OpenSSH_9.6\r\n\r\n', 'HTTP/2.0 200 OK\r\n\r\n', `${'x'.repeat(79)}\r\n\r\n`, `<html>${'y'.repeat(200)}\r\n\r\n`]) {
      const p = await scriptedProxy([answer]);
      const up = await loadSingle({ server: 'http://127.0.0.1:9', 'proxy-url': p.url }, {});
      const e = await upstreamError(up.connect());
      expect(e.code).toBe('KW_ERR_UPSTREAM_PROXY');
      expect(e.message).toBe(`the proxy ${p.url} did not answer CONNECT with HTTP (${JSON.stringify(answer.split('\r\n')[0]!.slice(0, 80))})`);
    }
  });

  it('reports a head that does not end within 16 KiB', async () => {
    const p = await scriptedProxy(['HTTP/1.1 200 OK\r\n', `X-Filler: ${'a'.repeat(16 * 1024)}`], false);
    const up = await loadSingle({ server: 'http://127.0.0.1:9', 'proxy-url': p.url }, {});
    const e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_PROXY');
    expect(e.message).toBe(`the proxy ${p.url} sent a CONNECT response head over 16384 bytes`);
  });

  it('reports a proxy that closes before answering, or answers too late', async () => {
    let p = await scriptedProxy(['HTTP/1.1 200 OK\r\n']);
    let up = await loadSingle({ server: 'http://127.0.0.1:9', 'proxy-url': p.url }, {});
    let e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_PROXY');
    expect(e.message).toBe(`the proxy ${p.url} closed the connection before answering CONNECT 127.0.0.1:9 (for http://127.0.0.1:9)`);

    p = await scriptedProxy([], false);
    up = await loadSingle({ server: 'http://127.0.0.1:9', 'proxy-url': p.url }, {}, { connectTimeoutMs: 300 });
    e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_TIMEOUT');
    expect(e.message).toBe('cannot reach the API server http://127.0.0.1:9: no answer within 0.3 s (waiting for the proxy to answer CONNECT)');
  });

  it('refuses bytes after the head when TLS must start', async () => {
    const p = await scriptedProxy(['HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01']);
    const up = await loadSingle({ server: echoServer(), 'certificate-authority-data': caData(), 'proxy-url': p.url }, { token: 't' });
    const e = await upstreamError(up.connect());
    expect(e.code).toBe('KW_ERR_UPSTREAM_PROXY');
    expect(e.message).toBe(`the proxy ${p.url} sent data before the TLS handshake with ${echoServer()}`);
  });
});
