/**
 * The chain's hash inputs. Format 1 (older logs): RFC 8785 canonical JSON, held to the
 * `canonicalize` package (the reference implementation's author's) on random JSON, lone
 * surrogates included. Format 2 (what the linker writes): the line's bytes without its hash
 * member, so the hash verifies from the line alone and any changed byte breaks it.
 */
import canonicalize from 'canonicalize';
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, ChainLinker, chainInfo, GENESIS, keyIdOf, lineHashes } from '../../src/audit/chain.js';

const KEY = Buffer.from('0123456789abcdef');

/** The line of a linked record without its newline, as verify reads it. */
const lineBytes = (data: Buffer): Buffer => data.subarray(0, data.length - 1);

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
  it('links records: each line carries prev and a hash of its bytes without the hash member', () => {
    for (const k of [null, KEY]) {
      const linker = new ChainLinker(k);
      const first = linker.link({ v: 1, seq: 1, type: 'x', note: 'a' });
      const second = linker.link({ v: 1, seq: 2, type: 'y', note: 'b', nested: { z: 1, a: [1, 'two'] } });
      const a = JSON.parse(first.line);
      const b = JSON.parse(second.line);
      expect(a.prev).toBe(GENESIS);
      expect(b.prev).toBe(a.hash);
      expect(second.hash).toBe(b.hash);
      expect(second.data.toString('utf8')).toBe(`${second.line}\n`);
      expect(lineHashes(lineBytes(second.data), k)).toEqual({ claimed: b.hash, computed: b.hash });
      // The hash input, spelled out: the line without `,"hash":"…"`.
      const input = second.line.replace(`,"hash":"${b.hash}"`, '');
      const want = k ? createHmac('sha256', k).update(input).digest('hex') : createHash('sha256').update(input).digest('hex');
      expect(b.hash).toBe(want);
      expect(Object.keys(b).slice(-2)).toEqual(['prev', 'hash']);
    }
    expect(keyIdOf(KEY)).toMatch(/^[0-9a-f]{16}$/);
    expect(chainInfo(null)).toEqual({ algorithm: 'sha256', keyId: null, format: 3 });
  });

  it('puts a payload after the other fields, then prev and hash', () => {
    const linker = new ChainLinker(null);
    const line = linker.link({ v: 1, seq: 1, type: 'k8s.data', payload: 'aGk=', size: 2, note: 'hi' }).line;
    expect(line).toMatch(/^\{"v":1,"seq":1,"type":"k8s.data","size":2,"note":"hi","payload":"aGk=","prev":"0{64}","hash":"[0-9a-f]{64}"\}$/);
  });

  it('keeps a lone surrogate as its JSON escape: the hash is over the bytes, which need no canonical form', () => {
    const linker = new ChainLinker(null);
    const { line, data } = linker.link({ v: 1, seq: 1, type: 'x', note: 'bad \ud800 text' });
    expect(line).toContain('"note":"bad \\ud800 text"');
    const parsed = JSON.parse(line);
    expect(parsed.note).toBe('bad \ud800 text');
    expect(lineHashes(lineBytes(data), null)!.computed).toBe(parsed.hash);
  });

  it('on random records: the line parses to the record with prev and hash, the hash verifies, and a changed byte fails it', () => {
    const record = fc.record({
      v: fc.constant(1),
      seq: fc.nat(),
      type: fc.constantFrom('k8s.data', 'pf.data', 'audit.seal', 'finding'),
      note: fc.string({ unit: 'binary' }),
      extra: fc.dictionary(fc.string({ unit: 'grapheme' }), fc.jsonValue({ maxDepth: 2 })),
      payload: fc.option(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64')), { nil: undefined }),
    }).map(({ payload, ...r }) => (payload === undefined ? r : { ...r, payload }));
    fc.assert(
      fc.property(record, fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), (rec, keyed, pos, flip) => {
        const k = keyed ? KEY : null;
        const linker = new ChainLinker(k, 'a'.repeat(64));
        const { data, hash } = linker.link(rec);
        const parsed = JSON.parse(data.toString('utf8'));
        expect(parsed).toEqual({ ...JSON.parse(JSON.stringify(rec)), prev: 'a'.repeat(64), hash });
        const bytes = lineBytes(data);
        expect(lineHashes(bytes, k)).toEqual({ claimed: hash, computed: hash });
        const changed = Buffer.from(bytes);
        const at = pos % changed.length;
        changed[at] = changed[at]! ^ flip;
        const h = lineHashes(changed, k);
        expect(h === null || h.claimed !== h.computed).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
