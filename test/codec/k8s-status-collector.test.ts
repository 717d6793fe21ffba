/**
 * StatusCollector reports a WebSocket v4+ status at the first message end where everything
 * collected parses as one JSON object. It decides from the shape of the bytes when a parse can
 * succeed instead of parsing at every message end; the property here holds it to exactly what
 * parsing at every message end reports, for texts rich in brackets, quotes and escapes, cut at
 * any byte (inside a UTF-8 sequence too).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeContext } from '../../src/codec/decode-context.js';
import { parseStatusText } from '../../src/codec/k8s-status.js';
import { StatusCollector } from '../../src/codec/k8s-streams.js';
import { splitAt } from '../support/split.js';
import { SUCCESS_JSON, exitStatusJson } from '../support/wire.js';

const SEED = 0x73_74_61_74;

type Report = [afterMessage: number, raw: string];

/**
 * Every k8s.status the collector reports for `messages` and then the stream's end, with the
 * number of messages added when it came.
 */
function collected(messages: Buffer[]): Report[] {
  const out: Report[] = [];
  let added = 0;
  const ctx = new DecodeContext(({ body }) => {
    if (body.type === 'k8s.status') out.push([added, body.raw]);
  });
  const status = new StatusCollector(ctx, true);
  for (const m of messages) {
    status.add(m, added);
    added++;
    status.flushIfComplete();
  }
  status.flush();
  return out;
}

/** The same, by joining and parsing everything collected at every message end. */
function reparsedEachMessage(messages: Buffer[]): Report[] {
  const out: Report[] = [];
  let held: Buffer[] = [];
  const text = (): string => Buffer.concat(held).toString('utf8');
  for (const [i, m] of messages.entries()) {
    held.push(m);
    if (text() !== '' && parseStatusText(text(), true).format === 'json') {
      out.push([i + 1, text()]);
      held = [];
    }
  }
  if (text() !== '') out.push([messages.length, text()]);
  return out;
}

/** Strings full of what a scanner could mistake for structure: quotes, backslashes, brackets. */
const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '{', '}', '[', ']', 'a', 'é', '€', '\n'), maxLength: 6 });
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), tie('object')),
  object: fc.dictionary(tricky, tie('value'), { maxKeys: 3 }),
})).value;
/** Whole objects (most statuses arrive whole or split), whitespace, and stray bytes. */
const piece = fc.oneof(
  fc.dictionary(tricky, value, { maxKeys: 4 }).map((o) => JSON.stringify(o)),
  fc.constantFrom(SUCCESS_JSON, exitStatusJson(3)),
  fc.constantFrom(' ', '\n', '\t', '\r\n'),
  fc.constantFrom('{', '}', '[', ']', '"', '\\', '\\"', 'a', ':', ',', '1', 'é', '\u00a0', '\ufeff'),
);

describe('StatusCollector', () => {
  it('reports what parsing at every message end reports', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 8 }), (pieces, cuts) => {
        const bytes = Buffer.from(pieces.join(''), 'utf8');
        const messages = splitAt(bytes, cuts.map((c) => c % (bytes.length + 1)));
        expect(collected(messages)).toEqual(reparsedEachMessage(messages));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('reports a status split over messages at the end of the message that completes it', () => {
    const json = Buffer.from(`  ${exitStatusJson(3)}`);
    const messages = [...splitAt(json, [5, 40]), Buffer.from(SUCCESS_JSON)];
    expect(collected(messages)).toEqual([[3, json.toString('utf8')], [4, SUCCESS_JSON]]);
  });

  it('reports an object that does not parse once, at the end, as text', () => {
    const messages = [Buffer.from('{"a":}'), Buffer.from('  '), Buffer.from('{}')];
    expect(collected(messages)).toEqual([[3, '{"a":}  {}']]);
  });
});
