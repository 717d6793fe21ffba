/**
 * The embedded demo cluster: an HTTPS API server on loopback that real kubectl accepts, with
 * demo pods whose commands run as local processes in per-pod sandbox directories, real local
 * services behind their ports, and switchable gateway profiles.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AttachHub } from './attach-hub.js';
import { DemoApiServer, type DemoCredential, type ServerVersion } from './api-server.js';
import type { DemoPod } from './contracts.js';
import { demoPods } from './demo-pods.js';
import { GatewayProfiles } from './gateway-profiles.js';
import { isDemoRole, DEMO_ROLES, type DemoRole } from './rbac.js';
import { DEFAULT_KUBECONFIG_NAME, writeKubeconfig } from '../kubeconfig/write-kubeconfig.js';
import { PodServices } from './pod-services.js';
import { createStartCommand } from './process-runner.js';
import { PodSandbox } from './sandbox.js';
import { createDemoTls } from '../tls/local-ca.js';
import { createGatewayFront, createUpgradeRouter } from './upgrade-router.js';

export interface DemoClusterOptions {
  host?: string;
  port?: number;
  gateway?: string[];
  /** Write a kubeconfig for the cluster here (mode 0600). */
  kubeconfigPath?: string;
  /** Attach/log tick interval; tests shorten it. */
  tickMs?: number;
  /** More users (`NAME=ROLE` or objects), each with its own token and kubeconfig context. */
  users?: (string | { name: string; role: DemoRole })[];
  /** What `/version` says and how upgrades are authorized: `1.30` … `1.36`. Default 1.33. */
  serverVersion?: string;
}

/** The server versions the demo cluster can play. */
export const SERVER_MINORS = { min: 30, max: 36 } as const;

/** `jane=view` → a user; throws with a clear message otherwise. */
export function parseUserSpec(spec: string | { name: string; role: DemoRole }): { name: string; role: DemoRole } {
  if (typeof spec !== 'string') return spec;
  const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)=(.+)$/.exec(spec.trim());
  if (!m) throw new Error(`--user takes NAME=ROLE (a lower-case name), not "${spec}"`);
  const role = m[3]!;
  if (!isDemoRole(role)) throw new Error(`unknown role "${role}" for user ${m[1]}; known: ${Object.keys(DEMO_ROLES).join(', ')}`);
  return { name: m[1]!, role };
}

/** `1.35` (or `v1.35.2`) → the version `/version` reports; throws outside 1.30 … 1.36. */
export function parseServerVersion(spec: string): ServerVersion {
  const m = /^v?1\.(\d+)(?:\.(\d+))?$/.exec(spec.trim());
  const minor = m ? Number(m[1]) : NaN;
  if (!m || minor < SERVER_MINORS.min || minor > SERVER_MINORS.max) throw new Error(`--server-version takes 1.${SERVER_MINORS.min} … 1.${SERVER_MINORS.max}, not "${spec}"`);
  return { major: '1', minor: String(minor), gitVersion: `v1.${minor}.${m[2] ?? '0'}` };
}

export class DemoCluster {
  readonly profiles: GatewayProfiles;
  readonly pods: DemoPod[];
  url = '';
  host = '';
  port = 0;
  kubeconfigPath: string | null = null;
  caCertPem = '';
  readonly token = randomBytes(32).toString('base64url');
  /** The users added with `users`, each with its token. */
  readonly users: { name: string; role: DemoRole; token: string }[] = [];
  version: ServerVersion | undefined;
  /** How many upgrades became what (`tunnel`, `spdy v4.channel.k8s.io`, `refused 403`, …). */
  readonly served = new Map<string, number>();
  private sandbox: PodSandbox | null = null;
  private hub: AttachHub | null = null;
  private services: PodServices | null = null;
  private api: DemoApiServer | null = null;

  private constructor(gateway: string[]) {
    this.profiles = new GatewayProfiles(gateway);
    this.pods = demoPods();
  }

  static async start(options: DemoClusterOptions = {}): Promise<DemoCluster> {
    const cluster = new DemoCluster(options.gateway ?? []);
    for (const spec of options.users ?? []) {
      const u = parseUserSpec(spec);
      if (cluster.users.some((x) => x.name === u.name) || u.name === DEFAULT_KUBECONFIG_NAME) throw new Error(`user ${u.name} is given twice, or is the default context's name`);
      cluster.users.push({ ...u, token: randomBytes(32).toString('base64url') });
    }
    if (options.serverVersion !== undefined) cluster.version = parseServerVersion(options.serverVersion);
    try {
      await cluster.boot(options);
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  private async boot(options: DemoClusterOptions): Promise<void> {
    const tls = await createDemoTls();
    this.caCertPem = tls.caCertPem;
    this.sandbox = await PodSandbox.create(this.pods);
    this.hub = new AttachHub(this.pods, options.tickMs !== undefined ? { tickMs: options.tickMs } : {});
    this.hub.start();
    this.services = new PodServices(this.pods);
    await this.services.start();
    const hub = this.hub;
    this.api = new DemoApiServer({
      tls: { certPem: tls.certPem, keyPem: tls.keyPem },
      token: this.token,
      users: this.users.map((u): DemoCredential => ({ token: u.token, user: { name: u.name, uid: uidOf(u.name), groups: ['system:authenticated'], role: u.role } })),
      ...(this.version ? { version: this.version } : {}),
      pods: this.pods,
      logs: (pod, container, opts) => hub.logs(pod, container, opts),
      onUpgrade: createUpgradeRouter({
        profiles: this.profiles,
        startCommand: createStartCommand(this.sandbox, hub),
        dial: this.services.dial,
        onServed: (what) => this.count(what),
      }),
      gateway: createGatewayFront(this.profiles, (what) => this.count(what)),
    });
    const addr = await this.api.listen(options.host ?? '127.0.0.1', options.port ?? 0);
    this.url = addr.url;
    this.host = addr.host;
    this.port = addr.port;
    if (options.kubeconfigPath) await this.writeKubeconfig(options.kubeconfigPath);
  }

  private count(what: string): void {
    this.served.set(what, (this.served.get(what) ?? 0) + 1);
  }

  /** Writes a kubeconfig (mode 0600) that points kubectl at this cluster with its token. */
  async writeKubeconfig(path: string): Promise<void> {
    await writeKubeconfig(path, { server: this.url, caCertPem: this.caCertPem, token: this.token, namespace: 'default', users: this.users.map(({ name, token }) => ({ name, token })) });
    this.kubeconfigPath = path;
  }

  async stop(): Promise<void> {
    await this.api?.close();
    this.hub?.stop();
    await this.services?.stop();
    await this.sandbox?.dispose();
    this.api = null;
    this.hub = null;
    this.services = null;
    this.sandbox = null;
  }
}

/** A stable, UUID-shaped uid for a user name. */
function uidOf(name: string): string {
  return createHash('sha256').update(`kubewire-demo-user:${name}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5');
}
