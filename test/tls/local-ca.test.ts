/**
 * The demo CA and its loopback server certificate, written by our own DER code: node's
 * X509Certificate and openssl read them as the file header promises, openssl verifies the
 * chain for a TLS server, and a real TLS handshake to 127.0.0.1 succeeds with the CA alone.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipOctets } from '../../src/tls/certificate.js';
import * as der from '../../src/tls/der.js';
import { createDemoTls, type DemoTls } from '../../src/tls/local-ca.js';

const hasOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
const root = mkdtempSync(join(tmpdir(), 'kubewire-local-ca-'));

let tls: DemoTls;
let ca: X509Certificate;
let leaf: X509Certificate;

beforeAll(async () => {
  tls = await createDemoTls();
  ca = new X509Certificate(tls.caCertPem);
  leaf = new X509Certificate(tls.certPem);
  writeFileSync(join(root, 'ca.pem'), tls.caCertPem);
  writeFileSync(join(root, 'leaf.pem'), tls.certPem);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function openssl(...args: string[]): string {
  const run = spawnSync('openssl', args, { encoding: 'utf8', cwd: root });
  if (run.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${run.stderr}`);
  return run.stdout;
}

describe('createDemoTls', () => {
  it('returns PEM that ends in a newline, and a PKCS#8 P-256 key that belongs to the leaf', () => {
    expect(tls.caCertPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/);
    expect(tls.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/);
    expect(tls.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n$/);
    const key = createPrivateKey(tls.keyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(leaf.checkPrivateKey(key)).toBe(true);
  });

  it('chains the leaf to the CA', () => {
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.verify(leaf.publicKey)).toBe(false);
  });

  it('names the CA and the server, CN then O as stored', () => {
    expect(ca.subject).toBe('CN=kubewire-demo-ca\nO=kubewire');
    expect(ca.issuer).toBe(ca.subject);
    expect(leaf.subject).toBe('CN=kubewire-demo-apiserver\nO=kubewire');
    expect(leaf.issuer).toBe(ca.subject);
  });

  it('covers 127.0.0.1, ::1 and localhost', () => {
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkIP('::1')).toBe('::1');
    expect(leaf.checkIP('127.0.0.2')).toBeUndefined();
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkHost('example.com')).toBeUndefined();
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost');
  });

  it('has positive 16-octet-or-shorter serials that differ', async () => {
    const other = new X509Certificate((await createDemoTls()).caCertPem);
    for (const cert of [ca, leaf, other]) {
      expect(cert.serialNumber).toMatch(/^[0-9A-F]+$/);
      expect(cert.serialNumber.length).toBeLessThanOrEqual(32);
      // Node prints the magnitude; a set top bit would have needed a 17th (zero) octet.
      expect(parseInt(cert.serialNumber.padStart(32, '0').slice(0, 2), 16) & 0x80).toBe(0);
    }
    expect(new Set([ca.serialNumber, leaf.serialNumber, other.serialNumber]).size).toBe(3);
  });

  it('is valid from an hour ago for a year', () => {
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    expect(Date.now() - from).toBeGreaterThan(3_590_000);
    expect(Date.now() - from).toBeLessThan(3_700_000);
    expect(to - from).toBe(365 * 24 * 3_600_000);
    expect(ca.validFrom).toBe(leaf.validFrom);
    expect(ca.validTo).toBe(leaf.validTo);
  });

  it.skipIf(!hasOpenssl)('carries the extensions openssl expects of a CA and a TLS server', () => {
    const caText = openssl('x509', '-in', 'ca.pem', '-noout', '-text');
    expect(caText).toContain('Version: 3 (0x2)');
    expect(caText).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(caText).toContain('NIST CURVE: P-256');
    expect(caText).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(caText).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign\n/);
    const caKeyId = /X509v3 Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(caText)?.[1];
    expect(caKeyId).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);

    const leafText = openssl('x509', '-in', 'leaf.pem', '-noout', '-text');
    expect(leafText).toContain('Version: 3 (0x2)');
    expect(leafText).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(leafText).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(leafText).toMatch(/X509v3 Extended Key Usage: \s*\n\s+TLS Web Server Authentication\n/);
    expect(leafText).toMatch(/Subject Alternative Name: \s*\n\s+IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost\n/);
    expect(leafText).toMatch(/X509v3 Subject Key Identifier:\s*\n\s*([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);
    expect(leafText).toMatch(new RegExp(`X509v3 Authority Key Identifier:\\s*\\n\\s*(keyid:)?${caKeyId}\\n`));

    // Key identifier method 1: SHA-1 of the subjectPublicKey bits (the 65-octet P-256 point).
    const point = der.subjectPublicKeyBits(ca.publicKey.export({ type: 'spki', format: 'der' }));
    expect(point.length).toBe(65);
    expect(point[0]).toBe(0x04);
    const sha1 = createHash('sha1').update(point).digest('hex').toUpperCase().match(/../g)!.join(':');
    expect(caKeyId).toBe(sha1);
  });

  it.skipIf(!hasOpenssl)('verifies with openssl as a TLS server chain', () => {
    expect(openssl('verify', '-CAfile', 'ca.pem', '-purpose', 'sslserver', 'leaf.pem').trim()).toBe('leaf.pem: OK');
    const wrong = spawnSync('openssl', ['verify', '-CAfile', 'ca.pem', '-purpose', 'sslclient', 'leaf.pem'], { cwd: root, encoding: 'utf8' });
    expect(wrong.status).not.toBe(0);
  });

  it('serves a real TLS handshake on 127.0.0.1 that trusts only the CA', async () => {
    const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const fetchWith = (ca: string): Promise<string> =>
        new Promise((resolve, reject) => {
          get({ host: '127.0.0.1', port, path: '/', ca, agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve(body));
          }).on('error', reject);
        });
      expect(await fetchWith(tls.caCertPem)).toBe('ok');
      const stranger = await createDemoTls();
      await expect(fetchWith(stranger.caCertPem)).rejects.toThrow(/certificate/i);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('DER helpers', () => {
  const hex = (b: Buffer): string => b.toString('hex');

  it('encodes INTEGERs in the fewest octets, positive', () => {
    expect(hex(der.integer(0))).toBe('020100');
    expect(hex(der.integer(2))).toBe('020102');
    expect(hex(der.integer(128))).toBe('02020080');
    expect(hex(der.integer(Buffer.from('00007f', 'hex')))).toBe('02017f');
    expect(hex(der.integer(Buffer.from('0080', 'hex')))).toBe('02020080');
    expect(hex(der.integer(Buffer.from('d61c', 'hex')))).toBe('020300d61c');
    expect(hex(der.integer(Buffer.alloc(16)))).toBe('020100');
  });

  it('encodes lengths, OIDs, named bits and booleans', () => {
    expect(hex(der.octetString(Buffer.alloc(127))).slice(0, 4)).toBe('047f');
    expect(hex(der.octetString(Buffer.alloc(128))).slice(0, 6)).toBe('048180');
    expect(hex(der.octetString(Buffer.alloc(300))).slice(0, 8)).toBe('0482012c');
    expect(hex(der.oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(der.oid('2.5.29.37'))).toBe('0603551d25');
    expect(hex(der.namedBits([0]))).toBe('03020780');
    expect(hex(der.namedBits([5, 6, 0]))).toBe('03020186');
    expect(hex(der.namedBits([8]))).toBe('0303070080');
    expect(hex(der.boolean(true))).toBe('0101ff');
  });

  it('writes UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', () => {
    expect(der.time(new Date('2026-12-01T23:55:32.789Z')).toString('latin1', 2)).toBe('261201235532Z');
    expect(der.time(new Date('2026-12-01T23:55:32Z'))[0]).toBe(0x17);
    expect(der.time(new Date('2049-12-31T23:59:59Z')).toString('latin1', 2)).toBe('491231235959Z');
    const later = der.time(new Date('2050-01-01T00:00:00Z'));
    expect(later[0]).toBe(0x18);
    expect(later.toString('latin1', 2)).toBe('20500101000000Z');
  });

  it('sorts SET OF members and reads back what it writes', () => {
    expect(hex(der.setOf(der.integer(2), der.integer(1)))).toBe('3106020101020102');
    const outer = der.sequence(der.integer(5), der.octetString(Buffer.alloc(200)));
    const read = der.readElement(outer);
    expect(read.tag).toBe(0x30);
    expect(read.end).toBe(outer.length);
    const first = der.readElement(read.contents);
    expect(hex(first.contents)).toBe('05');
    expect(der.readElement(read.contents, first.end).contents.length).toBe(200);
  });

  it('turns IP addresses into network-order octets', () => {
    expect(hex(ipOctets('127.0.0.1'))).toBe('7f000001');
    expect(hex(ipOctets('::1'))).toBe('00000000000000000000000000000001');
    expect(hex(ipOctets('fe80::1:2'))).toBe('fe800000000000000000000000010002');
    expect(hex(ipOctets('2001:db8:0:0:0:0:0:1'))).toBe('20010db8000000000000000000000001');
    expect(() => ipOctets('localhost')).toThrow();
  });
});
