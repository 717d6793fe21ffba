/**
 * The chain's hash input: RFC 8785 canonical JSON, held to the `canonicalize` package (the
 * reference implementation's author's) on random JSON, lone surrogates included; and the
 * linker's lines, whose hashes verify from the line alone.
 */
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, ChainLinker, GENESIS, keyIdOf, recordHash } from '../../src/audit/chain.js';

function reference(value: unknown): string | Error {
  try {
    return canonicalize(value) ?? new Error('no form');
  } catch (e) {
    return e as Error;
  }
}

function ours(value: unknown): string | Error {
  try {
    return canonicalJson(value);
  } catch (e) {
    return e as Error;
  }
}

describe('canonicalJson', () => {
  it('matches the canonicalize package on any JSON value, and refuses what it refuses', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), (value) => {
        const want = reference(value);
        const got = ours(value);
        if (want instanceof Error) expect(got).toBeInstanceOf(Error);
        else expect(got).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts keys by UTF-16 code units and writes numbers as ECMAScript does (RFC 8785 examples)', () => {
    expect(canonicalJson({ b: [1e21, 0.000001, -0, 4.5], a: { '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, 'ö': 4 } })).toBe(
      '{"a":{"\\r":2,"ö":4,"€":1,"😀":3},"b":[1e+21,0.000001,0,4.5]}',
    );
  });
});

describe('ChainLinker', () => {
  it('links records: each line carries prev and a hash of itself without the hash', () => {
    const key = Buffer.from('0123456789abcdef');
    for (const k of [null, key]) {
      const linker = new ChainLinker(k);
      const a = JSON.parse(linker.link({ v: 1, seq: 1, type: 'x', note: 'a' }).line);
      const b = JSON.parse(linker.link({ v: 1, seq: 2, type: 'y', note: 'b', nested: { z: 1, a: [1, 'two'] } }).line);
      expect(a.prev).toBe(GENESIS);
      expect(b.prev).toBe(a.hash);
      const { hash, ...rest } = b;
      expect(recordHash(rest, k)).toBe(hash);
      expect(Object.keys(b).slice(-2)).toEqual(['prev', 'hash']);
    }
    expect(keyIdOf(key)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('writes a lone surrogate as U+FFFD rather than failing the record', () => {
    const linker = new ChainLinker(null);
    const line = JSON.parse(linker.link({ v: 1, seq: 1, type: 'x', note: 'bad \ud800 text' }).line);
    expect(line.note).toBe('bad \ufffd text');
    const { hash, ...rest } = line;
    expect(recordHash(rest, null)).toBe(hash);
  });
});
