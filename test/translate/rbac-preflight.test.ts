/**
 * The RBAC preflight of translated sessions: a SelfSubjectAccessReview for the verb the
 * translated request is authorized as, kept per credential, subresource and namespace; a "no"
 * answers the client with a 403 Status naming the verb. Unit tests with a scripted review, and
 * real kubectl 1.29 (SPDY for exec) through `--translate spdy-to-ws` as a create-only user.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEEP_MS, MAX_KEPT, RbacPreflight, type PreflightRequest } from '../../src/translate/rbac-preflight.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, SPDY_ENV } from '../support/kubectl.js';
import { kubectlPart, runThroughKubewire } from '../support/kubewire-run.js';

const exec: PreflightRequest = { verb: 'get', subresource: 'exec', namespace: 'default', pod: 'web', translation: 'spdy-to-ws' };
const alice = { headers: { Authorization: 'Bearer alice-token' }, tls: {} };
const bob = { headers: { Authorization: 'Bearer bob-token' }, tls: {} };

function scripted(answers: (boolean | null)[]) {
  const asked: { req: PreflightRequest; auth: string | undefined }[] = [];
  let now = 0;
  const preflight = new RbacPreflight(async (req, options) => {
    asked.push({ req, auth: options.headers['Authorization'] });
    return answers.length > 1 ? answers.shift()! : answers[0]!;
  }, () => now);
  return { preflight, asked, later: (ms: number) => void (now += ms) };
}

describe('RbacPreflight', () => {
  it('a refused verb gets a 403 Status naming the verb, the subresource, the namespace and why', async () => {
    const { preflight } = scripted([false]);
    const body = JSON.parse((await preflight.refusal(exec, alice))!) as { kind: string; code: number; reason: string; message: string };
    expect(body).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden' });
    expect(body.message).toContain('pods "web" is forbidden');
    expect(body.message).toContain('over WebSocket, a GET the API server authorizes as "get"');
    expect(body.message).toContain('cannot get resource "pods/exec" in the namespace "default"');
    expect(body.message).toContain('or run without --translate');
    const pf = JSON.parse((await scripted([false]).preflight.refusal({ ...exec, verb: 'create', subresource: 'portforward', translation: 'ws-to-spdy' }, alice))!) as { message: string };
    expect(pf.message).toContain('over SPDY, a POST the API server authorizes as "create"');
  });

  it('allowed, or no answer (an old server, a timeout): nothing is refused', async () => {
    expect(await scripted([true]).preflight.refusal(exec, alice)).toBeNull();
    expect(await scripted([null]).preflight.refusal(exec, alice)).toBeNull();
  });

  it('asks once per credential, verb, subresource and namespace for a minute, and again after it', async () => {
    const { preflight, asked, later } = scripted([true]);
    await preflight.refusal(exec, alice);
    await preflight.refusal(exec, alice);
    expect(asked).toHaveLength(1);
    await preflight.refusal(exec, bob);
    await preflight.refusal({ ...exec, subresource: 'attach' }, alice);
    await preflight.refusal({ ...exec, namespace: 'other' }, alice);
    expect(asked.map((a) => [a.auth, a.req.subresource, a.req.namespace])).toEqual([
      ['Bearer alice-token', 'exec', 'default'], ['Bearer bob-token', 'exec', 'default'], ['Bearer alice-token', 'attach', 'default'], ['Bearer alice-token', 'exec', 'other'],
    ]);
    later(KEEP_MS + 1);
    await preflight.refusal(exec, alice);
    expect(asked).toHaveLength(5);
  });

  it('a burst of sessions for one key asks once', async () => {
    const { preflight, asked } = scripted([false]);
    const all = await Promise.all([1, 2, 3].map(() => preflight.refusal(exec, alice)));
    expect(asked).toHaveLength(1);
    expect(all.every((b) => b !== null)).toBe(true);
  });

  it('keeps at most MAX_KEPT answers', async () => {
    const { preflight, asked } = scripted([true]);
    for (let i = 0; i <= MAX_KEPT; i++) await preflight.refusal({ ...exec, namespace: `ns-${i}` }, alice);
    await preflight.refusal({ ...exec, namespace: 'ns-0' }, alice);
    expect(asked).toHaveLength(MAX_KEPT + 2);
  });
});

const [v] = availableKubectls(['1.29']);

describe.skipIf(!v)('kubectl 1.29 through --translate spdy-to-ws, as a user with create only', () => {
  let t: TestCluster;
  beforeAll(async () => {
    t = await startTestCluster({ gateway: ['no-spdy'], users: ['creator=exec-create-only'] });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('is told that the translated WebSocket GET needs get, not a bare 403', async () => {
    const r = await runThroughKubewire(v!, ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], {
      kubeconfig: t.kubeconfig, home: t.home, log: join(t.dir, 'preflight.jsonl'), env: SPDY_ENV, flags: ['--context', 'creator', '--translate', 'spdy-to-ws'], timeoutMs: 30_000,
    });
    expect(r.code).not.toBe(0);
    expect(kubectlPart(r.stderr)).toContain('kubewire --translate spdy-to-ws carries this exec upstream over WebSocket');
    expect(kubectlPart(r.stderr)).toContain('cannot get resource "pods/exec"');
  });

  it('the admin, allowed both verbs, is translated as before', async () => {
    const r = await runThroughKubewire(v!, ['exec', 'web', '-c', 'app', '--', 'echo', 'ok'], {
      kubeconfig: t.kubeconfig, home: t.home, log: join(t.dir, 'admin.jsonl'), env: SPDY_ENV, flags: ['--translate', 'spdy-to-ws'], timeoutMs: 30_000,
    });
    expect(r.stdout).toBe('ok\n');
    expect(r.code).toBe(0);
  });
});
