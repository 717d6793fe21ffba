/**
 * The shared count of bytes in flight (src/observer/in-flight.ts): exact after any sequence of
 * copies and decodes, across the 2^32 wrap, and a `decoded` message exactly once per ask.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decoded, InFlight, inFlightMemory } from '../../src/observer/in-flight.js';

type Step = { op: 'copy' | 'decode'; bytes: number } | { op: 'wake' };

describe('bytes in flight, counted in shared memory', () => {
  it('is what was copied and not yet decoded, and the observer answers each ask once', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constantFrom('copy' as const, 'decode' as const), bytes: fc.integer({ min: 0, max: 64 * 1024 * 1024 }) }),
      fc.constant({ op: 'wake' as const }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps: Step[]) => {
        const memory = inFlightMemory();
        const relay = new InFlight(memory);
        const observer = new Decoded(memory);
        let copied = 0;
        let decoded = 0;
        let asked = false;
        for (const s of steps) {
          if (s.op === 'copy') {
            // The relay holds or skips long before 2^31 is in flight.
            if (copied - decoded + s.bytes >= 2 ** 31) continue;
            relay.copy(s.bytes);
            copied += s.bytes;
          } else if (s.op === 'decode') {
            // The observer never decodes more than was copied.
            const n = Math.min(s.bytes, copied - decoded);
            expect(observer.add(n)).toBe(asked);
            asked = false;
            decoded += n;
          } else {
            expect(relay.wake()).toBe(copied - decoded);
            asked = true;
          }
          expect(relay.bytes).toBe(copied - decoded);
        }
      }),
    );
  });

  it('stays exact when the counts wrap past 2^32', () => {
    const memory = inFlightMemory();
    const relay = new InFlight(memory);
    const observer = new Decoded(memory);
    const GiB = 1024 * 1024 * 1024;
    for (let i = 0; i < 5; i++) {
      relay.copy(GiB);
      observer.add(GiB);
    }
    relay.copy(3 * 1024 * 1024);
    observer.add(1024 * 1024);
    expect(relay.bytes).toBe(2 * 1024 * 1024);
  });

  it('settle takes the ask back', () => {
    const memory = inFlightMemory();
    const relay = new InFlight(memory);
    const observer = new Decoded(memory);
    relay.wake();
    relay.settle();
    expect(observer.add(1)).toBe(false);
  });
});
