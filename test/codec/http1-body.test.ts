import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Anomaly } from '../../src/codec/anomaly.js';
import { AnomalyCode } from '../../src/events/anomaly-codes.js';
import {
  HttpBodyDecoder,
  requestBodyFraming,
  responseBodyFraming,
  type BodyFraming,
} from '../../src/codec/http1-body.js';
import { Http1HeadDecoder, type HttpHead } from '../../src/codec/http1-head.js';
import { oneByteAtATime, splitBySizes } from '../support/split.js';
import { VECTORS_DIR as VECTORS, vectorsAvailable } from '../support/vectors.js';

const available = vectorsAvailable();
const vector = (name: string): Buffer => readFileSync(join(VECTORS, name));
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

function decodeHead(kind: 'request' | 'response', bytes: Buffer): { head: HttpHead; rest: Buffer } {
  const outcome = new Http1HeadDecoder(kind).push(bytes);
  if (outcome.kind !== 'head') throw new Error(`no head: ${JSON.stringify(outcome)}`);
  return { head: outcome.head, rest: outcome.rest };
}

const request = (text: string): HttpHead => decodeHead('request', latin1(text)).head;
const response = (text: string): HttpHead => decodeHead('response', latin1(text)).head;

interface Fed {
  data: Buffer;
  done: boolean;
  rest: Buffer;
  anomalies: Anomaly[];
  end: Anomaly | null;
  bytesDecoded: number;
}

/** Feeds pieces; `rest` is the done push's rest followed by every later piece. */
function feed(framing: BodyFraming, pieces: Uint8Array[], startOffset = 0): Fed {
  const d = new HttpBodyDecoder(framing, { startOffset });
  const data: Buffer[] = [];
  const rest: Buffer[] = [];
  const anomalies: Anomaly[] = [];
  let done = d.done;
  for (const piece of pieces) {
    if (done) {
      rest.push(Buffer.from(piece));
      continue;
    }
    const out = d.push(piece);
    data.push(...out.data);
    anomalies.push(...out.anomalies);
    if (!out.done) expect(out.rest.length).toBe(0);
    if (out.done) rest.push(out.rest);
    done = out.done;
    expect(d.done).toBe(done);
  }
  const bytesDecoded = d.bytesDecoded;
  return { data: Buffer.concat(data), done, rest: Buffer.concat(rest), anomalies, end: d.end(), bytesDecoded };
}

/** Buffers as hex: comparing them byte by byte through toEqual is slow. */
const comparable = (fed: Fed): unknown => ({ ...fed, data: fed.data.toString('hex'), rest: fed.rest.toString('hex') });

function expectSplitInvariant(framing: BodyFraming, bytes: Buffer, startOffset = 0): Fed {
  const whole = feed(framing, [bytes], startOffset);
  const expected = comparable(whole);
  for (let k = 0; k <= bytes.length; k++) {
    const two = feed(framing, [bytes.subarray(0, k), bytes.subarray(k)], startOffset);
    expect(comparable(two), `split at ${k}`).toEqual(expected);
    for (let j = k + 1; j <= Math.min(bytes.length, k + 4); j++) {
      const three = feed(framing, [bytes.subarray(0, k), bytes.subarray(k, j), bytes.subarray(j)], startOffset);
      expect(comparable(three), `split at ${k}, ${j}`).toEqual(expected);
    }
  }
  expect(comparable(feed(framing, oneByteAtATime(bytes), startOffset)), 'one byte at a time').toEqual(expected);
  return whole;
}

describe.skipIf(!available)('body framing (RFC 9112 §6.3)', () => {
  it('reads the framing of real kubectl requests and answers', () => {
    const ws = decodeHead('request', vector('kubectl1.33-exec-ws-v5.c2s')).head;
    const spdy = decodeHead('request', vector('kubectl1.27-exec-spdy.c2s')).head;
    expect(requestBodyFraming(ws)).toEqual({ kind: 'none' });
    expect(requestBodyFraming(spdy)).toEqual({ kind: 'length', length: 0 });
    const upgraded = decodeHead('response', vector('kubectl1.33-exec-ws-v5.s2c')).head;
    expect(responseBodyFraming(upgraded, 'GET')).toEqual({ kind: 'none' });
    const refused = decodeHead('response', vector('kubectl1.33-exec-fb-403-ws-rejected-403.s2c')).head;
    expect(responseBodyFraming(refused, 'GET')).toEqual({ kind: 'length', length: 160 });
  });

  it('frames requests: chunked, then Content-Length, else none', () => {
    const r = (headers: string): BodyFraming => requestBodyFraming(request(`POST / HTTP/1.1\r\n${headers}\r\n`));
    expect(r('')).toEqual({ kind: 'none' });
    expect(r('Content-Length: 12\r\n')).toEqual({ kind: 'length', length: 12 });
    expect(r('content-length: 7, 7\r\nContent-Length: 7\r\n')).toEqual({ kind: 'length', length: 7 });
    expect(r('Transfer-Encoding: chunked\r\n')).toEqual({ kind: 'chunked' });
    expect(r('Transfer-Encoding: gzip\r\ntransfer-encoding: CHUNKED\r\n')).toEqual({ kind: 'chunked' });
    expect(r('Transfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n')).toEqual({ kind: 'chunked' });
    // The length cannot be known; the server must answer 400 and close.
    expect(r('Transfer-Encoding: chunked, gzip\r\nContent-Length: 5\r\n')).toEqual({ kind: 'until-close' });
    expect(r('Content-Length: 5, 6\r\n')).toEqual({ kind: 'until-close' });
    expect(r('Content-Length: -1\r\n')).toEqual({ kind: 'until-close' });
    expect(r('Content-Length: 99999999999999999999\r\n')).toEqual({ kind: 'until-close' });
    expect(requestBodyFraming(request('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'))).toEqual({
      kind: 'until-close',
    });
  });

  it('frames responses: none for 1xx, 101, 204, 304 and HEAD; chunked; length; else until-close', () => {
    const r = (text: string, method: string | null = 'GET'): BodyFraming => responseBodyFraming(response(text), method);
    expect(r('HTTP/1.1 101 Switching Protocols\r\nContent-Length: 5\r\n\r\n')).toEqual({ kind: 'none' });
    expect(r('HTTP/1.1 100 Continue\r\n\r\n')).toEqual({ kind: 'none' });
    expect(r('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n')).toEqual({ kind: 'none' });
    expect(r('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n')).toEqual({ kind: 'none' });
    expect(r('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'HEAD')).toEqual({ kind: 'none' });
    expect(r('HTTP/1.1 200 OK\r\n\r\n', 'CONNECT')).toEqual({ kind: 'none' });
    expect(r('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n')).toEqual({ kind: 'chunked' });
    expect(r('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n')).toEqual({ kind: 'until-close' });
    expect(r('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n')).toEqual({ kind: 'length', length: 0 });
    expect(r('HTTP/1.1 500 Oops\r\n\r\n', null)).toEqual({ kind: 'until-close' });
    expect(r('HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n')).toEqual({ kind: 'until-close' });
  });
});

describe('HttpBodyDecoder', () => {
  it.skipIf(!available)('decodes the body of every refusal in the vectors, whatever the split', () => {
    const names = (available ? readdirSync(VECTORS) : []).filter((f) => f.endsWith('.s2c'));
    let refusals = 0;
    for (const name of names) {
      const bytes = vector(name);
      if (bytes.length === 0) continue;
      const { head, rest } = decodeHead('response', bytes);
      if (head.status === 101) continue;
      const framing = responseBodyFraming(head, 'GET');
      expect(framing, name).toEqual({ kind: 'length', length: rest.length });
      const fed = feed(framing, [rest, latin1('NEXT')], head.length);
      expect(fed, name).toMatchObject({ done: true, rest: latin1('NEXT'), anomalies: [], end: null });
      expect(fed.data, name).toEqual(rest);
      refusals++;
    }
    expect(refusals).toBeGreaterThan(10);
    const { head, rest } = decodeHead('response', vector('kubectl1.33-exec-fb-403-ws-rejected-403.s2c'));
    const fed = expectSplitInvariant(responseBodyFraming(head, 'GET'), Buffer.concat([rest, latin1('extra')]));
    expect(JSON.parse(fed.data.toString('utf8'))).toMatchObject({ reason: 'Forbidden', code: 403 });
    expect(fed.rest.toString()).toBe('extra');
    expect(fed.bytesDecoded).toBe(160);
  });

  it.skipIf(!available)('hands the bytes after a Content-Length: 0 upgrade request back at once', () => {
    const { head, rest } = decodeHead('request', vector('kubectl1.27-exec-spdy.c2s'));
    const d = new HttpBodyDecoder(requestBodyFraming(head));
    expect(d.done).toBe(true);
    expect(d.push(rest)).toEqual({ data: [], done: true, rest, anomalies: [] });
    expect(d.end()).toBeNull();
  });

  it('passes everything through for no body', () => {
    const d = new HttpBodyDecoder({ kind: 'none' });
    expect(d.push(latin1('abc'))).toEqual({ data: [], done: true, rest: latin1('abc'), anomalies: [] });
    expect(d.bytesDecoded).toBe(0);
  });

  it('decodes chunked coding with extensions and trailers at every split', () => {
    const body =
      '5;ext=1\r\nhello\r\n' +
      '6 ; name="quoted;value" ; x\r\n world\r\n' +
      'B\r\n 0123456789\r\n' +
      '0;last\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n';
    const fed = expectSplitInvariant({ kind: 'chunked' }, latin1(`${body}HTTP/1.1 200 OK\r\n`), 500);
    expect(fed.data.toString()).toBe('hello world 0123456789');
    expect(fed.rest.toString()).toBe('HTTP/1.1 200 OK\r\n');
    expect(fed).toMatchObject({ done: true, anomalies: [], end: null, bytesDecoded: 22 });
  });

  it('tolerates bare LF in chunked coding and an empty trailer section', () => {
    const fed = expectSplitInvariant({ kind: 'chunked' }, latin1('3\nabc\n00\n\nrest'));
    expect([fed.data.toString(), fed.rest.toString(), fed.done]).toEqual(['abc', 'rest', true]);
  });

  it('hands out chunk data as it arrives', () => {
    const d = new HttpBodyDecoder({ kind: 'chunked' });
    expect(d.push(latin1('10\r\nhel'))).toEqual({ data: [latin1('hel')], done: false, rest: Buffer.alloc(0), anomalies: [] });
    expect(d.push(latin1('lo'))).toMatchObject({ data: [latin1('lo')], done: false });
    expect(d.bytesDecoded).toBe(5);
    const length = new HttpBodyDecoder({ kind: 'length', length: 10 });
    expect(length.push(latin1('abc')).data).toEqual([latin1('abc')]);
    expect(length.push(latin1('defghijklm'))).toEqual({
      data: [latin1('defghij')],
      done: true,
      rest: latin1('klm'),
      anomalies: [],
    });
  });

  it('reports a trailer line without a colon and goes on', () => {
    const fed = feed({ kind: 'chunked' }, [latin1('1\r\nx\r\n0\r\nno colon\r\nA: b\r\n\r\n!')], 1000);
    expect(fed).toMatchObject({ done: true, rest: latin1('!'), end: null });
    expect(fed.anomalies).toEqual([
      expect.objectContaining({ code: AnomalyCode.HttpBadHeader, offset: 1009, opaque: false }),
    ]);
  });

  const badChunks: [string, string, number][] = [
    ['a non-hex size', 'zz\r\n', 0],
    ['an empty size line', '3\r\nabc\r\n\r\n', 8],
    ['a size with a sign', '+5\r\nhello\r\n', 0],
    ['chunk data without CRLF', '5\r\nhelloX\r\n', 8],
    ['chunk data with CR but no LF', '5\r\nhello\rX', 9],
    ['a size beyond 2^53', '20000000000001\r\n', 0],
    ['a 20-digit size', '3\r\nabc\r\nffffffffffffffffffff\r\n', 8],
  ];

  it.each(badChunks)('reports %s as a bad chunk', (_, text, offset) => {
    const fed = expectSplitInvariant({ kind: 'chunked' }, latin1(text), 40);
    expect(fed.anomalies).toEqual([
      expect.objectContaining({ code: AnomalyCode.HttpBadChunk, offset: 40 + offset, opaque: true }),
    ]);
    expect([fed.done, fed.end]).toEqual([false, null]);
  });

  it('accepts a chunk size of exactly 2^53', () => {
    const fed = feed({ kind: 'chunked' }, [latin1('20000000000000\r\nabc')]);
    expect([fed.anomalies, fed.data.toString()]).toEqual([[], 'abc']);
    expect(fed.end).toMatchObject({ code: AnomalyCode.Truncated });
  });

  it('stops at a size or trailer line longer than 4 KiB without holding it', () => {
    const long = new HttpBodyDecoder({ kind: 'chunked' });
    expect(long.push(latin1(`1;${'x'.repeat(4000)}`)).anomalies).toEqual([]);
    const out = long.push(latin1('y'.repeat(200)));
    expect(out.anomalies).toEqual([
      expect.objectContaining({ code: AnomalyCode.HttpBadChunk, offset: 4096, opaque: true }),
    ]);
    expect(long.push(latin1('\r\n'))).toEqual({ data: [], done: false, rest: Buffer.alloc(0), anomalies: [] });
    expect(long.end()).toBeNull();
    const trailer = feed({ kind: 'chunked' }, [latin1(`0\r\nT: ${'t'.repeat(5000)}\r\n\r\n`)]);
    expect(trailer.anomalies).toEqual([expect.objectContaining({ code: AnomalyCode.HttpBadChunk, offset: 3 + 4096 })]);
    const exact = feed({ kind: 'chunked' }, [latin1(`1;${'x'.repeat(4093)}\r\nz\r\n0\r\n\r\n`)]);
    expect([exact.anomalies, exact.data.toString(), exact.done]).toEqual([[], 'z', true]);
  });

  it('reports a body cut short as truncated, but not an until-close body', () => {
    expect(feed({ kind: 'length', length: 10 }, [latin1('abc')], 7).end).toEqual(
      expect.objectContaining({ code: AnomalyCode.Truncated, offset: 10, opaque: true }),
    );
    expect(feed({ kind: 'length', length: 10 }, [], 7).end).toMatchObject({ code: AnomalyCode.Truncated, offset: 7 });
    expect(feed({ kind: 'chunked' }, [latin1('5\r\nhel')]).end).toMatchObject({
      code: AnomalyCode.Truncated,
      offset: 6,
    });
    expect(feed({ kind: 'chunked' }, [latin1('5\r\nhello\r\n0\r\n')]).end).toMatchObject({ code: AnomalyCode.Truncated });
    const close = new HttpBodyDecoder({ kind: 'until-close' });
    expect(close.push(latin1('all of it'))).toEqual({ data: [latin1('all of it')], done: false, rest: Buffer.alloc(0), anomalies: [] });
    expect(close.done).toBe(false);
    expect(close.end()).toBeNull();
    expect(close.done).toBe(true);
    expect(close.bytesDecoded).toBe(9);
  });

  it('reports truncation once and ignores pushes after end()', () => {
    const d = new HttpBodyDecoder({ kind: 'length', length: 4 });
    expect(d.end()).toMatchObject({ code: AnomalyCode.Truncated });
    expect(d.end()).toBeNull();
    expect(d.push(latin1('abcd'))).toEqual({ data: [], done: false, rest: Buffer.alloc(0), anomalies: [] });
  });
});

describe('HttpBodyDecoder properties', () => {
  const arbSizes = fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 });

  it('never throws on random bytes and never decodes more than it was given', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<BodyFraming>({ kind: 'chunked' }, { kind: 'length', length: 100 }, { kind: 'until-close' }),
        fc.constantFrom('', '5\r\n', '0\r\n', '4;a=b\r\nabcd\r\n'),
        fc.uint8Array({ maxLength: 600 }),
        arbSizes,
        (framing, prefix, tail, sizes) => {
          const bytes = Buffer.concat([latin1(prefix), tail]);
          const split = feed(framing, splitBySizes(bytes, sizes));
          expect(split.data.length).toBeLessThanOrEqual(bytes.length);
          expect(comparable(split)).toEqual(comparable(feed(framing, [bytes])));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes generated chunked bodies at any split', () => {
    const arbChunk = fc.tuple(
      fc.uint8Array({ minLength: 1, maxLength: 40 }),
      fc.constantFrom('', ';a', ';a=b', ' ; q="x;y"'),
      fc.constantFrom('\r\n', '\n'),
      fc.boolean(),
    );
    fc.assert(
      fc.property(
        fc.array(arbChunk, { maxLength: 8 }),
        fc.array(fc.constantFrom('A: 1', 'Trailer-Name: some value'), { maxLength: 3 }),
        fc.uint8Array({ maxLength: 20 }),
        arbSizes,
        (chunks, trailers, tail, sizes) => {
          const parts: Buffer[] = [];
          for (const [data, ext, eol, upper] of chunks) {
            const size = data.length.toString(16);
            parts.push(latin1(`${upper ? size.toUpperCase() : size}${ext}${eol}`), Buffer.from(data), latin1(eol));
          }
          parts.push(latin1(`0\r\n${trailers.map((t) => `${t}\r\n`).join('')}\r\n`), Buffer.from(tail));
          const fed = feed({ kind: 'chunked' }, splitBySizes(Buffer.concat(parts), sizes));
          expect(fed.data).toEqual(Buffer.concat(chunks.map(([data]) => Buffer.from(data))));
          expect(fed).toMatchObject({ done: true, rest: Buffer.from(tail), anomalies: [], end: null });
        },
      ),
      { numRuns: 300 },
    );
  });
});
