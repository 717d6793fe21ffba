/**
 * A throwaway certificate authority and a loopback server certificate for the demo cluster.
 * Go's crypto/tls (kubectl) checks the chain, the IP SANs (kubectl sends no SNI to an IP
 * address and matches the IP against the SANs) and, on the leaf, the serverAuth EKU. It
 * rejects negative serial numbers since Go 1.23; the generator keeps them positive.
 */
import { webcrypto } from 'node:crypto';

type X509 = typeof import('@peculiar/x509');

export interface DemoTls {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const HOUR_MS = 3_600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;

let loaded: Promise<X509> | null = null;

/**
 * @peculiar/x509 2.x loads tsyringe, which needs the Reflect metadata polyfill in place
 * before it is imported; hence the dynamic import after it.
 */
function loadX509(): Promise<X509> {
  loaded ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<X509['cryptoProvider']['set']>[0]);
    return x509;
  })();
  return loaded;
}

export async function createDemoTls(): Promise<DemoTls> {
  const x509 = await loadX509();
  const subtle = webcrypto.subtle;
  // Backdated an hour so a client whose clock runs a little behind still accepts it.
  const notBefore = new Date(Date.now() - HOUR_MS);
  const notAfter = new Date(notBefore.getTime() + YEAR_MS);

  const caKeys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=kubewire-demo-ca,O=kubewire',
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const serverKeys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const serverCert = await x509.X509CertificateGenerator.create({
    subject: 'CN=kubewire-demo-apiserver,O=kubewire',
    issuer: caCert.subjectName,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
        { type: 'dns', value: 'localhost' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const pkcs8 = await subtle.exportKey('pkcs8', serverKeys.privateKey);
  return {
    caCertPem: caCert.toString('pem') + '\n',
    certPem: serverCert.toString('pem') + '\n',
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n',
  };
}
