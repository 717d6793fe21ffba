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
