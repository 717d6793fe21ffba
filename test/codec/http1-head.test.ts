import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnomalyCode } from '../../src/events/anomaly-codes.js';
import {
  Http1HeadDecoder,
  headerTokens,
  headerValue,
  headerValues,
  hasToken,
  type HeadOutcome,
  type HttpHead,
} from '../../src/codec/http1-head.js';
import { MAX_HTTP_HEAD_BYTES } from '../../src/codec/limits.js';
import { oneByteAtATime, prng, splitBySizes } from '../support/split.js';
import { VECTORS_DIR as VECTORS, vectorsAvailable } from '../support/vectors.js';

const available = vectorsAvailable();
const vector = (name: string): Buffer => readFileSync(join(VECTORS, name));
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

type Kind = 'request' | 'response';
type Options = { startOffset?: number; maxHeadBytes?: number };

interface Fed {
  outcome: HeadOutcome;
  /** `rest` of the head outcome followed by every later piece (empty without a head). */
  rest: Buffer;
  /** Index of the piece whose push returned the outcome (-1: none did). */
  at: number;
  maxBuffered: number;
  decoder: Http1HeadDecoder;
}

function feed(kind: Kind, pieces: Uint8Array[], options?: Options): Fed {
  const decoder = new Http1HeadDecoder(kind, options);
  let outcome: HeadOutcome = { kind: 'need-more' };
  let at = -1;
  let maxBuffered = 0;
  const rest: Buffer[] = [];
  pieces.forEach((piece, i) => {
    if (outcome.kind !== 'need-more') {
      if (outcome.kind === 'head') rest.push(Buffer.from(piece));
      return;
    }
    outcome = decoder.push(piece);
    maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
    if (outcome.kind !== 'need-more') at = i;
    if (outcome.kind === 'head') rest.push(outcome.rest);
  });
  return { outcome, rest: Buffer.concat(rest), at, maxBuffered, decoder };
}

/** What must not depend on how the input was cut: the outcome without its `rest`, and all bytes after the head. */
function observed(fed: Fed): unknown {
  const { outcome } = fed;
  if (outcome.kind !== 'head') return outcome;
  return { head: outcome.head, anomalies: outcome.anomalies, rest: fed.rest.toString('hex') };
}

function headOf(fed: Fed): HttpHead {
  if (fed.outcome.kind !== 'head') throw new Error(`expected a head, got ${JSON.stringify(fed.outcome)}`);
  return fed.outcome.head;
}

/** `b` cut in two at `k`, keeping the empty piece at k = 0 and k = b.length. */
const splitInTwo = (b: Buffer, k: number): Buffer[] => [b.subarray(0, k), b.subarray(k)];

function randomSplit(b: Buffer, random: () => number, maxPiece = 64): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; ) {
    const n = 1 + Math.floor(random() * maxPiece);
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Every way of feeding `bytes` must give this outcome and rest. */
function expectSplitInvariant(kind: Kind, bytes: Buffer, options?: Options): Fed {
  const whole = feed(kind, [bytes], options);
  const expected = observed(whole);
  for (let k = 0; k <= bytes.length; k++) {
    const fed = feed(kind, splitInTwo(bytes, k), options);
    expect(observed(fed), `split at ${k}`).toEqual(expected);
  }
  const one = feed(kind, oneByteAtATime(bytes), options);
  expect(observed(one), 'one byte at a time').toEqual(expected);
  return whole;
}

const vectorNames = (available ? readdirSync(VECTORS) : [])
  .filter((f) => /\.(c2s|s2c)$/.test(f))
  .sort();

describe.skipIf(!available)('Http1HeadDecoder on real kubectl vectors', () => {
  it('decodes the kubectl 1.33 WebSocket exec request with raw order and case', () => {
    const bytes = vector('kubectl1.33-exec-ws-v5.c2s');
    const fed = feed('request', [bytes]);
    const head = headOf(fed);
    const length = bytes.indexOf('\r\n\r\n') + 4;
    expect(head).toEqual({
      kind: 'request',
      offset: 0,
      length,
      startLine:
        'GET /api/v1/namespaces/default/pods/p1/exec?command=echo&command=hi&container=c1&stderr=true&stdout=true HTTP/1.1',
      method: 'GET',
      target: '/api/v1/namespaces/default/pods/p1/exec?command=echo&command=hi&container=c1&stderr=true&stdout=true',
      version: 'HTTP/1.1',
      status: null,
      reason: null,
      headers: [
        ['Host', '127.0.0.1:18100'],
        ['User-Agent', 'kubectl.1.33/v1.33.1 (linux/amd64) kubernetes/8adc0f0'],
        ['Connection', 'Upgrade'],
        ['Kubectl-Command', 'kubectl exec'],
        ['Kubectl-Session', 'be77b46a-66c5-4d1e-9595-80c80d7a6d6f'],
        ['Sec-WebSocket-Key', 'bsFV6ninwiy0irc7wnFUgw=='],
        ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io'],
        ['Sec-WebSocket-Version', '13'],
        ['Upgrade', 'websocket'],
      ],
    });
    expect(fed.outcome.kind === 'head' && fed.outcome.anomalies).toEqual([]);
    expect(fed.rest).toEqual(bytes.subarray(length));
    expect(fed.rest[0]).toBe(0x88); // kubectl's first WebSocket frame (a close) follows the head
    expect(headerValue(head, 'sec-websocket-protocol')).toBe('v5.channel.k8s.io');
    expect(headerValue(head, 'UPGRADE')).toBe('websocket');
    expect(hasToken(head, 'connection', 'upgrade')).toBe(true);
    expect(headerValue(head, 'Content-Length')).toBeNull();
  });

  it('decodes the 101 answer and hands back the first frame as rest', () => {
    const bytes = vector('kubectl1.33-exec-ws-v5.s2c');
    const head = headOf(feed('response', [bytes]));
    expect(head.kind).toBe('response');
    expect(head.startLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect([head.version, head.status, head.reason, head.method, head.target]).toEqual([
      'HTTP/1.1',
      101,
      'Switching Protocols',
      null,
      null,
    ]);
    expect(head.headers.map(([n]) => n)).toEqual([
      'Upgrade',
      'Connection',
      'Sec-WebSocket-Accept',
      'Sec-WebSocket-Protocol',
    ]);
    expect(headerValue(head, 'sec-websocket-accept')).toBe('iSqY1C0AYzIvdYwxY6cEZEJpHyM=');
    const fed = feed('response', [bytes]);
    expect(fed.rest).toEqual(bytes.subarray(head.length));
    expect(fed.rest[0]).toBe(0x82);
  });

  it('keeps every X-Stream-Protocol-Version line of a SPDY POST, in order', () => {
    const bytes = vector('kubectl1.27-exec-spdy.c2s');
    const head = headOf(feed('request', [bytes]));
    const offered = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
    expect(head.method).toBe('POST');
    expect(headerValues(head, 'x-stream-protocol-version')).toEqual(offered);
    expect(headerTokens(head, 'X-STREAM-PROTOCOL-VERSION')).toEqual(offered);
    expect(headerValue(head, 'x-stream-protocol-version')).toBe(offered[0]);
    expect(headerValue(head, 'content-length')).toBe('0');
    expect(headerValue(head, 'upgrade')).toBe('SPDY/3.1');
    expect(headerValues(head, 'nope')).toEqual([]);
    expect(headerTokens(head, 'nope')).toEqual([]);
    expect(hasToken(head, 'x-stream-protocol-version', 'V4.CHANNEL.K8S.IO')).toBe(true);
    expect(hasToken(head, 'x-stream-protocol-version', 'v5.channel.k8s.io')).toBe(false);
  });

  it('decodes a refusal and leaves its body as rest', () => {
    const bytes = vector('kubectl1.33-exec-fb-403-ws-rejected-403.s2c');
    const fed = feed('response', [bytes]);
    const head = headOf(fed);
    expect([head.status, head.reason]).toEqual([403, 'Forbidden']);
    expect(headerValue(head, 'content-length')).toBe('160');
    expect(fed.rest.length).toBe(160);
    expect(JSON.parse(fed.rest.toString('utf8'))).toMatchObject({ kind: 'Status', code: 403 });
  });

  it('gives identical outcomes whole, at every split point and one byte at a time', () => {
    for (const name of [
      'kubectl1.33-exec-ws-v5.c2s',
      'kubectl1.33-exec-ws-v5.s2c',
      'kubectl1.27-exec-spdy.c2s',
      'kubectl1.27-exec-spdy.s2c',
      'kubectl1.33-exec-fb-403-ws-rejected-403.s2c',
      'kubectl1.33-portforward-ws-tunnel-spdy.c2s',
    ]) {
      const bytes = vector(name);
      const kind: Kind = name.endsWith('.c2s') ? 'request' : 'response';
      const whole = expectSplitInvariant(kind, bytes.subarray(0, bytes.indexOf('\r\n\r\n') + 4 + 32));
      expect(whole.outcome.kind, name).toBe('head');
    }
  });

  it('decodes the head of every vector the same way at seeded random splits', () => {
    const random = prng(0x6b77);
    let decoded = 0;
    for (const name of vectorNames) {
      const bytes = vector(name);
      if (bytes.length === 0) continue;
      const kind: Kind = name.endsWith('.c2s') ? 'request' : 'response';
      const prefix = bytes.subarray(0, Math.min(bytes.length, 2048));
      const whole = feed(kind, [prefix]);
      const head = headOf(whole);
      expect(head.length, name).toBe(prefix.indexOf('\r\n\r\n') + 4);
      expect(whole.outcome.kind === 'head' && whole.outcome.anomalies, name).toEqual([]);
      expect(whole.rest, name).toEqual(prefix.subarray(head.length));
      for (let round = 0; round < 3; round++) {
        const fed = feed(kind, randomSplit(prefix, random));
        expect(observed(fed), name).toEqual(observed(whole));
      }
      decoded++;
    }
    expect(decoded).toBeGreaterThan(100);
  });
});

describe('Http1HeadDecoder head syntax', () => {
  it('joins obs-fold continuation lines with one space (RFC 9112 §5.2)', () => {
    const bytes = latin1('GET / HTTP/1.1\r\nX-A: one\r\n   two  \r\n\tthree\r\nHost: h\r\n\r\n');
    const fed = expectSplitInvariant('request', bytes);
    expect(headOf(fed).headers).toEqual([
      ['X-A', 'one two three'],
      ['Host', 'h'],
    ]);
    expect(fed.outcome.kind === 'head' && fed.outcome.anomalies).toEqual([]);
  });

  it('reports a continuation line with no field before it and skips it', () => {
    const fed = feed('request', [latin1('GET / HTTP/1.1\r\n folded\r\nHost: h\r\n\r\n')]);
    expect(headOf(fed).headers).toEqual([['Host', 'h']]);
    expect(fed.outcome.kind === 'head' && fed.outcome.anomalies).toEqual([
      expect.objectContaining({ code: AnomalyCode.HttpBadHeader, offset: 16, opaque: false }),
    ]);
  });

  it('tolerates bare LF line ends and mixed line ends', () => {
    const bare = expectSplitInvariant('response', latin1('HTTP/1.1 200 OK\nA: b\nC:d\n\nBODY'));
    expect(headOf(bare).headers).toEqual([
      ['A', 'b'],
      ['C', 'd'],
    ]);
    expect(headOf(bare).length).toBe(26);
    expect(bare.rest.toString()).toBe('BODY');
    const mixed = expectSplitInvariant('request', latin1('GET / HTTP/1.1\nA: b\r\nC: d\n\r\nX'));
    expect(headOf(mixed).headers).toEqual([
      ['A', 'b'],
      ['C', 'd'],
    ]);
    expect(mixed.rest.toString()).toBe('X');
  });

  it('reports header lines without a colon or with a bad name, keeps the rest', () => {
    const text = 'HTTP/1.1 200 OK\r\nGood: 1\r\nno colon here\r\nBad Name: 2\r\n: empty\r\nAlso-Good:3\r\n\r\n';
    const fed = expectSplitInvariant('response', latin1(text), { startOffset: 1000 });
    const head = headOf(fed);
    expect(head.offset).toBe(1000);
    expect(head.headers).toEqual([
      ['Good', '1'],
      ['Also-Good', '3'],
    ]);
    const anomalies = fed.outcome.kind === 'head' ? fed.outcome.anomalies : [];
    expect(anomalies.map((a) => [a.code, a.offset, a.opaque])).toEqual([
      [AnomalyCode.HttpBadHeader, 1000 + text.indexOf('no colon'), false],
      [AnomalyCode.HttpBadHeader, 1000 + text.indexOf('Bad Name'), false],
      [AnomalyCode.HttpBadHeader, 1000 + text.indexOf(': empty'), false],
    ]);
  });

  it('reports control bytes in a value and reads NUL as SP (RFC 9110 §5.5)', () => {
    const fed = feed('request', [latin1('GET / HTTP/1.1\r\nA: x\x00y\r\nB: p\x01q\r\n\r\n')]);
    expect(headOf(fed).headers).toEqual([
      ['A', 'x y'],
      ['B', 'p\x01q'],
    ]);
    expect(fed.outcome.kind === 'head' && fed.outcome.anomalies.length).toBe(2);
  });

  it('decodes obs-text values as latin1 and keeps 0xA0 inside the value', () => {
    const fed = feed('response', [Buffer.from('HTTP/1.1 200 Ol\xe9\r\nX-Name: caf\xe9\xa0!\r\n\r\n', 'latin1')]);
    const head = headOf(fed);
    expect(head.reason).toBe('Olé');
    expect(headerValue(head, 'x-name')).toBe('café\u00a0!');
  });

  it('splits list headers into tokens and matches them case-insensitively', () => {
    const head = headOf(
      feed('request', [latin1('GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nconnection: ,, close ,\r\n\r\n')]),
    );
    expect(headerValues(head, 'CONNECTION')).toEqual(['keep-alive, Upgrade', ',, close ,']);
    expect(headerTokens(head, 'connection')).toEqual(['keep-alive', 'Upgrade', 'close']);
    expect(hasToken(head, 'Connection', 'upgrade')).toBe(true);
    expect(hasToken(head, 'Connection', 'UPGRADE')).toBe(true);
    expect(hasToken(head, 'Connection', 'upgrad')).toBe(false);
    expect(headerValue(head, 'connection')).toBe('keep-alive, Upgrade');
  });

  it('reads status lines without a reason phrase', () => {
    expect(headOf(feed('response', [latin1('HTTP/1.1 204\r\n\r\n')])).reason).toBe('');
    expect(headOf(feed('response', [latin1('HTTP/1.0 200 \r\n\r\n')])).reason).toBe('');
    expect(headOf(feed('response', [latin1('HTTP/1.1 101 Switching Protocols\n\n')])).headers).toEqual([]);
  });

  it('skips empty lines before a request-line (RFC 9112 §2.2) but not before a status line', () => {
    const bytes = latin1('\r\n\nGET / HTTP/1.1\r\n\r\nrest');
    const fed = expectSplitInvariant('request', bytes, { startOffset: 10 });
    expect([headOf(fed).offset, headOf(fed).length, fed.rest.toString()]).toEqual([13, 18, 'rest']);
    const res = feed('response', [latin1('\r\nHTTP/1.1 200 OK\r\n\r\n')]);
    expect(res.outcome).toMatchObject({ kind: 'error', anomaly: { code: AnomalyCode.HttpNotHttp, offset: 0 } });
  });

  it('accepts Uint8Array input that is not a Buffer', () => {
    const bytes = new Uint8Array(latin1('xxGET / HTTP/1.1\r\n\r\n!')).subarray(2);
    const fed = feed('request', [bytes]);
    expect(headOf(fed).method).toBe('GET');
    expect(fed.rest.toString()).toBe('!');
  });

  it('is done after the head: later pushes return need-more, end() reports nothing', () => {
    const d = new Http1HeadDecoder('request');
    expect(d.push(latin1('GET / HTTP/1.1\r\n\r\n')).kind).toBe('head');
    expect(d.push(latin1('GET / HTTP/1.1\r\n\r\n'))).toEqual({ kind: 'need-more' });
    expect(d.end()).toBeNull();
    expect(d.bufferedBytes).toBe(0);
  });
});

describe('Http1HeadDecoder bounds and non-HTTP input', () => {
  it('accepts a head of exactly maxHeadBytes and rejects one byte more', () => {
    const head = latin1(`GET / HTTP/1.1\r\nX: ${'a'.repeat(100)}\r\n\r\n`);
    expect(expectSplitInvariant('request', head, { maxHeadBytes: head.length }).outcome.kind).toBe('head');
    const fed = expectSplitInvariant('request', head, { maxHeadBytes: head.length - 1, startOffset: 5 });
    expect(fed.outcome).toEqual({
      kind: 'error',
      anomaly: expect.objectContaining({ code: AnomalyCode.HttpHeadTooLarge, offset: 5 + head.length - 1, opaque: true }),
    });
  });

  it('reports a 64 KiB+ head without holding more than the bound', () => {
    const d = new Http1HeadDecoder('request', { startOffset: 7 });
    const line = latin1(`X-Filler: ${'f'.repeat(1012)}\r\n`);
    let outcome = d.push(latin1('GET / HTTP/1.1\r\n'));
    let pushed = 16;
    while (outcome.kind === 'need-more') {
      outcome = d.push(line);
      pushed += line.length;
      expect(d.bufferedBytes).toBeLessThanOrEqual(MAX_HTTP_HEAD_BYTES);
      expect(pushed).toBeLessThan(MAX_HTTP_HEAD_BYTES + 2 * line.length);
    }
    expect(outcome).toEqual({
      kind: 'error',
      anomaly: expect.objectContaining({ code: AnomalyCode.HttpHeadTooLarge, offset: 7 + MAX_HTTP_HEAD_BYTES, opaque: true }),
    });
    expect(d.bufferedBytes).toBe(0);
    expect(d.push(line)).toEqual({ kind: 'need-more' });
    expect(d.end()).toBeNull();
  });

  it('reports one oversized chunk at once', () => {
    const d = new Http1HeadDecoder('response');
    const big = Buffer.concat([latin1('HTTP/1.1 200 OK\r\nX: '), Buffer.alloc(100 * 1024, 0x61)]);
    expect(d.push(big)).toMatchObject({ kind: 'error', anomaly: { code: AnomalyCode.HttpHeadTooLarge } });
    expect(d.bufferedBytes).toBe(0);
  });

  const clientHello = Buffer.from('160301020001000200fc0303a1b2c3d4e5f60718293a4b5c6d7e8f', 'hex');
  const notHttp: [Kind, string, number][] = [
    ['request', 'TLS ClientHello', 0],
    ['response', 'TLS ClientHello', 0],
    ['request', 'GET\x00', 3],
    ['request', ' GET / HTTP/1.1\r\n', 0],
    ['request', 'GET  / HTTP/1.1\r\n', 4],
    ['request', 'GET /x HTTQ/1.1\r\n', 10],
    ['request', 'GET /x http/1.1\r\n', 7],
    ['request', 'GET /x\r\n\r\n', 6],
    ['request', 'GET /\xe9 HTTP/1.1\r\n', 5],
    ['request', 'GET /\x7f HTTP/1.1\r\n', 5],
    ['request', 'A'.repeat(40), 32],
    ['request', 'GET / HTTP/1.1x\r\n', 14],
    ['request', 'GET / HTTP/1.x\r\n', 13],
    ['request', 'GET / HTTP/1.1\rX', 15],
    ['request', '\r\x00', 1],
    ['request', 'SSH-2.0-OpenSSH_9.6\r\n', 19],
    ['response', 'SSH-2.0-OpenSSH_9.6\r\n', 0],
    ['response', 'HTTP/1.1 2x0 OK\r\n', 10],
    ['response', 'HTTP/1.1  200 OK\r\n', 9],
    ['response', 'HTTP/1.1 200OK\r\n', 12],
    ['response', 'HTTP/1.1 200 OK\x01\r\n', 15],
    ['response', 'HTTP/1.1\r\n\r\n', 8],
    ['response', 'HTTP/2 200\r\n', 6],
    ['response', 'http/1.1 200 OK\r\n', 0],
  ];

  it.each(notHttp)('reports the %s start %j as not HTTP at offset %i, at once', (kind, text, offset) => {
    const bytes = text === 'TLS ClientHello' ? clientHello : latin1(text);
    const whole = feed(kind, [bytes], { startOffset: 100 });
    expect(whole.outcome).toEqual({
      kind: 'error',
      anomaly: expect.objectContaining({ code: AnomalyCode.HttpNotHttp, offset: 100 + offset, opaque: true }),
    });
    const one = feed(kind, oneByteAtATime(bytes), { startOffset: 100 });
    expect(one.outcome).toEqual(whole.outcome);
    expect(one.at).toBe(offset);
    expect(one.decoder.end()).toBeNull();
  });

  it('reports random binary within its first bytes', () => {
    const random = prng(42);
    for (let round = 0; round < 200; round++) {
      const bytes = Buffer.from(Array.from({ length: 1024 }, () => Math.floor(random() * 256)));
      for (const kind of ['request', 'response'] as const) {
        const fed = feed(kind, oneByteAtATime(bytes));
        expect(fed.outcome.kind).toBe('error');
        expect(fed.at).toBeLessThan(kind === 'request' ? 40 : 8);
        expect(fed.maxBuffered).toBeLessThanOrEqual(fed.at);
      }
    }
  });

  it.skipIf(!available)('reports input that ends mid-head as truncated', () => {
    const bytes = vector('kubectl1.33-exec-ws-v5.c2s');
    const d = new Http1HeadDecoder('request', { startOffset: 50 });
    expect(d.end()).toBeNull();
    expect(d.push(bytes.subarray(0, 0))).toEqual({ kind: 'need-more' });
    expect(d.end()).toBeNull();
    const fresh = new Http1HeadDecoder('request', { startOffset: 50 });
    expect(fresh.push(bytes.subarray(0, 100))).toEqual({ kind: 'need-more' });
    expect(fresh.push(bytes.subarray(100, 200))).toEqual({ kind: 'need-more' });
    expect(fresh.bufferedBytes).toBe(200);
    expect(fresh.end()).toEqual(expect.objectContaining({ code: AnomalyCode.Truncated, offset: 250, opaque: true }));
    expect(fresh.end()).toBeNull();
    expect(fresh.push(bytes.subarray(200))).toEqual({ kind: 'need-more' });
  });
});

describe('Http1HeadDecoder properties', () => {
  const arbSplits = fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 40 });

  it('never throws on random bytes and never holds more than maxHeadBytes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('request', 'response') as fc.Arbitrary<Kind>,
        fc.constantFrom('', 'GET / HTTP/1.1\r\n', 'HTTP/1.1 200 OK\r\n', 'POST /x HTTP/1.0\n'),
        fc.uint8Array({ maxLength: 1500 }),
        fc.integer({ min: 1, max: 700 }),
        arbSplits,
        (kind, prefix, tail, maxHeadBytes, sizes) => {
          const bytes = Buffer.concat([latin1(prefix), tail]);
          const d = new Http1HeadDecoder(kind, { maxHeadBytes });
          for (const piece of splitBySizes(bytes, sizes)) {
            d.push(piece);
            expect(d.bufferedBytes).toBeLessThanOrEqual(maxHeadBytes);
          }
          d.end();
          const whole = feed(kind, [bytes], { maxHeadBytes });
          const split = feed(kind, splitBySizes(bytes, sizes), { maxHeadBytes });
          expect(observed(split)).toEqual(observed(whole));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes generated heads into their fields at any split', () => {
    const tchars = "!#$%&'*+-.^_`|~0123456789ABCXYZabcxyz".split('');
    const valueChars = 'abcXYZ019 \t!~"(),/:;<=>?@[\\]{}\xa0\xe9\xff'.split('');
    const arbName = fc.array(fc.constantFrom(...tchars), { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
    const arbValue = fc
      .array(fc.constantFrom(...valueChars), { maxLength: 20 })
      .map((a) => a.join('').replace(/^[ \t]+|[ \t]+$/g, ''));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbName, arbValue, fc.constantFrom('\r\n', '\n'), fc.constantFrom('', ' ', '\t  ')), {
          maxLength: 12,
        }),
        fc.constantFrom('\r\n', '\n'),
        fc.uint8Array({ maxLength: 30 }),
        arbSplits,
        (fields, blank, tail, sizes) => {
          const text =
            'HTTP/1.1 200 OK\r\n' + fields.map(([n, v, eol, ows]) => `${n}:${ows}${v}${ows}${eol}`).join('') + blank;
          const head = latin1(text);
          const bytes = Buffer.concat([head, tail]);
          const fed = feed('response', splitBySizes(bytes, sizes));
          expect(headOf(fed).headers).toEqual(fields.map(([n, v]) => [n, v]));
          expect(headOf(fed).length).toBe(head.length);
          expect(fed.rest).toEqual(Buffer.from(tail));
          expect(fed.outcome.kind === 'head' && fed.outcome.anomalies).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
