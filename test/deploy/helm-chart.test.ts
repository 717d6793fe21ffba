/**
 * The Helm chart in deploy/helm/kubewire renders with real helm (scripts/fetch-tools helm):
 * the kinds a gateway needs, the values applied where they belong, impersonation's RBAC only
 * when asked for; and the plain manifests beside it parse as Kubernetes objects.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { headerKeyEscape } from '../../src/gateway/identity-headers.js';
import { KNOWN_EXTRAS } from '../../src/gateway/impersonated-extras.js';
import { fetchedTool } from '../support/tools.js';
import { REPO_ROOT } from '../support/vectors.js';

const helm = fetchedTool('helm');
const CHART = join(REPO_ROOT, 'deploy', 'helm', 'kubewire');

interface K8sObject {
  kind: string;
  apiVersion: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

function render(sets: string[]): K8sObject[] {
  const r = spawnSync(helm!, ['template', 'gw', CHART, '--namespace', 'kw', ...sets.flatMap((s) => ['--set', s])], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return (loadAll(r.stdout) as (K8sObject | null)[]).filter((o): o is K8sObject => o !== null);
}

interface PolicyRule { apiGroups: string[]; resources: string[]; verbs: string[] }

/**
 * Whether `rules` let their subject impersonate the extra `key`, as the API server asks for an
 * Impersonate-Extra-<escaped key> header: resource `userextras`, subresource the header's key
 * lowercased and percent-decoded (apiserver filters/impersonation.go), matched the way RBAC's
 * ResourceMatches does (`*`, `resource/subresource`, `*\/subresource`).
 */
function grantsExtra(rules: PolicyRule[], key: string): boolean {
  const sub = decodeURIComponent(headerKeyEscape(key).toLowerCase());
  return rules.some((r) => (r.apiGroups.includes('authentication.k8s.io') || r.apiGroups.includes('*'))
    && (r.verbs.includes('impersonate') || r.verbs.includes('*'))
    && r.resources.some((res) => res === '*' || res === `userextras/${sub}` || res === `*/${sub}`));
}

function container(objects: K8sObject[]): { args: string[]; image: string } {
  const deployment = objects.find((o) => o.kind === 'Deployment')!;
  return (deployment.spec as { template: { spec: { containers: { args: string[]; image: string }[] } } }).template.spec.containers[0]!;
}

describe.skipIf(helm === null)('the Helm chart', () => {
  it('refuses more than one replica without a shared certificate, and rotates only a files store', () => {
    const r = spawnSync(helm!, ['template', 'gw', CHART, '--set', 'replicas=2'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('replicas > 1 needs tls.secretName');
    expect(container(render([])).args).toContain('--max-size=100M');
    const pg = container(render(['store.postgresUrl=postgres://u:p@db:5432/kw', 'audit.signingKey=PEM']));
    expect(pg.args.some((a) => a.startsWith('--max-size'))).toBe(false);
    expect(pg.args).toContain('--audit-signing-key=/etc/kubewire/secret/audit-signing.key');
  });

  it('renders a Deployment with replicas, a Service, a Secret and a NetworkPolicy; passthrough has no RBAC and no token', () => {
    const objects = render(['replicas=3', 'tls.secretName=kw-tls', 'image.repository=example.internal/kw', 'image.tag=9.9.9', 'store.postgresUrl=postgres://u:p@db:5432/kw', 'audit.signingKey=PEM']);
    const kinds = objects.map((o) => o.kind).sort();
    expect(kinds).toEqual(['ConfigMap', 'Deployment', 'NetworkPolicy', 'Secret', 'Service', 'ServiceAccount']);
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    expect(deployment.spec?.['replicas']).toBe(3);
    const c = container(objects);
    expect(c.image).toBe('example.internal/kw:9.9.9');
    expect(c.args).toContain('gateway');
    expect(c.args).toContain('--identity=passthrough');
    expect(c.args).toContain('--store=$(KUBEWIRE_STORE_URL)');
    // The database URL is in the Secret, never in the pod spec.
    expect(JSON.stringify(deployment)).not.toContain('u:p@db');
    expect((objects.find((o) => o.kind === 'Secret')!['stringData'] as Record<string, string>)['store-url']).toBe('postgres://u:p@db:5432/kw');
    expect((deployment.spec as { template: { spec: { automountServiceAccountToken?: boolean } } }).template.spec.automountServiceAccountToken).toBe(false);
  });

  it('--identity impersonate adds the ClusterRole with impersonate and tokenreviews, bound to the ServiceAccount', () => {
    const objects = render(['identity=impersonate', 'clientCa.configMap=users-ca', 'tls.secretName=kw-tls']);
    const role = objects.find((o) => o.kind === 'ClusterRole')!;
    const rules = role['rules'] as { resources: string[]; verbs: string[] }[];
    expect(rules.some((r) => r.resources.includes('users') && r.verbs.includes('impersonate'))).toBe(true);
    expect(rules.some((r) => r.resources.includes('tokenreviews') && r.verbs.includes('create'))).toBe(true);
    const binding = objects.find((o) => o.kind === 'ClusterRoleBinding')!;
    expect(binding['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'gw-kubewire', namespace: 'kw' }]);
    const c = container(objects);
    expect(c.args).toEqual(expect.arrayContaining(['--identity=impersonate', '--client-ca=/etc/kubewire/client-ca/ca.crt', '--tls-cert=/etc/kubewire/tls/tls.crt']));
    const upstream = objects.find((o) => o.kind === 'ConfigMap')!;
    const kubeconfig = loadAll((upstream['data'] as Record<string, string>)['kubeconfig']!)[0] as { users: { user: Record<string, string> }[] };
    expect(kubeconfig.users[0]!.user['tokenFile']).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
  });

  it('--identity impersonate grants every user extra the gateway passes on (service-account tokens included), and impersonation.extraKeys more', () => {
    const rules = (render(['identity=impersonate', 'tls.secretName=kw-tls']).find((o) => o.kind === 'ClusterRole')!['rules']) as PolicyRule[];
    expect(KNOWN_EXTRAS).toContain('authentication.kubernetes.io/pod-name');
    for (const key of KNOWN_EXTRAS) expect(grantsExtra(rules, key), key).toBe(true);
    expect(grantsExtra(rules, 'example.com/team')).toBe(false);
    const more = (render(['identity=impersonate', 'tls.secretName=kw-tls', 'impersonation.extraKeys={Example.com/Team,acme.io/tier}']).find((o) => o.kind === 'ClusterRole')!['rules']) as PolicyRule[];
    // The API server lowercases the key it checks: a key given in capitals is granted lowercased.
    for (const key of [...KNOWN_EXTRAS, 'Example.com/Team', 'acme.io/tier']) expect(grantsExtra(more, key), key).toBe(true);
  });

  it('networkPolicy.enabled=false leaves the NetworkPolicy out', () => {
    expect(render(['networkPolicy.enabled=false']).some((o) => o.kind === 'NetworkPolicy')).toBe(false);
  });
});

describe('the plain manifests', () => {
  it('parse as Kubernetes objects, each with kind, apiVersion and a name', () => {
    const dir = join(REPO_ROOT, 'deploy', 'manifests');
    const objects = readdirSync(dir).filter((f) => f.endsWith('.yaml')).flatMap((f) => (loadAll(readFileSync(join(dir, f), 'utf8')) as (K8sObject | null)[]).filter((o) => o !== null));
    expect(objects.length).toBeGreaterThan(5);
    for (const o of objects) {
      expect(typeof o!.kind).toBe('string');
      expect(typeof o!.apiVersion).toBe('string');
      expect(typeof o!.metadata.name).toBe('string');
    }
    expect(objects.map((o) => o!.kind)).toEqual(expect.arrayContaining(['Deployment', 'Service', 'Secret', 'NetworkPolicy', 'ClusterRole', 'ClusterRoleBinding']));
  });

  it('impersonate-rbac.yaml grants every user extra the gateway passes on', () => {
    const objects = loadAll(readFileSync(join(REPO_ROOT, 'deploy', 'manifests', 'impersonate-rbac.yaml'), 'utf8')) as (K8sObject | null)[];
    const rules = objects.find((o) => o?.kind === 'ClusterRole')!['rules'] as PolicyRule[];
    for (const key of KNOWN_EXTRAS) expect(grantsExtra(rules, key), key).toBe(true);
  });
});
