/**
 * Plain requests through the forwarder and its keep-alive agent, against an upstream that
 * behaves as servers do at the edge of their keep-alive timeout: it takes a request on a kept
 * socket and closes the socket without answering.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/event-bus.js';
import type { KubewireEvent } from '../../src/events/types.js';
import { LocalObserver } from '../../src/observer/local-observer.js';
import { HttpForwarder } from '../../src/proxy/http-forwarder.js';
import { loadUpstream } from '../../src/proxy/kubeconfig-upstream.js';
import { waitUntil } from '../support/event-log.js';
import { FREE_SOCKET_IDLE_MS } from '../../src/proxy/upstream-agent.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * An HTTP/1.1 upstream on raw sockets: every first request on a connection is answered with
 * keep-alive; a second request on the same connection is read and the socket destroyed, as a
 * server that timed it out at that moment does.
 */
async function edgeOfKeepAlive(): Promise<{ port: number; connections: () => number; requests: string[] }> {
  let connections = 0;
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    let served = 0;
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      while (buffered.includes('\r\n\r\n')) {
        const head = buffered.slice(0, buffered.indexOf('\r\n\r\n'));
        buffered = buffered.slice(head.length + 4);
        requests.push(head.split('\r\n')[0]!);
        if (served++ > 0) return void socket.destroy();
        const body = '{"kind":"Status","status":"Success"}';
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections, requests };
}

async function forwarderTo(port: number): Promise<{ url: string; bus: EventBus }> {
  const dir = mkdtempSync(join(tmpdir(), 'kubewire-forwarder-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    'clusters:', '- name: c', '  cluster:', `    server: http://127.0.0.1:${port}`,
    'users:', '- name: u', '  user: {}',
    'contexts:', '- name: c', '  context:', '    cluster: c', '    user: u',
  ].join('\n') + '\n', { mode: 0o600 });
  const upstream = await loadUpstream({ kubeconfig, env: {} });
  const bus = new EventBus({ lossless: false });
  const forwarder = new HttpForwarder(upstream, new LocalObserver(bus, { payload: 'head' }));
  const front = http.createServer((req, res) => void forwarder.forward(req, res, { conn: 'r', session: 's' }));
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    forwarder.close();
    front.closeAllConnections();
    front.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(front.address() as net.AddressInfo).port}`, bus };
}

function request(url: string, method: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + '/api/v1/namespaces/default/pods', { method, agent: false, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the forwarder and its keep-alive agent', () => {
  it('sends a GET once more, on a new socket, when the kept socket it went out on closes unanswered', async () => {
    const up = await edgeOfKeepAlive();
    const { url } = await forwarderTo(up.port);
    expect((await request(url, 'GET')).status).toBe(200);
    const again = await request(url, 'GET');
    expect(again.status).toBe(200);
    expect(up.requests).toEqual(['GET /api/v1/namespaces/default/pods HTTP/1.1', 'GET /api/v1/namespaces/default/pods HTTP/1.1', 'GET /api/v1/namespaces/default/pods HTTP/1.1']);
    expect(up.connections()).toBe(2);
  });

  it('never sends a POST twice: it answers 502 and names the cause', async () => {
    const up = await edgeOfKeepAlive();
    const { url } = await forwarderTo(up.port);
    expect((await request(url, 'GET')).status).toBe(200);
    const post = await request(url, 'POST', '{"kind":"Pod"}');
    expect(post.status).toBe(502);
    expect(JSON.parse(post.body)).toMatchObject({ kind: 'Status', code: 502, reason: 'BadGateway' });
    expect(up.requests.filter((r) => r.startsWith('POST'))).toHaveLength(1);
  });

  it('records the API server\'s /version answer, for the rules that depend on the version', async () => {
    const version = '{"major":"1","minor":"35","gitVersion":"v1.35.1"}';
    const server = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(version));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const { url, bus } = await forwarderTo((server.address() as net.AddressInfo).port);
    const events: KubewireEvent[] = [];
    bus.subscribe((e) => events.push(e));
    const got = await new Promise<string>((resolve, reject) => {
      http.get(url + '/version', { agent: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(got).toBe(version);
    await waitUntil('the body event', () => (events.some((e) => e.type === 'conn.close') ? true : undefined), 5000);
    expect(events.filter((e) => e.type === 'http.body')).toEqual([expect.objectContaining({ type: 'http.body', dir: 's2c', text: version, size: version.length })]);
  });

  it('closes an idle kept socket before common servers do (Node after 5 s, Go after 90 s)', () => {
    expect(FREE_SOCKET_IDLE_MS).toBeLessThan(5000);
  });
});
