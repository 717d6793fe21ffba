/**
 * Real gateways (nginx, HAProxy, Apache httpd, Squid) for integration tests. Each helper writes
 * its config into a temporary directory, starts the gateway in the foreground as a child
 * process listening on 127.0.0.1 only, waits (bounded) until its port accepts connections, and
 * stops it by PID. A missing binary skips the test with a clear message on a user's machine and
 * fails under CI (CI=true).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeconfigText } from '../../src/kubeconfig/write-kubeconfig.js';
import { createDemoTls } from '../../src/tls/local-ca.js';

export type GatewayName = 'nginx' | 'haproxy' | 'apache2' | 'squid';

const SEARCH = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin', '/sbin', '/bin'];

/** The gateway's binary, or null; under CI a missing binary throws. */
export function gatewayBinary(name: GatewayName): string | null {
  const found = SEARCH.map((d) => join(d, name)).find((p) => existsSync(p)) ?? null;
  if (!found) {
    const msg = `${name} not found in ${SEARCH.join(', ')} (Debian: apt-get install -y ${name})`;
    if (process.env['CI'] === 'true') throw new Error(msg);
    console.warn(`skipping tests that need ${msg}`);
  }
  return found;
}

export const APACHE_MODULES = '/usr/lib/apache2/modules';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export interface Gateway {
  name: GatewayName;
  port: number;
  dir: string;
  pid: number;
  /** What the gateway wrote on stdout/stderr, then its error and access logs when it has them. */
  output(): string;
  stop(): Promise<void>;
}

export interface GatewayTls {
  caCertPem: string;
  certFile: string;
  keyFile: string;
  /** Certificate and key in one file (HAProxy's `crt`). */
  pemFile: string;
}

/** A fresh temporary directory for one gateway's config, logs and pid file. */
export function gatewayDir(name: GatewayName): string {
  const dir = mkdtempSync(join(tmpdir(), `kubewire-${name}-`));
  // Squid and Apache drop root privileges; let them write their logs and runtime files here.
  chmodSync(dir, 0o777);
  return dir;
}

/** A loopback server certificate (IP SAN 127.0.0.1) and its CA, written into `dir`. */
export async function writeGatewayTls(dir: string): Promise<GatewayTls> {
  const tls = await createDemoTls();
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  const pemFile = join(dir, 'server.pem');
  writeFileSync(certFile, tls.certPem, { mode: 0o644 });
  writeFileSync(keyFile, tls.keyPem, { mode: 0o600 });
  writeFileSync(pemFile, tls.certPem.trimEnd() + '\n' + tls.keyPem, { mode: 0o600 });
  return { caCertPem: tls.caCertPem, certFile, keyFile, pemFile };
}

/** Writes a kubeconfig for kubewire's upstream: `server`, its CA and token, optionally a proxy-url. */
export function writeUpstreamKubeconfig(file: string, opts: { server: string; caCertPem: string; token: string; proxyUrl?: string }): void {
  let text = kubeconfigText({ server: opts.server, caCertPem: opts.caCertPem, token: opts.token, namespace: 'default' });
  if (opts.proxyUrl) text = text.replace(/^( {4}server: .*)$/m, `$1\n    proxy-url: ${JSON.stringify(opts.proxyUrl)}`);
  writeFileSync(file, text, { mode: 0o600 });
}

/**
 * Spawns the gateway in the foreground and waits (bounded) for its port. On failure the child
 * is killed by PID and the error carries its output.
 */
async function launch(name: GatewayName, bin: string, args: string[], dir: string, port: number, logs: string[], waitMs = 10_000): Promise<Gateway> {
  const child: ChildProcess = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  const closed = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.once('error', (e) => (out += `\nspawn error: ${e.message}`));
  const output = (): string => {
    let text = out;
    for (const f of logs) if (existsSync(f)) text += `\n--- ${f}\n${readFileSync(f, 'utf8')}`;
    return text;
  };
  const stop = async (): Promise<void> => {
    if (!exited && child.pid) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          if (!exited && child.pid) process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 5000);
      await closed;
      clearTimeout(t);
    }
  };
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (exited) {
      const text = output();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${name} exited before listening on 127.0.0.1:${port}: ${text.slice(-2000)}`);
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      const text = output();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${waitMs} ms: ${text.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, port, dir, pid: child.pid!, output, stop: async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  } };
}

/** The host:port of an https URL. */
function hostPort(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '443'}`;
}

// ---------------------------------------------------------------------------------------------
// nginx

export interface NginxOptions {
  /** The cluster's https URL; TLS verification towards it is off. */
  upstream: string;
  /** Add `proxy_http_version 1.1` and the Upgrade/Connection headers. */
  upgrade: boolean;
}

export async function startNginx(bin: string, opts: NginxOptions): Promise<Gateway & { tls: GatewayTls }> {
  const dir = gatewayDir('nginx');
  const tls = await writeGatewayTls(dir);
  const port = await freePort();
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  const upgrade = opts.upgrade
    ? ['      proxy_http_version 1.1;', '      proxy_set_header Upgrade $http_upgrade;', '      proxy_set_header Connection "upgrade";']
    : [];
  const conf = [
    'daemon off;',
    'master_process off;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log info;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${dir}/access.log;`,
    `  client_body_temp_path ${dir}/client_body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi;`,
    `  scgi_temp_path ${dir}/scgi;`,
    '  server {',
    `    listen 127.0.0.1:${port} ssl;`,
    `    ssl_certificate ${tls.certFile};`,
    `    ssl_certificate_key ${tls.keyFile};`,
    '    location / {',
    `      proxy_pass ${opts.upstream.replace(/\/$/, '')};`,
    '      proxy_ssl_verify off;',
    '      proxy_buffering off;',
    ...upgrade,
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const gw = await launch('nginx', bin, ['-p', dir, '-e', join(dir, 'error.log'), '-c', file], dir, port, [join(dir, 'error.log'), join(dir, 'access.log')]);
  return { ...gw, tls };
}

// ---------------------------------------------------------------------------------------------
// HAProxy

export interface HaproxyOptions {
  upstream: string;
  /** `timeout tunnel`, e.g. `2s` or `1h`. */
  tunnelTimeout: string;
  /** `timeout client` and `timeout server`. Default 30s. */
  clientServerTimeout?: string;
}

export async function startHaproxy(bin: string, opts: HaproxyOptions): Promise<Gateway & { tls: GatewayTls }> {
  const dir = gatewayDir('haproxy');
  const tls = await writeGatewayTls(dir);
  const port = await freePort();
  const cs = opts.clientServerTimeout ?? '30s';
  const conf = [
    'global',
    '  maxconn 256',
    '  log stderr format raw local0 info',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  timeout connect 5s',
    `  timeout client ${cs}`,
    `  timeout server ${cs}`,
    `  timeout tunnel ${opts.tunnelTimeout}`,
    'frontend kube',
    `  bind 127.0.0.1:${port} ssl crt ${tls.pemFile} alpn http/1.1`,
    '  default_backend api',
    'backend api',
    `  server api ${hostPort(opts.upstream)} ssl verify none alpn http/1.1`,
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, conf);
  const gw = await launch('haproxy', bin, ['-db', '-f', file], dir, port, []);
  return { ...gw, tls };
}

// ---------------------------------------------------------------------------------------------
// Apache httpd (mod_proxy, mod_proxy_http, mod_proxy_wstunnel)

export interface ApacheOptions {
  upstream: string;
  /** The ProxyPass `upgrade=` value: `websocket` or `ANY`. */
  upgrade: string;
}

export async function startApache(bin: string, opts: ApacheOptions): Promise<Gateway & { tls: GatewayTls }> {
  const dir = gatewayDir('apache2');
  const tls = await writeGatewayTls(dir);
  const port = await freePort();
  const mods = ['mpm_event', 'authz_core', 'unixd', 'log_config' /* the last two are built in on Debian: skipped when absent */, 'socache_shmcb', 'ssl', 'proxy', 'proxy_http', 'proxy_wstunnel'];
  const loads = mods
    .filter((m) => existsSync(join(APACHE_MODULES, `mod_${m}.so`)))
    .map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`);
  const root = process.getuid?.() === 0;
  const upstream = opts.upstream.replace(/\/$/, '');
  const conf = [
    `ServerRoot ${dir}`,
    `DefaultRuntimeDir ${dir}`,
    `PidFile ${dir}/httpd.pid`,
    `ErrorLog ${dir}/error.log`,
    'LogLevel warn',
    'LogFormat "%h %t \\"%r\\" %>s %B" gateway',
    `CustomLog ${dir}/access.log gateway`,
    'ServerName 127.0.0.1',
    `Listen 127.0.0.1:${port}`,
    ...loads,
    ...(root ? ['User www-data', 'Group www-data'] : []),
    'StartServers 1',
    'ServerLimit 1',
    'ThreadsPerChild 50',
    'MaxRequestWorkers 50',
    'MinSpareThreads 5',
    'MaxSpareThreads 50',
    `SSLSessionCache shmcb:${dir}/ssl_scache(512000)`,
    'SSLEngine on',
    `SSLCertificateFile ${tls.certFile}`,
    `SSLCertificateKeyFile ${tls.keyFile}`,
    'SSLProtocol -all +TLSv1.2 +TLSv1.3',
    'SSLProxyEngine on',
    'SSLProxyVerify none',
    'SSLProxyCheckPeerCN off',
    'SSLProxyCheckPeerName off',
    'SSLProxyCheckPeerExpire off',
    'ProxyRequests off',
    'ProxyTimeout 60',
    `ProxyPass / ${upstream}/ upgrade=${opts.upgrade}`,
    `ProxyPassReverse / ${upstream}/`,
    '',
  ].join('\n');
  const file = join(dir, 'httpd.conf');
  writeFileSync(file, conf);
  const gw = await launch('apache2', bin, ['-f', file, '-DFOREGROUND'], dir, port, [join(dir, 'error.log'), join(dir, 'access.log')]);
  return { ...gw, tls };
}

// ---------------------------------------------------------------------------------------------
// Squid (a forward proxy reached through the kubeconfig's proxy-url)

export interface SquidOptions {
  /** Allow CONNECT to this port on 127.0.0.1, or deny every CONNECT. */
  connectPort: number | null;
}

export async function startSquid(bin: string, opts: SquidOptions): Promise<Gateway> {
  const dir = gatewayDir('squid');
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const conf = [
    `http_port 127.0.0.1:${port}`,
    `pid_filename ${dir}/squid.pid`,
    `cache_log ${dir}/cache.log`,
    `access_log stdio:${dir}/access.log`,
    'cache_store_log none',
    `coredump_dir ${dir}`,
    'cache deny all',
    'cache_mem 8 MB',
    'shutdown_lifetime 0 seconds',
    ...(root ? ['cache_effective_user proxy', 'cache_effective_group proxy'] : []),
    'acl loopback src 127.0.0.1/32',
    'acl CONNECT method CONNECT',
    ...(opts.connectPort !== null
      ? [`acl kube_port port ${opts.connectPort}`, 'http_access allow CONNECT loopback kube_port']
      : []),
    'http_access deny all',
    '',
  ].join('\n');
  const file = join(dir, 'squid.conf');
  writeFileSync(file, conf);
  return launch('squid', bin, ['-N', '-f', file], dir, port, [join(dir, 'cache.log'), join(dir, 'access.log')], 15_000);
}
