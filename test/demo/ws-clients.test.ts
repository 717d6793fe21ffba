/**
 * What the demo cluster serves to WebSocket clients other than kubectl: the v4, v1 and base64
 * channel protocols for exec, and the kubelet's legacy port-forward with ports in the query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DemoCluster } from '../../src/demo/demo-cluster.js';
import { wsSession, type Received } from '../support/ws-client.js';

let cluster: DemoCluster;
beforeAll(async () => {
  cluster = await DemoCluster.start({ tickMs: 100 });
});
afterAll(async () => {
  await cluster?.stop();
});

function connect(path: string, protocols: string[], onOpen?: (ws: WebSocket) => void, untilMessages?: number): Promise<Received> {
  return wsSession(cluster.url.replace('https:', 'wss:') + path, protocols, { ca: cluster.caCertPem, token: cluster.token, ...(onOpen ? { onOpen } : {}), ...(untilMessages !== undefined ? { untilMessages } : {}) });
}

const exec = '/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=echo%20hi%3B%20exit%207&container=app&stdout=true&stderr=true';

describe('exec for WebSocket clients other than kubectl', () => {
  it('v4.channel.k8s.io: binary channels and a JSON status with the exit code', async () => {
    const r = await connect(exec, ['v4.channel.k8s.io']);
    expect(r.protocol).toBe('v4.channel.k8s.io');
    expect(r.messages[0]).toEqual({ binary: true, data: Buffer.of(1) });
    const stdout = Buffer.concat(r.messages.filter((m) => m.data[0] === 1).map((m) => m.data.subarray(1)));
    expect(stdout.toString()).toBe('hi\n');
    const status = JSON.parse(r.messages.find((m) => m.data[0] === 3)!.data.subarray(1).toString());
    expect(status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '7' }] } });
    expect(r.close).toBe(1000);
  });

  it('v4.base64.channel.k8s.io: text frames, channel digit then base64', async () => {
    const r = await connect(exec, ['v4.base64.channel.k8s.io']);
    expect(r.protocol).toBe('v4.base64.channel.k8s.io');
    expect(r.messages.every((m) => !m.binary)).toBe(true);
    expect(r.messages[0]!.data.toString()).toBe('1');
    const out = r.messages.filter((m) => m.data.toString().startsWith('1')).map((m) => Buffer.from(m.data.toString().slice(1), 'base64').toString()).join('');
    expect(out).toBe('hi\n');
    const status = r.messages.find((m) => m.data.toString().startsWith('3'))!;
    expect(JSON.parse(Buffer.from(status.data.toString().slice(1), 'base64').toString())).toMatchObject({ reason: 'NonZeroExitCode' });
  });

  it('channel.k8s.io (v1): the status is plain text on failure', async () => {
    const r = await connect(exec, ['channel.k8s.io']);
    const status = r.messages.find((m) => m.data[0] === 3)!.data.subarray(1).toString();
    expect(status).toContain('exit code 7');
    expect(() => JSON.parse(status)).toThrow();
  });

  it('the first offered protocol the server knows wins; none known is 403 with no body', async () => {
    const r = await connect(exec, ['v99.bogus.k8s.io', 'v4.channel.k8s.io', 'v5.channel.k8s.io']);
    expect(r.protocol).toBe('v4.channel.k8s.io');
    await expect(connect(exec, ['v99.bogus.k8s.io'])).rejects.toThrow('HTTP 403');
  });

  it('v5.channel.k8s.io: stdin, then the close signal ends it', async () => {
    const path = '/api/v1/namespaces/default/pods/worker/exec?command=cat&container=worker&stdin=true&stdout=true&stderr=true';
    const r = await connect(path, ['v5.channel.k8s.io'], (ws) => {
      ws.send(Buffer.concat([Buffer.of(0), Buffer.from('through cat\n')]));
      ws.send(Buffer.of(255, 0));
    });
    const stdout = Buffer.concat(r.messages.filter((m) => m.data[0] === 1).map((m) => m.data.subarray(1)));
    expect(stdout.toString()).toBe('through cat\n');
    expect(JSON.parse(r.messages.find((m) => m.data[0] === 3)!.data.subarray(1).toString())).toEqual({ metadata: {}, status: 'Success' });
  });
});

describe('legacy WebSocket port-forward', () => {
  it('serves ports from the query on channels 2i/2i+1 with the little-endian port prefix', async () => {
    const path = '/api/v1/namespaces/default/pods/web/portforward?ports=80';
    let sent = false;
    const r = await new Promise<Received>((resolve, reject) => {
      const got: Received = { protocol: '', messages: [], close: null };
      const ws = new WebSocket(cluster.url.replace('https:', 'wss:') + path, ['v4.channel.k8s.io'], { ca: cluster.caCertPem, headers: { Authorization: `Bearer ${cluster.token}` } });
      const timer = setTimeout(() => ws.terminate(), 10_000);
      ws.on('open', () => (got.protocol = ws.protocol));
      ws.on('message', (data: Buffer, binary: boolean) => {
        got.messages.push({ binary, data });
        if (!sent && got.messages.length === 2) {
          sent = true;
          ws.send(Buffer.concat([Buffer.of(0), Buffer.from('GET / HTTP/1.0\r\n\r\n')]));
        }
        if (Buffer.concat(got.messages.map((m) => m.data)).includes('</html>')) ws.close(1000);
      });
      ws.on('close', (code) => {
        clearTimeout(timer);
        got.close = code;
        resolve(got);
      });
      ws.on('error', reject);
    });
    expect(r.protocol).toBe('v4.channel.k8s.io');
    expect(r.messages[0]!.data).toEqual(Buffer.of(0, 80, 0));
    expect(r.messages[1]!.data).toEqual(Buffer.of(1, 80, 0));
    const body = Buffer.concat(r.messages.slice(2).filter((m) => m.data[0] === 0).map((m) => m.data.subarray(1))).toString();
    expect(body).toContain('200 OK');
    expect(body).toContain('kubewire demo: web');
  });

  it('an unserved port gets the kubelet error text on its error channel', async () => {
    const r = await connect('/api/v1/namespaces/default/pods/web/portforward?ports=81', ['v4.channel.k8s.io'], undefined, 3);
    const err = r.messages.find((m, i) => i >= 2 && m.data[0] === 1)!;
    expect(err.data.subarray(1).toString()).toMatch(/^error forwarding port 81 to pod .*connection refused/);
  });

  it('no ports is 400 `query parameter "port" is required`', async () => {
    await expect(connect('/api/v1/namespaces/default/pods/web/portforward', ['v4.channel.k8s.io'])).rejects.toThrow('HTTP 400');
  });
});
