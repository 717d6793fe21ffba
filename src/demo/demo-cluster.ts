/**
 * The embedded demo cluster: an HTTPS API server on loopback that real kubectl accepts, with
 * demo pods whose commands run as local processes in per-pod sandbox directories, real local
 * services behind their ports, and switchable gateway profiles.
 */
import { randomBytes } from 'node:crypto';
import { AttachHub } from './attach-hub.js';
import { DemoApiServer } from './api-server.js';
import type { DemoPod } from './contracts.js';
import { demoPods } from './demo-pods.js';
import { GatewayProfiles } from './gateway-profiles.js';
import { writeKubeconfig } from '../kubeconfig/write-kubeconfig.js';
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
    await writeKubeconfig(path, { server: this.url, caCertPem: this.caCertPem, token: this.token, namespace: 'default' });
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
