/**
 * Signed seals (`--audit-signing-key`): every seal of the chain (a session's, a file's, the
 * final one) carries `signature`, an Ed25519 signature (RFC 8032, as node:crypto makes it) by
 * the operator's private key. An HMAC chain (`--audit-key-file`) proves that whoever holds the
 * key wrote the log, and so can whoever checks it; a signature can be checked with the public
 * key alone (`kubewire verify --public-key`), by people who could not have written it.
 *
 * What is signed: the RFC 8785 canonical JSON (chain.ts `canonicalJson`) of the seal as it is
 * linked, without `signature` and `hash`, with `prev`, the hash of the record before it, under a
 * domain prefix. The seal's `note` is signed too: a plain chain's hashes can be recomputed by
 * anyone, so only the signature vouches for what the seal says to a reader. `prev` commits to every record before the seal through the chain, so
 * a valid signature on a final seal vouches for the whole log; the seal's own fields (counts,
 * last hash, final) are signed with it.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ChainInfo, KubewireEvent } from '../events/types.js';
import { canonicalJson } from './chain.js';
import type { SealSigner } from './audit-sink.js';

const DOMAIN = 'kubewire audit seal v1\n';

export class SigningKeyError extends Error {}

/** A name for a public key: 16 hex digits of a SHA-256 of its SubjectPublicKeyInfo (DER). */
export function signingKeyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** The bytes a seal's signature is over. */
export function sealMessage(seal: Record<string, unknown>, prev: string): Buffer {
  const { signature: _s, hash: _h, prev: _p, ...rest } = seal;
  return Buffer.from(DOMAIN + canonicalJson({ ...rest, prev }), 'utf8');
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SigningKeyError(`cannot read the ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
}

/** An Ed25519 private key, PEM (PKCS#8, `openssl genpkey -algorithm ed25519`). */
export async function readSigningKey(path: string): Promise<string> {
  const pem = await readPem(path, 'signing key');
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new SigningKeyError(`${path} is not a PEM private key (make one with: openssl genpkey -algorithm ed25519 -out ${path})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${path} is a ${key.asymmetricKeyType ?? 'secret'} key; --audit-signing-key takes an Ed25519 private key`);
  return pem;
}

/** An Ed25519 public key, PEM (SPKI, `openssl pkey -in key.pem -pubout`); a private key gives its public half. */
export async function readPublicKey(path: string): Promise<KeyObject> {
  const pem = await readPem(path, 'public key');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new SigningKeyError(`${path} is not a PEM public key (make one with: openssl pkey -in signing.pem -pubout -out ${path})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${path} is a ${key.asymmetricKeyType ?? 'secret'} key; --public-key takes an Ed25519 public key`);
  return key;
}

export function sealSigner(pem: string): SealSigner {
  const key = createPrivateKey(pem);
  const info: NonNullable<ChainInfo['signature']> = { algorithm: 'ed25519', keyId: signingKeyIdOf(key) };
  return {
    info,
    sign(seal: KubewireEvent, prev: string): KubewireEvent {
      const signature = sign(null, sealMessage(seal as unknown as Record<string, unknown>, prev), key).toString('base64');
      return { ...seal, signature } as KubewireEvent;
    },
  };
}

/** Whether a parsed seal record carries a valid signature by `key`. */
export function sealSignatureValid(seal: Record<string, unknown>, key: KeyObject): boolean {
  const sig = seal['signature'];
  if (typeof sig !== 'string' || typeof seal['prev'] !== 'string') return false;
  try {
    return verify(null, sealMessage(seal, seal['prev']), key, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}
