/**
 * `kubewire gateway`: the proxy's relay, observer, session model, diagnosis and audit recorder
 * (proxy-setup.ts) serving a whole team in front of the cluster, for a long time. Each user is
 * admitted by their own credential (src/gateway/gateway-admission.ts), every session is
 * audited into the store under that user, and the process speaks to the cluster's tooling: JSON
 * lines on stdout for the log pipeline, `/healthz`, `/readyz` and `/metrics` on a side port.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { AuditFailMode } from '../audit/audit-sink.js';
import type { RedactStdinMode } from '../audit/stdin-redactor.js';
import { DEFAULT_IDENTITY_CACHE, GatewayAdmission, type IdentityMode } from '../gateway/gateway-admission.js';
import { writeGatewayKubeconfig } from '../gateway/gateway-kubeconfig.js';
import { HealthServer, readiness } from '../gateway/health-server.js';
import { JsonLog, LogRoute } from '../gateway/json-log.js';
import { backlogStatus, GatewayMetrics } from '../gateway/metrics.js';
import { CliError, describeFsError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { defaultReplica, describeStore, parseStoreSpec, REPLICA_NAME, type StoreSpec } from '../store/store-spec.js';
import { parseSize, type AuditSettings } from './audit-setup.js';
import { parseListen } from './listen-address.js';
import { startProxy, type ServingOptions } from './proxy-setup.js';
import { waitForSignal } from './signals.js';
import { stateDir } from './state-dir.js';

export interface GatewayOptions {
  upstreamKubeconfig?: string;
  context?: string;
  listen: string;
  metricsListen: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  identity: IdentityMode;
  clientCa?: string;
  store?: string;
  name?: string;
  writeKubeconfig?: string;
  serverUrl?: string;
  auditFail?: AuditFailMode;
  auditKeyFile?: string;
  auditSigningKey?: string;
  redactStdin?: RedactStdinMode;
  maxSize?: string;
  logBuffer?: string;
}

/** How much of the JSON log may wait for stdout by default (`--log-buffer`). */
export const DEFAULT_LOG_BUFFER = 4 * 1024 * 1024;

/** `--store DIR` or `--store postgres://…`; a files store under the state directory by default. */
export function parseStore(text: string | undefined): StoreSpec {
  if (text === undefined || text === '') return { kind: 'files', dir: resolve(stateDir(), 'gateway-store') };
  return parseStoreSpec(text);
}

export function gatewayAuditSettings(opts: GatewayOptions): AuditSettings {
  const replica = opts.name ?? defaultReplica();
  if (!REPLICA_NAME.test(replica)) throw new CliError('KW_ERR_USAGE', `--name ${replica}: expected letters, digits, '.', '_' or '-' (at most 63), starting with a letter or digit`, 2);
  return {
    failMode: opts.auditFail ?? 'closed',
    keyFile: opts.auditKeyFile ?? null,
    redactStdin: opts.redactStdin ?? 'none',
    maxSize: opts.maxSize === undefined ? null : parseSize(opts.maxSize),
    signingKeyFile: opts.auditSigningKey ?? null,
    store: parseStore(opts.store),
    replica,
  };
}

export async function runGateway(opts: GatewayOptions, out: Output): Promise<number> {
  // Lines go to the observer's worker, which writes stdout, from the moment it runs.
  const route = new LogRoute(out);
  const log = new JsonLog(route);
  const logBuffer = opts.logBuffer === undefined ? DEFAULT_LOG_BUFFER : parseSize(opts.logBuffer, '--log-buffer', 4096);
  const listen = parseListen(opts.listen);
  const metricsListen = parseListen(opts.metricsListen);
  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw new CliError('KW_ERR_USAGE', '--tls-cert and --tls-key go together', 2);
  if (opts.clientCa && opts.identity !== 'impersonate') throw new CliError('KW_ERR_USAGE', '--client-ca only applies to --identity impersonate', 2);
  const audit = gatewayAuditSettings(opts);
  const serverUrl = opts.serverUrl ? parseServerUrl(opts.serverUrl) : null;
  const given = opts.tlsCert ? { certPem: await readPem(opts.tlsCert, '--tls-cert'), keyPem: await readPem(opts.tlsKey!, '--tls-key'), caCertPem: opts.tlsCa ? await readPem(opts.tlsCa, '--tls-ca') : null } : null;
  const clientCaPem = opts.clientCa ? await readPem(opts.clientCa, '--client-ca') : undefined;
  const names = [hostname(), listen.host, ...(serverUrl ? [serverUrl.hostname] : [])];
  let metrics: GatewayMetrics | null = null;
  const serving: ServingOptions = {
    withoutCredentials: opts.identity === 'passthrough',
    admission: (upstream) => new GatewayAdmission({
      mode: opts.identity, upstream, clientCa: Boolean(clientCaPem), cache: DEFAULT_IDENTITY_CACHE, onLookup: (result) => metrics?.identityLookup(result),
    }),
    tls: given ?? { names },
    ...(clientCaPem ? { clientCaPem } : {}),
    stdoutLog: { limit: logBuffer, attach: (observer) => route.through(observer) },
  };
  const running = await startProxy({ ...(opts.upstreamKubeconfig ? { kubeconfig: opts.upstreamKubeconfig } : {}), ...(opts.context ? { context: opts.context } : {}), payload: 'full', audit, serving }, listen, null, log);
  metrics = new GatewayMetrics(backlogStatus(() => running.observer.backlog), () => running.proxy.openConnections, () => running.observer.droppedLogLines);
  // The log lines of these reports are written on the observer's thread; here they are counted.
  running.observer.onReports((r) => metrics!.report(r));
  let health: HealthServer;
  try {
    health = await HealthServer.start(metricsListen.host, metricsListen.port, {
      notReady: readiness(running.observer),
      metrics: () => metrics!.text(),
    });
  } catch (e) {
    await running.shutdown('start failed');
    throw new CliError('KW_ERR_LISTEN', `cannot listen on ${metricsListen.host}:${metricsListen.port} (--metrics-listen): ${(e as Error).message}`, 1);
  }
  const server = serverUrl?.toString().replace(/\/$/, '') ?? reachableUrl(running.proxy.url);
  if (opts.writeKubeconfig) {
    try {
      await writeGatewayKubeconfig(opts.writeKubeconfig, { upstream: running.upstream, server, caCertPem: running.proxy.caCertPem, withoutOwnUser: opts.identity === 'impersonate' });
    } catch (e) {
      await health.close();
      await running.shutdown('start failed');
      throw new CliError('KW_ERR_KUBECONFIG_WRITE', `cannot write the kubeconfig ${opts.writeKubeconfig}: ${(e as Error).message}`, 1);
    }
  }
  log.info('gateway listening', {
    listen: running.proxy.url, server, metrics: health.url, upstream: running.upstream.describe(), identity: opts.identity,
    store: describeStore(audit.store!), replica: audit.replica, auditLog: running.log.path, kubeconfig: opts.writeKubeconfig ?? null,
    ...(given ? {} : { generatedCa: running.proxy.caCertPem }),
  });
  const signal = await waitForSignal();
  log.info('gateway stopping', { reason: signal });
  await health.close();
  await running.shutdown(signal);
  log.info('gateway stopped', { auditLog: running.log.path });
  return 0;
}

async function readPem(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError('KW_ERR_USAGE', `${flag} ${file}: ${describeFsError(e)}`, 2);
  }
}

function parseServerUrl(text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new CliError('KW_ERR_USAGE', `--server-url ${text}: expected a URL such as https://kubewire.example.internal:8443`, 2);
  }
  if (u.protocol !== 'https:') throw new CliError('KW_ERR_USAGE', `--server-url ${text}: the gateway serves https://`, 2);
  return u;
}

/** The listen URL, with a wildcard address (0.0.0.0, ::) replaced by this host's name. */
function reachableUrl(url: string): string {
  return url.replace(/^https:\/\/(0\.0\.0\.0|\[::\])(?=:)/, `https://${hostname()}`);
}
