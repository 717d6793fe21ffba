/**
 * The Helm chart in deploy/helm/kubewire renders with real helm (scripts/fetch-tools helm):
 * the kinds a gateway needs, the values applied where they belong, impersonation's RBAC only
 * when asked for, a StatefulSet with a claim per replica for the spool with persistence.enabled;
 * and the plain manifests beside it parse as Kubernetes objects, the main one as the chart
 * renders it by default.
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

interface Container {
  args: string[];
  image: string;
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: { containers: Container[]; volumes: { name: string; emptyDir?: object }[]; automountServiceAccountToken?: boolean };
}
interface WorkloadSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: PodTemplate;
  serviceName?: string;
  podManagementPolicy?: string;
  volumeClaimTemplates?: { metadata: { name: string }; spec: { accessModes: string[]; storageClassName?: string; resources: { requests: { storage: string } } } }[];
}

/** The gateway's Deployment or StatefulSet, whichever the values chose. */
function workload(objects: K8sObject[]): WorkloadSpec {
  return objects.find((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')!.spec as unknown as WorkloadSpec;
}

function container(objects: K8sObject[]): Container {
  return workload(objects).template.spec.containers[0]!;
}

/** Whether a selector's every label is on the pods. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const STATE_DIR = '/var/lib/kubewire/state';

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
    expect(workload(objects).template.spec.automountServiceAccountToken).toBe(false);
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

  it('by default the state directory (the PostgreSQL spool) is an emptyDir of a Deployment, with no StatefulSet and no headless Service', () => {
    const objects = render(['store.postgresUrl=postgres://u:p@db:5432/kw']);
    expect(objects.some((o) => o.kind === 'StatefulSet')).toBe(false);
    expect(objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name)).toEqual(['gw-kubewire']);
    const pod = workload(objects).template.spec;
    const mount = pod.containers[0]!.volumeMounts.find((m) => m.mountPath === STATE_DIR)!;
    expect(pod.volumes.find((v) => v.name === mount.name)).toEqual({ name: mount.name, emptyDir: {} });
  });

  it('persistence.enabled renders a StatefulSet (no Deployment) whose claim per replica backs the state directory, and its headless Service', () => {
    const sets = ['replicas=3', 'tls.secretName=kw-tls', 'store.postgresUrl=postgres://u:p@db:5432/kw', 'identity=impersonate'];
    const objects = render([...sets, 'persistence.enabled=true', 'persistence.size=5Gi', 'persistence.storageClass=fast']);
    expect(objects.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'NetworkPolicy', 'Secret', 'Service', 'Service', 'ServiceAccount', 'StatefulSet']);
    const sts = workload(objects);
    expect(sts.replicas).toBe(3);
    expect(sts.podManagementPolicy).toBe('Parallel');

    // Pods of a StatefulSet are named after it and their ordinal (gw-kubewire-0, -1, -2), and the
    // replica is named after its pod: a new pod of the same name is the same replica.
    expect(objects.find((o) => o.kind === 'StatefulSet')!.metadata.name).toBe('gw-kubewire');
    const c = sts.template.spec.containers[0]!;
    expect(c.args).toContain('--name=$(POD_NAME)');
    expect(c.env.find((e) => e.name === 'POD_NAME')!.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });

    // The state directory is the claim's mount, not a pod volume (which would shadow the claim).
    expect(c.env.find((e) => e.name === 'XDG_STATE_HOME')!.value).toBe(STATE_DIR);
    const mount = c.volumeMounts.find((m) => m.mountPath === STATE_DIR)!;
    expect(sts.volumeClaimTemplates!.map((t) => t.metadata.name)).toEqual([mount.name]);
    expect(sts.template.spec.volumes.some((v) => v.name === mount.name)).toBe(false);
    expect(sts.volumeClaimTemplates![0]!.spec).toEqual({ accessModes: ['ReadWriteOnce'], storageClassName: 'fast', resources: { requests: { storage: '5Gi' } } });

    // Every selector picks the StatefulSet's pods; the headless Service is its serviceName.
    const labels = sts.template.metadata.labels;
    expect(selects(sts.selector.matchLabels, labels)).toBe(true);
    const services = objects.filter((o) => o.kind === 'Service') as (K8sObject & { spec: { selector: Record<string, string>; clusterIP?: string } })[];
    for (const svc of services) expect(selects(svc.spec.selector, labels), svc.metadata.name).toBe(true);
    const headless = services.find((svc) => svc.metadata.name === sts.serviceName)!;
    expect(headless.spec.clusterIP).toBe('None');
    const policy = objects.find((o) => o.kind === 'NetworkPolicy')!.spec as { podSelector: { matchLabels: Record<string, string> } };
    expect(selects(policy.podSelector.matchLabels, labels)).toBe(true);

    // The pod is the Deployment's, less its emptyDir state volume.
    const deployment = workload(render(sets)).template;
    expect(sts.template.metadata).toEqual(deployment.metadata);
    expect(sts.template.spec).toEqual({ ...deployment.spec, volumes: deployment.spec.volumes.filter((v) => v.name !== mount.name) });
  });

  it('persistence.storageClass: empty leaves the cluster default, "-" asks for no class; the replica guard holds for the StatefulSet', () => {
    expect(workload(render(['persistence.enabled=true'])).volumeClaimTemplates![0]!.spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } });
    expect(workload(render(['persistence.enabled=true', 'persistence.storageClass=-'])).volumeClaimTemplates![0]!.spec.storageClassName).toBe('');
    const r = spawnSync(helm!, ['template', 'gw', CHART, '--set', 'persistence.enabled=true', '--set', 'replicas=2'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('replicas > 1 needs tls.secretName');
  });

  it('helm lint passes with persistence off and on', () => {
    for (const on of ['false', 'true']) {
      const r = spawnSync(helm!, ['lint', CHART, '--set', `persistence.enabled=${on}`], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
  });

  it('deploy/manifests/kubewire.yaml is what the chart renders with its defaults', () => {
    const r = spawnSync(helm!, ['template', 'kubewire', CHART, '--namespace', 'kubewire'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const plain = loadAll(readFileSync(join(REPO_ROOT, 'deploy', 'manifests', 'kubewire.yaml'), 'utf8')).filter((o) => o !== null);
    expect(plain).toEqual(loadAll(r.stdout).filter((o) => o !== null));
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
