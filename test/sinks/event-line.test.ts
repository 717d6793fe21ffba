/**
 * Lines built around the payload (event-line.ts) parse to exactly the event that
 * `JSON.stringify` would have written, on random events with any text in the other fields; and
 * the slabs they are built in (line-arena.ts) never hand out memory that a line still holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEventLine } from '../../src/sinks/event-line.js';
import { coalesce, LineArena } from '../../src/sinks/line-arena.js';

/** Any UTF-16 text: whole code points of every plane, and lone surrogates. */
const anyText = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
);

const base64 = fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b).toString('base64'));

/** An event as the bus stamps it: envelope first, then body fields, `note` last. */
const event = fc
  .record({
    seq: fc.nat(),
    ts: fc.constant('2026-11-21T10:57:03.123456Z'),
    session: fc.option(anyText, { nil: undefined }),
    conn: fc.option(fc.string(), { nil: undefined }),
    type: fc.constantFrom('k8s.data', 'pf.data', 'ws.data', 'http.body', 'ws.frame', 'conn.open'),
    dir: fc.constantFrom('c2s', 's2c'),
    offset: fc.maxSafeNat(),
    size: fc.nat(),
    payload: fc.option(base64, { nil: undefined }),
    truncated: fc.option(fc.boolean(), { nil: undefined }),
    headers: fc.array(fc.tuple(anyText, anyText), { maxLength: 3 }),
    extra: fc.jsonValue({ maxDepth: 3 }),
    note: anyText,
  })
  .map(({ seq, ts, session, conn, ...body }) => {
    const ev: Record<string, unknown> = { v: 1, seq, ts };
    if (session !== undefined) ev['session'] = session;
    if (conn !== undefined) ev['conn'] = conn;
    const { note, ...fields } = body;
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) ev[k] = v;
    ev['note'] = note;
    return ev;
  });

describe('encodeEventLine', () => {
  it('parses to the same object as JSON.stringify, the payload last, on random events', () => {
    const arena = new LineArena(4096);
    fc.assert(
      fc.property(event, fc.boolean(), (ev, slab) => {
        const line = encodeEventLine(ev, '', slab ? (n) => arena.alloc(n) : undefined);
        expect(line[line.length - 1]).toBe(0x0a);
        const text = line.toString('utf8');
        expect(text.indexOf('\n')).toBe(text.length - 1);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(parsed).toEqual(JSON.parse(JSON.stringify(ev)));
        const keys = Object.keys(ev);
        expect(Object.keys(parsed)).toEqual(typeof ev['payload'] === 'string' ? [...keys.filter((k) => k !== 'payload'), 'payload'] : keys);
        // Without a payload it is JSON.stringify's line, byte for byte.
        if (ev['payload'] === undefined) expect(text).toBe(`${JSON.stringify(ev)}\n`);
        arena.release(line);
      }),
      { numRuns: 1000 },
    );
  });

  it('puts the tail after the payload, and copes with an event that has nothing else', () => {
    expect(encodeEventLine({ v: 1, payload: 'aGk=', note: 'n' }, ',"prev":"p"').toString()).toBe('{"v":1,"note":"n","payload":"aGk=","prev":"p"}\n');
    expect(encodeEventLine({ payload: '' }).toString()).toBe('{"payload":""}\n');
    expect(encodeEventLine({}, ',"prev":"p"').toString()).toBe('{"prev":"p"}\n');
    expect(encodeEventLine({ v: 1, payload: undefined }).toString()).toBe('{"v":1}\n');
  });
});

describe('LineArena', () => {
  it('never hands out memory a live line holds, whatever the order of allocs and releases', () => {
    const op = fc.oneof(fc.record({ alloc: fc.integer({ min: 0, max: 700 }) }), fc.record({ release: fc.nat() }), fc.constant({ reset: true }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const arena = new LineArena(1024);
        const live: { buf: Buffer; fill: number }[] = [];
        let fill = 0;
        for (const o of ops) {
          if ('alloc' in o) {
            const buf = arena.alloc(o.alloc);
            expect(buf.length).toBe(o.alloc);
            fill = (fill + 1) & 0xff;
            buf.fill(fill);
            live.push({ buf, fill });
          } else if ('release' in o) {
            if (live.length === 0) continue;
            const [gone] = live.splice(o.release % live.length, 1);
            arena.release(gone!.buf);
          } else {
            // The owner dropped everything: old lines stay valid, new ones get new memory.
            arena.reset();
          }
          for (const l of live) expect(l.buf.every((b) => b === l.fill)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reuses a slab once its lines were written, and gives a longer line memory of its own', () => {
    const arena = new LineArena(1024);
    const a = arena.alloc(600);
    const b = arena.alloc(600);
    expect(b.buffer).not.toBe(a.buffer);
    arena.release(a);
    arena.release(b);
    const c = arena.alloc(600);
    expect(c.buffer === a.buffer || c.buffer === b.buffer).toBe(true);
    const big = arena.alloc(5000);
    expect(big.length).toBe(5000);
    arena.release(big);
  });

  it('coalesce: lines back to back in one slab become one view', () => {
    const arena = new LineArena(1024);
    const lines = [arena.alloc(10), arena.alloc(20), arena.alloc(30)];
    lines.forEach((l, i) => l.fill(i + 1));
    const other = Buffer.from('xyz');
    const out = coalesce([...lines, Buffer.alloc(0), other, arena.alloc(5).fill(9)]);
    expect(out.map((b) => b.length)).toEqual([60, 3, 5]);
    expect(Buffer.concat(out)).toEqual(Buffer.concat([...lines, other, Buffer.alloc(5, 9)]));
    expect(coalesce([lines[1]!, lines[0]!]).map((b) => b.length)).toEqual([20, 10]);
  });
});
