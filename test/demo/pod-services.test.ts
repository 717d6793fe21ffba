/**
 * The local services behind demo pod ports, and the kubelet's refusal text for the others
 * (protocol.md A §3a).
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { PodServices, PortForwardRefusedError } from '../../src/demo/pod-services.js';
import { fakePod } from './fixtures.js';

const all: PodServices[] = [];
afterEach(async () => {
  for (const s of all.splice(0)) await s.stop();
});

function refusal(uid: string, port: number): string {
  return (
    `error forwarding port ${port} to pod ${uid}, uid : failed to execute portforward in network namespace ` +
    `"/var/run/netns/cni-${uid}": failed to connect to localhost:${port} inside namespace "${uid}", ` +
    `IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused IPv6 dial tcp6: address localhost: no suitable address `
  );
}

/** Writes `request` (then ends, if asked) and collects everything until the peer ends. */
function exchange(socket: Duplex, request: string, end: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.once('end', () => resolve(text));
    socket.once('error', reject);
    socket.write(request);
    if (end) socket.end();
  });
}

const pod = fakePod();

describe('PodServices', () => {
  it('serves the pod page and /healthz over a dialled connection', async () => {
    const services = new PodServices([pod]);
    all.push(services);
    await services.start();
    const page = await exchange(await services.dial(pod, 80), 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', false);
    expect(page).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(page).toContain('<h1>kubewire demo: web</h1>');
    const health = await exchange(await services.dial(pod, 80), 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', false);
    expect(health, health).toMatch(/\r\n\r\nok\n$/);
  });

  it('answers a plain HTTP client on the local port', async () => {
    const services = new PodServices([pod]);
    all.push(services);
    const port = await services.localPort(pod, 80);
    expect(port).toBeGreaterThan(0);
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: port as number, path: '/nowhere' }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${b}`));
      }).on('error', reject);
    });
    expect(body).toBe('404 not found\n');
  });

  it('echoes bytes and keeps echoing after the client half-closes', async () => {
    const services = new PodServices([pod]);
    all.push(services);
    await services.start();
    const socket = await services.dial(pod, 7);
    expect(await exchange(socket, 'ping over port-forward\n', true)).toBe('ping over port-forward\n');
  });

  it('starts a service on first dial without start()', async () => {
    const services = new PodServices();
    all.push(services);
    const socket = await services.dial(pod, 7);
    expect(await exchange(socket, 'lazy', true)).toBe('lazy');
  });

  it('rejects a port the pod does not serve with the kubelet text', async () => {
    const services = new PodServices([pod]);
    all.push(services);
    await services.start();
    const err = await services.dial(pod, 8080).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortForwardRefusedError);
    expect((err as Error).message).toBe(refusal(pod.uid, 8080));
    expect((err as PortForwardRefusedError).code).toBe('KW_ERR_DEMO_PORT_REFUSED');
  });

  it('rejects a pod that is not running, and every dial after stop()', async () => {
    const pending = fakePod({ name: 'pending', uid: 'u-pending', phase: 'Pending' });
    const services = new PodServices([pod, pending]);
    all.push(services);
    await services.start();
    await expect(services.dial(pending, 80)).rejects.toThrow(refusal('u-pending', 80));
    const open = await services.dial(pod, 7);
    open.resume();
    // The dialled socket is half-open capable: the server going away shows as 'end'.
    const ended = new Promise((resolve) => open.once('end', resolve));
    await services.stop();
    await ended;
    open.destroy();
    await expect(services.dial(pod, 80)).rejects.toThrow(refusal(pod.uid, 80));
  });
});
