/**
 * A throwaway certificate authority and a loopback server certificate for the demo cluster.
 * Go's crypto/tls (kubectl) checks the chain, the IP SANs (kubectl sends no SNI to an IP
 * address and matches the IP against the SANs) and, on the leaf, the serverAuth EKU. It
 * rejects negative serial numbers since Go 1.23; the serials here are always positive.
 *
 * Both certificates are X.509 v3, ECDSA P-256 signed ecdsa-with-SHA256, valid for a year
 * from an hour ago:
 * - CA: CN=kubewire-demo-ca,O=kubewire; basicConstraints critical CA:TRUE pathlen 0, keyUsage
 *   critical keyCertSign|cRLSign|digitalSignature, subjectKeyIdentifier.
 * - server: CN=kubewire-demo-apiserver,O=kubewire; basicConstraints critical CA:FALSE,
 *   keyUsage critical digitalSignature, extKeyUsage serverAuth, subjectAltName IP 127.0.0.1,
 *   IP ::1, DNS localhost, subjectKeyIdentifier, authorityKeyIdentifier (the CA's key id).
 */
import { generateKeyPairSync } from 'node:crypto';
import { isIP } from 'node:net';
import {
  authorityKeyIdentifier,
  basicConstraints,
  certificatePem,
  extKeyUsage,
  issueCertificate,
  keyIdentifier,
  KeyUsage,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
  type NameAttribute,
} from './certificate.js';

export interface DemoTls {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

const HOUR_MS = 3_600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;

/** Stored CN first, then O (openssl prints "CN = kubewire-demo-ca, O = kubewire"). */
const CA_NAME: NameAttribute[] = [['CN', 'kubewire-demo-ca'], ['O', 'kubewire']];
const SERVER_NAME: NameAttribute[] = [['CN', 'kubewire-demo-apiserver'], ['O', 'kubewire']];

/**
 * `names`: more DNS names or IP addresses for the server certificate (a gateway reached as
 * `kubewire.example.internal` or on a pod IP); loopback is always in it.
 */
export async function createDemoTls(names: readonly string[] = []): Promise<DemoTls> {
  // Backdated an hour so a client whose clock runs a little behind still accepts it.
  const notBefore = new Date(Date.now() - HOUR_MS);
  const notAfter = new Date(notBefore.getTime() + YEAR_MS);

  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caKeyId = keyIdentifier(caKeys.publicKey);
  const caCert = issueCertificate({
    subject: CA_NAME,
    notBefore,
    notAfter,
    publicKey: caKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      basicConstraints(true, 0),
      keyUsage([KeyUsage.keyCertSign, KeyUsage.cRLSign, KeyUsage.digitalSignature]),
      subjectKeyIdentifier(caKeyId),
    ],
  });

  const serverKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serverCert = issueCertificate({
    subject: SERVER_NAME,
    issuer: CA_NAME,
    notBefore,
    notAfter,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      basicConstraints(false),
      keyUsage([KeyUsage.digitalSignature]),
      extKeyUsage(['serverAuth']),
      subjectAltName(altNames(names)),
      subjectKeyIdentifier(keyIdentifier(serverKeys.publicKey)),
      authorityKeyIdentifier(caKeyId),
    ],
  });

  const keyPem = serverKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return {
    caCertPem: certificatePem(caCert),
    certPem: certificatePem(serverCert),
    keyPem: keyPem.endsWith('\n') ? keyPem : keyPem + '\n',
  };
}

function altNames(extra: readonly string[]): Array<{ ip: string } | { dns: string }> {
  const out: Array<{ ip: string } | { dns: string }> = [{ ip: '127.0.0.1' }, { ip: '::1' }, { dns: 'localhost' }];
  const seen = new Set(['127.0.0.1', '::1', 'localhost']);
  for (const raw of extra) {
    const n = raw.replace(/^\[(.*)\]$/, '$1');
    if (n === '' || seen.has(n) || n === '0.0.0.0' || n === '::') continue;
    seen.add(n);
    out.push(isIP(n) ? { ip: n } : { dns: n });
  }
  return out;
}
