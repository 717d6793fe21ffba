/**
 * X.509 v3 certificates (RFC 5280) signed with ECDSA P-256 / SHA-256, written with the DER
 * helpers in der.ts and node:crypto: enough for the demo CA, its loopback server certificate
 * and the client certificates of the tests.
 */
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import * as der from './der.js';

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2', // RFC 5758 §3.2
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** One attribute of a distinguished name. */
export type NameAttribute = readonly ['CN' | 'O', string];

/**
 * A Name (RFC 5280 §4.1.2.4): one RDN per attribute, in the order given, which is the order
 * stored (and the order `openssl x509 -text` prints; RFC 4514 strings show it reversed).
 * Values are UTF8String, as §4.1.2.6 asks of new certificates.
 */
export function name(attributes: readonly NameAttribute[]): Buffer {
  return der.sequence(
    ...attributes.map(([type, value]) =>
      der.setOf(der.sequence(der.oid(type === 'CN' ? OID.commonName : OID.organizationName), der.utf8String(value))),
    ),
  );
}

/** A random positive serial number (RFC 5280 §4.1.2.2): 16 random octets, top bit clear. */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  if (serial.every((octet) => octet === 0)) serial[15] = 1; // positive, never zero
  return serial; // der.integer drops leading zero octets as DER asks
}

/** Key identifier method 1 of RFC 5280 §4.2.1.2: SHA-1 of the subjectPublicKey BIT STRING's bits. */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1').update(der.subjectPublicKeyBits(spki)).digest();
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (§4.1); DER omits a FALSE default. */
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** §4.2.1.9, always critical here. cA FALSE is the default and so is left out, leaving an empty SEQUENCE. */
export function basicConstraints(ca: boolean, pathLength?: number): Buffer {
  const fields = ca ? [der.boolean(true), ...(pathLength === undefined ? [] : [der.integer(pathLength)])] : [];
  return extension(OID.basicConstraints, true, der.sequence(...fields));
}

/** KeyUsage bit numbers, RFC 5280 §4.2.1.3. */
export const KeyUsage = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

/** §4.2.1.3, critical. */
export function keyUsage(bits: readonly number[]): Buffer {
  return extension(OID.keyUsage, true, der.namedBits(bits));
}

/** §4.2.1.12, not critical. */
export function extKeyUsage(purposes: ReadonlyArray<'serverAuth' | 'clientAuth'>): Buffer {
  return extension(OID.extKeyUsage, false, der.sequence(...purposes.map((purpose) => der.oid(OID[purpose]))));
}

/** §4.2.1.6, not critical (the subject is not empty): iPAddress [7] and dNSName [2] GeneralNames. */
export function subjectAltName(names: ReadonlyArray<{ ip: string } | { dns: string }>): Buffer {
  const general = names.map((n) => ('ip' in n ? der.implicit(7, ipOctets(n.ip)) : der.implicit(2, dnsOctets(n.dns))));
  return extension(OID.subjectAltName, false, der.sequence(...general));
}

/** A dNSName is an IA5String (ASCII), §4.2.1.6. */
function dnsOctets(host: string): Buffer {
  if (!/^[\x21-\x7e]+$/.test(host)) throw new RangeError(`not an ASCII host name: ${host}`);
  return Buffer.from(host, 'latin1');
}

/** §4.2.1.2, not critical. */
export function subjectKeyIdentifier(id: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, der.octetString(id));
}

/** §4.2.1.1, not critical: keyIdentifier [0] only. */
export function authorityKeyIdentifier(id: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, id)));
}

/** An IP address in network byte order: 4 octets for IPv4, 16 for IPv6 (§4.2.1.6). */
export function ipOctets(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Hexadecimal groups only; an IPv6 address with a dotted IPv4 tail is not needed here.
  if (!isIPv6(address) || address.includes('.') || address.includes('%')) throw new RangeError(`unsupported IP address: ${address}`);
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  words.forEach((word, i) => out.writeUInt16BE(word, i * 2));
  return out;
}

export interface CertificateSpec {
  subject: readonly NameAttribute[];
  /** The issuer's name; the subject's for a self-signed certificate. */
  issuer?: readonly NameAttribute[];
  /** Big-endian magnitude; a random 16-octet one when left out. */
  serialNumber?: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** The certified key (P-256). */
  publicKey: KeyObject;
  /** The issuer's private key (P-256); the subject's own for a self-signed certificate. */
  signingKey: KeyObject;
  /** Encoded extensions, from the functions above, in the order they are to appear. */
  extensions: Buffer[];
}

/**
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (§4.1),
 * version v3, signed ecdsa-with-SHA256 (its AlgorithmIdentifier has no parameters, RFC 5758
 * §3.2); node's sign() returns the DER Ecdsa-Sig-Value that the BIT STRING holds (RFC 3279 §2.2.3).
 */
export function issueCertificate(spec: CertificateSpec): Buffer {
  const algorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)), // version v3
    der.integer(spec.serialNumber ?? randomSerial()),
    algorithm,
    name(spec.issuer ?? spec.subject),
    der.sequence(der.time(spec.notBefore), der.time(spec.notAfter)),
    name(spec.subject),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    ...(spec.extensions.length > 0 ? [der.explicit(3, der.sequence(...spec.extensions))] : []),
  );
  const signature = sign('sha256', tbs, spec.signingKey);
  return der.sequence(tbs, algorithm, der.bitString(signature));
}

export function certificatePem(certificate: Uint8Array): string {
  return der.pem('CERTIFICATE', certificate);
}
