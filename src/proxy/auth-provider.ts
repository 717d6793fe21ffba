/**
 * users[].user.auth-provider (oidc, gcp, azure, and client-node's own exec/tokenFile forms):
 * the one credential source still evaluated by @kubernetes/client-node, because each provider
 * is a protocol of its own (OIDC token refresh, gcloud's cmd-path and jsonpath output). The
 * library is imported when the first connection needs a credential, never for a kubeconfig
 * without an auth-provider. The KubeConfig is kept: the providers cache and refresh their
 * tokens in it.
 */
import type https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Cluster, User } from '../kubeconfig/kubeconfig-files.js';

export class AuthProviderCredentials {
  private kc: Promise<KubeConfig> | null = null;

  constructor(private readonly cluster: Cluster, private readonly user: User) {}

  /** The Authorization header value the provider gives, or null when it gives none. */
  async authorization(): Promise<string | null> {
    this.kc ??= this.load().catch((e: unknown) => {
      this.kc = null;
      throw e;
    });
    const kc = await this.kc;
    const opts: https.RequestOptions = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    const headers = opts.headers as Record<string, unknown>;
    const key = Object.keys(headers).find((k) => k.toLowerCase() === 'authorization');
    const value = key === undefined ? undefined : headers[key];
    return value === undefined || value === null ? null : String(value);
  }

  private async load(): Promise<KubeConfig> {
    const lib = await import('@kubernetes/client-node');
    const kc = new lib.KubeConfig();
    // Only the provider is given to client-node: TLS material and every other credential
    // are kubewire's (upstream-credentials.ts). No proxy-url, so it builds no proxy agent.
    const name = 'kubewire';
    kc.loadFromOptions({
      clusters: [{ name, server: this.cluster.server, skipTLSVerify: this.cluster.skipTLSVerify }],
      users: [{ name, authProvider: this.user.authProvider }],
      contexts: [{ name, cluster: name, user: name }],
      currentContext: name,
    });
    return kc;
  }
}
