/**
 * Signed seals (src/audit/seal-signature.ts): the signature covers every field of the seal but
 * `signature` and `hash`, its `note` included, so a note rewritten in a plain chain (whose
 * hashes anyone can recompute) no longer verifies.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sealSignatureValid, sealSigner } from '../../src/audit/seal-signature.js';
import type { KubewireEvent } from '../../src/events/types.js';

describe('seal signatures', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const pub = createPublicKey(pem);
  const prev = 'sha256:' + 'ab'.repeat(32);
  const seal = { v: 3, seq: 7, ts: '2026-01-01T00:00:00.000Z', type: 'audit.seal', note: 'file sealed: 6 records', scope: 'file', count: 6, last: prev, final: true } as unknown as KubewireEvent;

  it('verifies as signed, and not once the note, a count or prev is changed', () => {
    const signed = { ...(sealSigner(pem).sign(seal, prev) as unknown as Record<string, unknown>), prev, hash: 'sha256:00' };
    expect(sealSignatureValid(signed, pub)).toBe(true);
    expect(sealSignatureValid({ ...signed, hash: 'sha256:11' }, pub)).toBe(true);
    expect(sealSignatureValid({ ...signed, note: 'file sealed: 0 records' }, pub)).toBe(false);
    expect(sealSignatureValid({ ...signed, count: 5 }, pub)).toBe(false);
    expect(sealSignatureValid({ ...signed, prev: 'sha256:' + 'cd'.repeat(32) }, pub)).toBe(false);
  });
});
