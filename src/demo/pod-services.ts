/**
 * Real local services behind the demo pods' ports, for `kubectl port-forward`: an HTTP server
 * for each `http` port and a TCP echo server for each `echo` port, all on 127.0.0.1 with a
 * port the OS picks. `dial` connects a forwarded stream to the right one, or rejects with the
 * text a kubelet writes on the port-forward error stream (protocol.md A §3a).
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { DemoPod, DialPodPort } from './contracts.js';

/** The kubelet's refusal, verbatim (trailing space included); kubectl prints it and exits. */
export class PortForwardRefusedError extends Error {
  readonly code = 'KW_ERR_DEMO_PORT_REFUSED';

  constructor(pod: DemoPod, port: number) {
    super(
      `error forwarding port ${port} to pod ${pod.uid}, uid : failed to execute portforward in network namespace ` +
        `"/var/run/netns/cni-${pod.uid}": failed to connect to localhost:${port} inside namespace "${pod.uid}", ` +
        `IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused IPv6 dial tcp6: address localhost: no suitable address `,
    );
  }
}

interface LocalService {
  server: net.Server;
  sockets: Set<net.Socket>;
  localPort: number;
}

export class PodServices {
  private readonly services = new Map<string, Promise<LocalService>>();
  private stopped = false;

  constructor(private readonly pods: Iterable<DemoPod> = []) {}

  /** Starts the service of every port of every Running pod. */
  async start(): Promise<void> {
    this.stopped = false;
    const starting: Promise<LocalService>[] = [];
    for (const pod of this.pods) {
      if (pod.phase !== 'Running') continue;
      for (const p of pod.ports) starting.push(this.serviceFor(pod, p.port));
    }
    await Promise.all(starting);
  }

  /** Closes every server and every open connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    const services = [...this.services.values()];
    this.services.clear();
    await Promise.all(
      services.map(async (pending) => {
        const s = await pending.catch(() => null);
        if (!s) return;
        for (const socket of s.sockets) socket.destroy();
        await new Promise<void>((resolve) => s.server.close(() => resolve()));
      }),
    );
  }

  /** The local port serving a pod port (started on demand), or null if the pod does not serve it. */
  async localPort(pod: DemoPod, port: number): Promise<number | null> {
    if (this.stopped || pod.phase !== 'Running' || !pod.ports.some((p) => p.port === port)) return null;
    return (await this.serviceFor(pod, port)).localPort;
  }

  /** Connects to the pod port; the Duplex is half-open capable, like the kubelet's stream. */
  readonly dial: DialPodPort = async (pod, port) => {
    const localPort = await this.localPort(pod, port).catch(() => null);
    if (localPort === null) throw new PortForwardRefusedError(pod, port);
    return new Promise<Duplex>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: localPort, allowHalfOpen: true });
      const onError = (): void => reject(new PortForwardRefusedError(pod, port));
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        // An unhandled 'error' would kill the process; the caller adds its own listener too.
        socket.on('error', () => {});
        resolve(socket);
      });
    });
  };

  private serviceFor(pod: DemoPod, port: number): Promise<LocalService> {
    const key = `${pod.uid}:${port}`;
    let pending = this.services.get(key);
    if (!pending) {
      const spec = pod.ports.find((p) => p.port === port);
      const server = spec?.protocol === 'http' ? createHttpServer(pod, port, spec.name) : createEchoServer();
      pending = listen(server);
      this.services.set(key, pending);
    }
    return pending;
  }
}

function listen(server: net.Server): Promise<LocalService> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const addr = server.address() as net.AddressInfo;
      resolve({ server, sockets, localPort: addr.port });
    });
  });
}

function createEchoServer(): net.Server {
  // Half-open: after the client's FIN every byte is still echoed, then the server ends too.
  return net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.pipe(socket);
  });
}

function createHttpServer(pod: DemoPod, port: number, portName: string): http.Server {
  const name = escapeHtml(pod.name);
  const page = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>kubewire demo: ${name}</title></head>`,
    `<body><h1>kubewire demo: ${name}</h1>`,
    `<p>Pod ${escapeHtml(pod.namespace)}/${name} (IP ${escapeHtml(pod.podIP)}, node ${escapeHtml(pod.nodeName)}) ` +
      `answers on port ${port} (${escapeHtml(portName)}).</p>`,
    '<p>You reached it through <code>kubectl port-forward</code> and the kubewire demo cluster.</p>',
    '</body></html>',
    '',
  ].join('\n');
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') send(res, 200, 'text/plain', 'ok\n');
    else if (path === '/' || path === '/index.html') send(res, 200, 'text/html', page);
    else send(res, 404, 'text/plain', 'not found\n');
  });
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(body) }).end(body);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
