import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTsMicros, timestampMicros } from '../../src/events/stamp.js';

describe('timestampMicros', () => {
  it('is RFC 3339 in UTC with microseconds, the inverse of parseTsMicros, whatever order the times come in', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: 0, max: 999 })), { minLength: 1, maxLength: 20 }), (times) => {
      for (const [ms, us] of times) {
        const ts = timestampMicros(ms, us);
        expect(ts).toBe(`${new Date(ms).toISOString().slice(0, 23)}${String(us).padStart(3, '0')}Z`);
        expect(parseTsMicros(ts)).toBe(ms * 1000 + us);
      }
    }));
    expect(timestampMicros(Date.UTC(2026, 10, 21, 10, 57, 3, 123), 456)).toBe('2026-11-21T10:57:03.123456Z');
  });
});

describe('parseTsMicros', () => {
  it('reads a timestamp in a second it parsed before the same as one in a new second, and rejects what is malformed there too', () => {
    const base = '2026-11-21T10:57:03';
    expect(parseTsMicros(`${base}.123456Z`)).toBe(Date.UTC(2026, 10, 21, 10, 57, 3) * 1000 + 123456);
    // The same second again, as a busy stream stamps it.
    expect(parseTsMicros(`${base}.000001Z`)).toBe(Date.UTC(2026, 10, 21, 10, 57, 3) * 1000 + 1);
    expect(parseTsMicros(`${base}.12345xZ`)).toBeNull();
    expect(parseTsMicros(`${base}.1234567`)).toBeNull();
    expect(parseTsMicros(`${base}.123456z`)).toBe(Date.UTC(2026, 10, 21, 10, 57, 3) * 1000 + 123456);
    expect(parseTsMicros(`${base}.123456+01:00`)).toBe(Date.UTC(2026, 10, 21, 9, 57, 3) * 1000 + 123456);
    expect(parseTsMicros(`${base}.1234567Z`)).toBe(Date.UTC(2026, 10, 21, 10, 57, 3) * 1000 + 123456);
    expect(parseTsMicros('2026-11-21T10:57:04.000000Z')).toBe(Date.UTC(2026, 10, 21, 10, 57, 4) * 1000);
    expect(parseTsMicros(`${base}.999999Z`)).toBe(Date.UTC(2026, 10, 21, 10, 57, 3) * 1000 + 999999);
  });

  it('agrees with its full parse whatever came before', () => {
    const full = (ts: string): number | null => {
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(ts);
      if (!m) return null;
      const seconds = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
      return Number.isNaN(seconds) ? null : seconds * 1000 + Number((m[2] ?? '').padEnd(6, '0').slice(0, 6));
    };
    const second = fc.constantFrom('2026-11-21T10:57:03', '2026-11-21T10:57:04', '2026-02-30T10:57:03', '1999-12-31T23:59:59');
    const fraction = fc.array(fc.constantFrom('0', '1', '9', 'a', ' '), { minLength: 0, maxLength: 7 }).map((cs) => cs.join(''));
    const zone = fc.constantFrom('Z', 'z', '+02:00', '');
    const ts = fc.tuple(second, fraction, zone).map(([s, f, z]) => `${s}${f ? `.${f}` : ''}${z}`);
    fc.assert(fc.property(fc.array(ts, { minLength: 1, maxLength: 20 }), (list) => {
      for (const t of list) expect(parseTsMicros(t)).toBe(full(t));
    }));
  });
});
