/**
 * The proxy with a gateway's admission: a request whose credential headers Node refuses to
 * write is answered 502 and the proxy goes on (it used to end the process), and a refused
 * request is reported in its own user's session, never in the one another user's
 * Kubectl-Session header names.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/event-bus.js';
import type { KubewireEvent } from '../../src/events/types.js';
import { LocalObserver } from '../../src/observer/local-observer.js';
import type { ClientAdmission } from '../../src/proxy/client-admission.js';
import { loadUpstream } from '../../src/proxy/kubeconfig-upstream.js';
import { KubewireProxy } from '../../src/proxy/proxy-server.js';

let dir: string;
let upstreamServer: http.Server;
let proxy: KubewireProxy;
let refusing: string | null = null;
const events: KubewireEvent[] = [];

beforeAll(async () => {
  upstreamServer = http.createServer((_req, res) => res.end('{"kind":"Status","status":"Success"}'));
  await new Promise<void>((r) => upstreamServer.listen(0, '127.0.0.1', () => r()));
  dir = mkdtempSync(join(tmpdir(), 'kubewire-gwproxy-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:${(upstreamServer.address() as net.AddressInfo).port}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n`, { mode: 0o600 });
  const upstream = await loadUpstream({ kubeconfig, env: {} });
  const bus = new EventBus({ lossless: false });
  bus.subscribe((e) => events.push(e));
  // The user is named by the Authorization header; "broken" gets a value Node cannot write.
  const admission: ClientAdmission = {
    admit: (req) => {
      const name = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const user = { username: name, uid: null, groups: [], extra: {}, source: 'TokenReview' as const };
      return { ok: true, user, credentials: () => ({ 'Impersonate-User': name === 'broken' ? 'ųser' : name }) };
    },
  };
  proxy = await KubewireProxy.start({
    upstream, observer: new LocalObserver(bus, { payload: 'head' }), host: '127.0.0.1', port: 0, admission, refusal: () => refusing,
  });
});
afterAll(async () => {
  await proxy?.stop();
  upstreamServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(user: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${proxy.url}/api/v1/pods`, { rejectUnauthorized: false, agent: false, headers: { Authorization: `Bearer ${user}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a gateway proxy', () => {
  it('answers 502 to a request it cannot forward and keeps serving', async () => {
    const bad = await get('broken');
    expect(bad.status).toBe(502);
    expect(JSON.parse(bad.body)).toMatchObject({ kind: 'Status', code: 502 });
    expect(events.some((e) => e.type === 'proxy.error' && e.code === 'KW_ERR_PROXY_INTERNAL')).toBe(true);
    expect((await get('alice')).status).toBe(200);
  });

  it('reports a refused request in its own user\'s session, not in the one its header names', async () => {
    expect((await get('alice', { 'Kubectl-Session': 'sess-a' })).status).toBe(200);
    refusing = 'the audit log cannot be written';
    try {
      expect((await get('bob', { 'Kubectl-Session': 'sess-a' })).status).toBe(503);
    } finally {
      refusing = null;
    }
    const refusal = events.find((e) => e.type === 'proxy.error' && e.code === 'KW_ERR_AUDIT_REFUSED');
    expect(refusal?.session).toBeDefined();
    expect(refusal?.session).not.toBe('sess-a');
  });
});
