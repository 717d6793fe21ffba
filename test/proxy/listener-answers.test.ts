/**
 * What the proxy's listener answers before any request reaches kubewire's own code: plain HTTP
 * on the TLS port, a request line the parser refuses, an oversized head, and a head that
 * never completes. Each gets an HTTP answer as the API server (Go net/http) gives it, not a
 * closed socket.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/event-bus.js';
import { LocalObserver } from '../../src/observer/local-observer.js';
import { PLAIN_HTTP_ANSWER } from '../../src/proxy/listener-answers.js';
import { loadUpstream } from '../../src/proxy/kubeconfig-upstream.js';
import { KubewireProxy } from '../../src/proxy/proxy-server.js';

let proxy: KubewireProxy;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubewire-front-'));
  const kubeconfig = join(dir, 'kubeconfig');
  // Nothing here reaches the upstream.
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:9\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n', { mode: 0o600 });
  const upstream = await loadUpstream({ kubeconfig, env: {} });
  proxy = await KubewireProxy.start({
    upstream, observer: new LocalObserver(new EventBus({ lossless: false }), { payload: 'head' }), host: '127.0.0.1', port: 0,
    timeouts: { headersMs: 300, requestMs: 10_000, checkMs: 100 },
  });
});
afterAll(async () => {
  await proxy?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Everything the server sends until it closes. */
function exchange(socket: net.Socket | tls.TLSSocket, send: string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    if (send !== null) socket.write(send);
  });
}

async function overTls(send: string | null): Promise<string> {
  const s = tls.connect({ host: '127.0.0.1', port: proxy.port, ca: proxy.caCertPem });
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
  return exchange(s, send);
}

describe('the proxy listener', () => {
  it('answers plain HTTP on its TLS port as the API server does', async () => {
    const s = net.connect({ host: '127.0.0.1', port: proxy.port });
    expect(await exchange(s, 'GET /version HTTP/1.1\r\nHost: x\r\n\r\n')).toBe(PLAIN_HTTP_ANSWER);
    expect(PLAIN_HTTP_ANSWER).toContain('Client sent an HTTP request to an HTTPS server.');
  });

  it('answers every request line OpenSSL takes for HTTP, and closes on other bytes without a word', async () => {
    for (const method of ['POST', 'HEAD', 'PUT', 'CONNECT']) {
      const s = net.connect({ host: '127.0.0.1', port: proxy.port });
      expect(await exchange(s, `${method} /api HTTP/1.1\r\nHost: x\r\n\r\n`), method).toBe(PLAIN_HTTP_ANSWER);
    }
    const s = net.connect({ host: '127.0.0.1', port: proxy.port });
    expect(await exchange(s, 'SSH-2.0-OpenSSH_9.2\r\n')).toBe('');
  });

  it('answers an invalid request with 400', async () => {
    expect(await overTls('NOT A REQUEST\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\n400 Bad Request$/);
  });

  it('answers an oversized head with 431', async () => {
    expect(await overTls(`GET /version HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  });

  it('answers a head that never completes with 408 once the header timeout passed', async () => {
    expect(await overTls('GET /version HTTP/1.1\r\nHost: x\r\n')).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  it('still serves TLS: a request without the proxy token gets the API server\'s 401', async () => {
    expect(await overTls('GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n[\s\S]*"reason":"Unauthorized"/);
  });
});
