/**
 * `kubewire gateway` with real kubectl 1.33 against the demo cluster with two users (alice an
 * admin, bob a viewer): each session is recorded under its user in both identity modes, bob's
 * exec gets the API server's own 403, `--as` is refused, the handed-out kubeconfig works for
 * both users, health and metrics answer and count, concurrent users are kept apart, no
 * token appears in the logs, the metrics or the audit files, and nothing sent after an
 * upgrade-looking request the API server did not upgrade reaches it.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { dump, load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditSessionEvent, KubewireEvent } from '../../src/events/types.js';
import { runCli } from '../support/cli.js';
import { clientCertificate } from '../support/client-cert.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, runKubectl } from '../support/kubectl.js';
import { startGateway, type GatewayProcess } from '../support/kubewire-gateway.js';

const found = availableKubectls(['1.33']);
const V = '1.33';

function auditRecords(dir: string): KubewireEvent[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f));
  return files.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as KubewireEvent));
}

function sessionsOf(records: KubewireEvent[]): AuditSessionEvent[] {
  return records.filter((r): r is KubewireEvent & AuditSessionEvent => r.type === 'audit.session');
}

/**
 * A raw TLS client: sends `first`, then (once an answer came, or with `first` when `together`)
 * `second`, and collects everything that comes back until the connection closes.
 */
async function smuggle(listen: string, first: string, second: string, together: boolean): Promise<{ text: string; closed: boolean }> {
  const url = new URL(listen);
  const socket = connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  let text = '';
  let sentSecond = false;
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 15_000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.on('error', () => {});
  socket.once('secureConnect', () => socket.write(together ? first + second : first));
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    if (!together && !sentSecond && text.includes('\r\n\r\n')) {
      sentSecond = true;
      socket.write(second);
    }
  });
  const done = await closed;
  socket.destroy();
  return { text, closed: done };
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

describe.skipIf(found.length === 0)('kubewire gateway with real kubectl', () => {
  let t: TestCluster;
  beforeAll(async () => {
    t = await startTestCluster({ users: ['alice=admin', 'bob=view'] });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const tokens = (): string[] => [t.cluster.token, ...t.cluster.users.map((u) => u.token)];

  describe('--identity passthrough', () => {
    let gw: GatewayProcess;
    let store: string;
    let kubeconfig: string;
    beforeAll(async () => {
      store = join(t.dir, 'store-passthrough');
      kubeconfig = join(t.dir, 'team-passthrough.kubeconfig');
      gw = await startGateway(['--upstream-kubeconfig', t.kubeconfig, '--store', store, '--name', 'gw-a', '--write-kubeconfig', kubeconfig], t.home);
    });
    afterAll(async () => {
      await gw?.stop();
    });
    const kubectl = (user: string, args: string[]) => runKubectl(V, ['--context', user, ...args], { kubeconfig, home: t.home, timeoutMs: 30_000 });

    it('records every session under its user; bob gets the API server\'s 403; --as is refused', async () => {
      const a = await kubectl('alice', ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo from alice; exit 3']);
      expect(a.stdout).toContain('from alice');
      expect(a.code).toBe(3);
      const b = await kubectl('bob', ['exec', 'web', '-c', 'app', '--', 'echo', 'from bob']);
      expect(b.code).not.toBe(0);
      expect(b.stderr).toMatch(/Error from server \(Forbidden\): pods "web" is forbidden: User "bob" cannot (get|create) resource "pods\/exec"/);
      const pods = await kubectl('bob', ['get', 'pods']);
      expect(pods.code).toBe(0);
      expect(pods.stdout).toContain('web');
      const as = await kubectl('alice', ['--as', 'someone', 'get', 'pods']);
      expect(as.code).not.toBe(0);
      expect(as.stderr).toContain('Impersonate-User');

      // Several users at once: three execs each, in parallel.
      const runs = await Promise.all([0, 1, 2].flatMap((i) => ['alice', 'bob'].map(async (u) => ({ u, i, r: await kubectl(u, u === 'alice' ? ['exec', 'web', '-c', 'app', '--', 'echo', `alice-${i}`] : ['get', 'pod', 'web']) }))));
      for (const { u, r } of runs) expect(r.code, `${u}: ${r.stderr}`).toBe(0);
      await gw.stop();

      const records = auditRecords(join(store, 'gw-a'));
      const sessions = sessionsOf(records);
      const execs = sessions.filter((s) => s.operation === 'exec');
      const byCommand = (text: string) => execs.find((s) => s.command.join(' ').includes(text));
      expect(byCommand('from alice')?.user?.username).toBe('alice');
      expect(byCommand('from alice')?.user?.source).toBe('SelfSubjectReview');
      expect(byCommand('from alice')?.exitCode).toBe(3);
      expect(byCommand('from bob')?.user?.username).toBe('bob');
      for (const i of [0, 1, 2]) expect(byCommand(`alice-${i}`)?.user?.username).toBe('alice');
      // Every session of the gateway names its user, and bob's never alice's.
      expect(sessions.length).toBeGreaterThan(6);
      for (const s of sessions) expect(s.user?.username, JSON.stringify(s)).toMatch(/^(alice|bob)$/);
      expect(sessions.filter((s) => s.user?.username === 'bob').every((s) => s.command.every((c) => !c.includes('alice')))).toBe(true);
      // Nothing of the refused --as request went upstream or into a session.
      expect(records.some((r) => r.type === 'http.request' && JSON.stringify(r.headers).includes('someone'))).toBe(false);
      const verified = runCli(['verify', ...readdirSync(join(store, 'gw-a')).map((f) => join(store, 'gw-a', f))]);
      expect(verified.stdout).toMatch(/^consistent, unauthenticated/);

      const logged = gw.stdout() + gw.stderr();
      const files = readdirSync(join(store, 'gw-a')).map((f) => readFileSync(join(store, 'gw-a', f), 'utf8')).join('');
      for (const token of tokens()) {
        expect(logged).not.toContain(token);
        expect(files).not.toContain(token);
      }
      const sessionLines = gw.lines().filter((l) => l['msg'] === 'session');
      expect(sessionLines.some((l) => l['user'] === 'alice' && l['verb'] === 'exec' && l['exitCode'] === 3)).toBe(true);
      expect(gw.lines().some((l) => l['msg'] === 'finding')).toBe(true);
    }, 120_000);
  });

  describe('an upgrade-looking request the API server answers as a plain one', () => {
    it('forwards nothing the client sends after it, and the connection ends after the answer', async () => {
      const store = join(t.dir, 'store-smuggle');
      const gw = await startGateway(['--upstream-kubeconfig', t.kubeconfig, '--identity', 'impersonate', '--store', store], t.home);
      try {
        const bob = t.cluster.users.find((u) => u.name === 'bob')!.token;
        const first = ['GET /api/v1/namespaces HTTP/1.1', 'Host: gw', `Authorization: Bearer ${bob}`, 'Upgrade: websocket', 'Connection: Upgrade',
          'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', '', ''].join('\r\n');
        // Sent raw, it would reach the API server on the gateway's connection, as whoever that is.
        const second = ['GET /api/v1/namespaces/default/pods HTTP/1.1', 'Host: gw', 'Impersonate-User: kubewire-demo-admin', '', ''].join('\r\n');
        for (const together of [false, true]) {
          const got = await smuggle(gw.ready.listen, first, second, together);
          expect(got.closed, `together=${together}: the connection stayed open`).toBe(true);
          // One answer (the namespaces list, or its start), never one to the second request.
          expect(got.text.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0, got.text).toBeLessThanOrEqual(1);
          expect(got.text).not.toContain('"kind":"PodList"');
          expect(got.text).not.toMatch(/\r\n\r\n[\s\S]*HTTP\/1\.1 \d{3}/);
        }
        // And the plain answer came on: the API server did serve the first request.
        const once = await smuggle(gw.ready.listen, first, '', false);
        expect(once.text).toMatch(/^HTTP\/1\.1 200/);
        expect(once.text).toContain('NamespaceList');
        expect(once.closed).toBe(true);
      } finally {
        await gw.stop();
      }
    }, 120_000);
  });

  describe('health and metrics', () => {
    it('/healthz, /readyz and /metrics answer, and count sessions by verb, transport and outcome and findings by rule', async () => {
      const store = join(t.dir, 'store-metrics');
      const kubeconfig = join(t.dir, 'team-metrics.kubeconfig');
      const gw = await startGateway(['--upstream-kubeconfig', t.kubeconfig, '--store', store, '--write-kubeconfig', kubeconfig], t.home);
      try {
        expect(await get(`${gw.ready.metrics}/healthz`)).toEqual({ status: 200, text: 'ok\n' });
        expect(await get(`${gw.ready.metrics}/readyz`)).toEqual({ status: 200, text: 'ok\n' });
        const k = (user: string, args: string[]) => runKubectl(V, ['--context', user, ...args], { kubeconfig, home: t.home, timeoutMs: 30_000 });
        expect((await k('alice', ['exec', 'web', '-c', 'app', '--', 'true'])).code).toBe(0);
        expect((await k('alice', ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'exit 2'])).code).toBe(2);
        expect((await k('bob', ['exec', 'web', '-c', 'app', '--', 'true'])).code).not.toBe(0);
        // A session is counted once it settled (its connections ended and the fallback grace passed).
        let text = '';
        for (let i = 0; i < 100 && !/outcome="failed"/.test(text); i++) {
          await new Promise((r) => setTimeout(r, 200));
          text = (await get(`${gw.ready.metrics}/metrics`)).text;
        }
        expect(text).toContain('# TYPE kubewire_sessions_total counter');
        expect(text).toMatch(/kubewire_sessions_total\{verb="exec",transport="websocket",outcome="ok"\} 1\n/);
        expect(text).toMatch(/kubewire_sessions_total\{verb="exec",transport="websocket",outcome="nonzero-exit"\} 1\n/);
        expect(text).toMatch(/kubewire_sessions_total\{verb="exec",transport="[a-z+]+",outcome="failed"\} 1\n/);
        expect(text).toMatch(/kubewire_findings_total\{rule="[a-z-]+",severity="[a-z]+"\} [1-9]/);
        expect(text).toMatch(/kubewire_bytes_total\{direction="s2c"\} [1-9]/);
        expect(text).toContain('kubewire_store_lag_seconds 0\n');
        expect(text).toContain('kubewire_store_spool_bytes 0\n');
        for (const token of tokens()) expect(text).not.toContain(token);
      } finally {
        await gw.stop();
      }
    }, 120_000);
  });

  describe('--identity impersonate', () => {
    it('admits tokens by TokenReview and client certificates by --client-ca, acts as the user, and records them', async () => {
      const store = join(t.dir, 'store-impersonate');
      const kubeconfig = join(t.dir, 'team-impersonate.kubeconfig');
      const cert = await clientCertificate('alice');
      const caFile = join(t.dir, 'client-ca.pem');
      writeFileSync(caFile, cert.certPem);
      const gw = await startGateway(['--upstream-kubeconfig', t.kubeconfig, '--identity', 'impersonate', '--client-ca', caFile, '--store', store, '--name', 'gw-i', '--write-kubeconfig', kubeconfig], t.home);
      try {
        const handedOut = readFileSync(kubeconfig, 'utf8');
        // The gateway's own credential is not handed out.
        expect(handedOut).not.toContain(t.cluster.token);
        // A client-certificate user beside the token users.
        const doc = load(handedOut) as { users: unknown[]; contexts: unknown[]; clusters: { name: string }[] };
        doc.users.push({ name: 'alice-cert', user: { 'client-certificate-data': Buffer.from(cert.certPem).toString('base64'), 'client-key-data': Buffer.from(cert.keyPem).toString('base64') } });
        doc.contexts.push({ name: 'alice-cert', context: { cluster: doc.clusters[0]!.name, user: 'alice-cert', namespace: 'default' } });
        const withCert = join(t.dir, 'team-impersonate-cert.kubeconfig');
        writeFileSync(withCert, dump(doc), { mode: 0o600 });
        const k = (user: string, args: string[]) => runKubectl(V, ['--context', user, ...args], { kubeconfig: withCert, home: t.home, timeoutMs: 30_000 });

        const a = await k('alice', ['exec', 'web', '-c', 'app', '--', 'echo', 'alice by token']);
        expect(a.code, a.stderr).toBe(0);
        expect(a.stdout).toContain('alice by token');
        const c = await k('alice-cert', ['exec', 'web', '-c', 'app', '--', 'echo', 'alice by certificate']);
        expect(c.code, c.stderr).toBe(0);
        const b = await k('bob', ['exec', 'web', '-c', 'app', '--', 'echo', 'bob']);
        expect(b.stderr).toMatch(/Error from server \(Forbidden\): pods "web" is forbidden: User "bob" cannot/);
        expect((await k('bob', ['get', 'pods'])).code).toBe(0);
        const as = await k('alice', ['--as', 'kubewire-demo-admin', 'get', 'pods']);
        expect(as.code).not.toBe(0);
        expect(as.stderr).toContain('Forbidden');
        await gw.stop();

        const sessions = sessionsOf(auditRecords(join(store, 'gw-i')));
        const exec = (text: string) => sessions.find((s) => s.operation === 'exec' && s.command.join(' ').includes(text));
        expect(exec('alice by token')?.user).toMatchObject({ username: 'alice', source: 'TokenReview' });
        expect(exec('alice by certificate')?.user).toMatchObject({ username: 'alice', source: 'client-certificate' });
        expect(sessions.find((s) => s.operation === 'exec' && s.user?.username === 'bob')?.exitCode ?? null).toBeNull();
        const files = readdirSync(join(store, 'gw-i')).map((f) => readFileSync(join(store, 'gw-i', f), 'utf8')).join('');
        for (const token of tokens()) {
          expect(gw.stdout() + gw.stderr()).not.toContain(token);
          expect(files).not.toContain(token);
        }
      } finally {
        await gw.stop();
      }
    }, 120_000);
  });
});
