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
import { isDemoRole, DEMO_ROLES, PRIVILEGED_GROUP, type DemoRole } from './rbac.js';
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
  users?: (string | UserSpec)[];
  /** The groups of those users: `NAME=GROUP[,GROUP…]` (repeatable, adding up). */
  userGroups?: string[];
  /** Roles bound to groups: `GROUP=ROLE` or objects (a ClusterRoleBinding to the Group). */
  groups?: (string | GroupSpec)[];
  /** What `/version` says and how upgrades are authorized: `1.30` … `1.36`. Default 1.33. */
  serverVersion?: string;
}

/** The server versions the demo cluster can play. */
export const SERVER_MINORS = { min: 30, max: 36 } as const;

export interface UserSpec {
  name: string;
  role: DemoRole;
  groups?: string[];
}

export interface GroupSpec {
  group: string;
  role: DemoRole;
}

/** What a group name may be here: anything but empty, white space, `=` and `,` (the flags' separators). */
const GROUP_NAME = /^[^\s=,]+$/;

/** `jane=view` → a user; throws with a clear message otherwise. */
export function parseUserSpec(spec: string | UserSpec): UserSpec {
  if (typeof spec !== 'string') return spec;
  const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)=(.+)$/.exec(spec.trim());
  if (!m) throw new Error(`--user takes NAME=ROLE (a lower-case name), not "${spec}"`);
  return { name: m[1]!, role: knownRole(m[3]!, `user ${m[1]}`) };
}

/** `carol=ops,dev` → a user's groups; throws with a clear message otherwise. */
export function parseUserGroupsSpec(spec: string): { name: string; groups: string[] } {
  const m = /^([^=]+)=(.+)$/.exec(spec.trim());
  const groups = m ? m[2]!.split(',').map((g) => g.trim()) : [];
  if (!m || groups.some((g) => !GROUP_NAME.test(g))) throw new Error(`--user-groups takes NAME=GROUP[,GROUP…], not "${spec}"`);
  return { name: m[1]!.trim(), groups };
}

/** `ops=admin` → the role bound to a group; throws with a clear message otherwise. */
export function parseGroupSpec(spec: string | GroupSpec): GroupSpec {
  if (typeof spec !== 'string') return spec;
  const m = /^([^=]+)=(.+)$/.exec(spec.trim());
  const group = m ? m[1]!.trim() : '';
  if (!m || !GROUP_NAME.test(group)) throw new Error(`--group takes GROUP=ROLE, not "${spec}"`);
  if (group === PRIVILEGED_GROUP) throw new Error(`--group cannot bind ${PRIVILEGED_GROUP}: it is the privileged group, allowed everything`);
  return { group, role: knownRole(m[2]!.trim(), `group ${group}`) };
}

function knownRole(role: string, of: string): DemoRole {
  if (!isDemoRole(role)) throw new Error(`unknown role "${role}" for ${of}; known: ${Object.keys(DEMO_ROLES).join(', ')}`);
  return role;
}

/** The users with their groups added (`--user-groups`); throws for a name that is no user. */
export function withUserGroups(users: UserSpec[], specs: string[]): UserSpec[] {
  const out = users.map((u) => ({ ...u, groups: [...(u.groups ?? [])] }));
  for (const spec of specs) {
    const { name, groups } = parseUserGroupsSpec(spec);
    const user = out.find((u) => u.name === name);
    if (!user) throw new Error(`--user-groups names ${name}, which no --user adds`);
    for (const g of groups) if (!user.groups.includes(g)) user.groups.push(g);
  }
  return out;
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
  /** The users added with `users`, each with its token and groups. */
  readonly users: { name: string; role: DemoRole; groups: string[]; token: string }[] = [];
  /**
   * The roles bound to groups. The API server reads it on every request, so
   * `groupBindings.delete('ops')` is a `kubectl delete clusterrolebinding` for the next one.
   */
  readonly groupBindings = new Map<string, DemoRole>();
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
    for (const u of withUserGroups((options.users ?? []).map(parseUserSpec), options.userGroups ?? [])) {
      if (cluster.users.some((x) => x.name === u.name) || u.name === DEFAULT_KUBECONFIG_NAME) throw new Error(`user ${u.name} is given twice, or is the default context's name`);
      cluster.users.push({ name: u.name, role: u.role, groups: u.groups ?? [], token: randomBytes(32).toString('base64url') });
    }
    for (const spec of options.groups ?? []) {
      const g = parseGroupSpec(spec);
      if (cluster.groupBindings.has(g.group)) throw new Error(`group ${g.group} is bound twice`);
      cluster.groupBindings.set(g.group, g.role);
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
      // A token authenticator's groups, then system:authenticated, which the API server adds (authenticator.go).
      users: this.users.map((u): DemoCredential => ({ token: u.token, user: { name: u.name, uid: uidOf(u.name), groups: [...u.groups.filter((g) => g !== 'system:authenticated'), 'system:authenticated'], role: u.role } })),
      groups: this.groupBindings,
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
