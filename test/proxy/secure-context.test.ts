/**
 * Upstream TLS contexts are made once per set of material (upstream-dial.ts secureContextFor):
 * the same CA and client certificate, read again for the next dial, give the same context; other
 * material (a rotated certificate) a new one; and a dial through a reused context still checks
 * the server against that CA.
 */
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secureContextFor } from '../../src/proxy/upstream-dial.js';
import { createDemoTls, type DemoTls } from '../../src/tls/local-ca.js';

let a: DemoTls;
let b: DemoTls;
let server: tls.Server;
let port: number;

beforeAll(async () => {
  [a, b] = await Promise.all([createDemoTls(), createDemoTls()]);
  server = tls.createServer({ cert: a.certPem, key: a.keyPem }, (s) => s.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function handshake(options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ ...options, secureContext: secureContextFor(options), host: '127.0.0.1', port, servername: 'localhost' });
    s.once('secureConnect', () => {
      s.destroy();
      resolve('ok');
    });
    s.once('error', (e) => resolve(e.message));
  });
}

describe('upstream secure contexts', () => {
  it('are reused for the same material, compared by value', () => {
    const first = secureContextFor({ ca: Buffer.from(a.caCertPem), rejectUnauthorized: true });
    expect(secureContextFor({ ca: Buffer.from(a.caCertPem), servername: 'other' })).toBe(first);
    expect(secureContextFor({ ca: [a.caCertPem] })).not.toBe(first);
    expect(secureContextFor({ ca: Buffer.from(b.caCertPem) })).not.toBe(first);
    expect(secureContextFor({ ca: Buffer.from(a.caCertPem), cert: a.certPem, key: a.keyPem })).not.toBe(first);
  });

  it('keep at most the newest few', () => {
    const kept = secureContextFor({ ca: a.caCertPem });
    for (let i = 0; i < 20; i++) secureContextFor({ ca: a.caCertPem, passphrase: `p${i}` });
    expect(secureContextFor({ ca: a.caCertPem })).not.toBe(kept);
  });

  it('still verify the server against their CA', async () => {
    expect(await handshake({ ca: a.caCertPem })).toBe('ok');
    expect(await handshake({ ca: a.caCertPem })).toBe('ok');
    expect(await handshake({ ca: b.caCertPem })).toMatch(/certificate/i);
  });
});
