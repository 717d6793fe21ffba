/** A self-signed client certificate (CN=kubewire-test-user, one O per group, clientAuth) for mutual-TLS tests. */
import { generateKeyPairSync } from 'node:crypto';
import { certificatePem, extKeyUsage, issueCertificate, KeyUsage, keyUsage } from '../../src/tls/certificate.js';

export interface ClientCertificate {
  certPem: string;
  keyPem: string;
}

export async function clientCertificate(cn = 'kubewire-test-user', groups: string[] = []): Promise<ClientCertificate> {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = issueCertificate({
    // The API server reads the groups from the O attributes (x509 CommonNameUserConversion).
    subject: [['CN', cn], ...groups.map((g) => ['O', g] as const)],
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [keyUsage([KeyUsage.digitalSignature]), extKeyUsage(['clientAuth'])],
  });
  return { certPem: certificatePem(cert), keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}
