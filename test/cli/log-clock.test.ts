import { describe, expect, it } from 'vitest';
import { LogClock } from '../../src/cli/log-clock.js';
import type { KubewireEvent } from '../../src/events/types.js';

const at = (ts: string | undefined): KubewireEvent => ({ v: 1, seq: 1, type: 'conn.open', ...(ts ? { ts } : {}), note: '' }) as KubewireEvent;

describe('LogClock', () => {
  it('is the log\'s time while events come, and moves on with the wall clock when they stop', () => {
    let wall = 1_000_000;
    const clock = new LogClock(() => wall);
    expect(clock.now()).toBeNull();
    clock.saw(at(undefined));
    expect(clock.now()).toBeNull();

    const t = Date.parse('2026-11-21T10:00:00.000Z');
    clock.saw(at('2026-11-21T10:00:00.000000Z'));
    clock.saw(at('2026-11-21T10:00:05.000000Z'));
    // A replay reads minutes of log in no time: the clock is the log's.
    expect(clock.now()).toBe(t + 5000);
    // An event out of order never turns it back.
    clock.saw(at('2026-11-21T10:00:01.000000Z'));
    expect(clock.now()).toBe(t + 5000);
    // Nothing more written: time passes as it does for the proxy.
    wall += 4000;
    expect(clock.now()).toBe(t + 9000);
  });
});
