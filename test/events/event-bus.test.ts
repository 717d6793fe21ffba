import { afterEach, describe, expect, it, vi } from 'vitest';
import { DROP_REPORT_INTERVAL_MS, EventBus, type EventSink } from '../../src/events/event-bus.js';
import { noteFor } from '../../src/events/notes.js';
import type { EventBody, KubewireEvent } from '../../src/events/types.js';

/** A sink whose queue is "full" whenever the test says so. */
class FakeSink implements EventSink {
  readonly events: KubewireEvent[] = [];
  full = false;
  closed = false;
  private listeners: (() => void)[] = [];

  constructor(readonly name: string) {}

  write(event: KubewireEvent): boolean {
    this.events.push(event);
    return !this.full;
  }

  onDrain(listener: () => void): void {
    this.listeners.push(listener);
  }

  drain(): void {
    this.full = false;
    const ls = this.listeners;
    this.listeners = [];
    for (const l of ls) l();
  }

  get waiting(): number {
    return this.listeners.length;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

const resize = (width: number): EventBody => ({ type: 'k8s.resize', dir: 'c2s', offset: width, width, height: 24 });
const publishResize = (bus: EventBus, width: number): KubewireEvent => {
  const body = resize(width);
  return bus.publish(body, noteFor(body), { session: 's1', conn: 'c1' });
};

// 2026-11-21T10:57:03.123Z plus 456 µs.
const T0 = Date.UTC(2026, 10, 21, 10, 57, 3, 123) + 0.456;

afterEach(() => {
  vi.useRealTimers();
});

describe('EventBus stamping', () => {
  it('stamps v, seq, ts with microseconds, session, conn, then the body, then note', () => {
    const bus = new EventBus({ lossless: false, now: () => T0 });
    const e1 = publishResize(bus, 80);
    const e2 = bus.publish({ type: 'proxy.stop', reason: 'signal', connections: 0, dropped: 0 }, 'stopped');
    expect(e1.ts).toBe('2026-11-21T10:57:03.123456Z');
    expect(Object.keys(e1)).toEqual(['v', 'seq', 'ts', 'session', 'conn', 'type', 'dir', 'offset', 'width', 'height', 'note']);
    expect(e1).toMatchObject({ v: 2, seq: 1, session: 's1', conn: 'c1', note: 'resize 80x24' });
    expect(Object.keys(e2)).toEqual(['v', 'seq', 'ts', 'type', 'reason', 'connections', 'dropped', 'note']);
    expect(e2.seq).toBe(2);
  });

  it('keeps microseconds exact near the end of a millisecond', () => {
    let t = Date.UTC(2026, 10, 21, 10, 57, 3, 999) + 0.999;
    const bus = new EventBus({ lossless: false, now: () => t });
    expect(publishResize(bus, 1).ts).toBe('2026-11-21T10:57:03.999999Z');
    t = Date.UTC(2026, 10, 21, 10, 57, 3, 0);
    expect(publishResize(bus, 1).ts).toBe('2026-11-21T10:57:03.000000Z');
  });

  it('uses the real clock by default, with microseconds', () => {
    const bus = new EventBus({ lossless: false });
    const before = Date.now();
    const e = publishResize(bus, 1);
    expect(e.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Math.abs(Date.parse(e.ts!) - before)).toBeLessThan(1000);
  });

  it('delivers to every sink and subscriber in seq order, also events published from a subscriber', () => {
    const bus = new EventBus({ lossless: false, now: () => T0 });
    const a = new FakeSink('a');
    const b = new FakeSink('b');
    bus.addSink(a);
    bus.addSink(b);
    const first: number[] = [];
    const second: number[] = [];
    bus.subscribe((e) => {
      first.push(e.seq);
      if (e.type === 'k8s.resize' && e.width === 1) publishResize(bus, 2);
    });
    const off = bus.subscribe((e) => second.push(e.seq));
    publishResize(bus, 1);
    expect(first).toEqual([1, 2]);
    expect(second).toEqual([1, 2]);
    expect(a.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(b.events.map((e) => e.seq)).toEqual([1, 2]);
    off();
    publishResize(bus, 3);
    expect(second).toEqual([1, 2]);
    expect(first).toEqual([1, 2, 3]);
  });
});

describe('EventBus, lossy mode', () => {
  it('drops for a sink that is behind, counts, and reports with sink.dropped when it drains', () => {
    vi.useFakeTimers({ now: T0 });
    const bus = new EventBus({ lossless: false, now: () => Date.now() });
    const fast = new FakeSink('fast');
    const slow = new FakeSink('slow');
    bus.addSink(fast);
    bus.addSink(slow);
    const seen: KubewireEvent[] = [];
    bus.subscribe((e) => seen.push(e));

    publishResize(bus, 1);
    slow.full = true;
    publishResize(bus, 2); // accepted, but the sink says it is behind
    expect(bus.writable).toBe(true); // a lossy bus never holds producers
    for (let w = 3; w <= 5; w++) publishResize(bus, w);
    expect(slow.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(fast.events).toHaveLength(5);
    expect(seen).toHaveLength(5);
    expect(bus.dropped).toBe(3);
    expect(slow.waiting).toBe(1);

    slow.drain();
    const report = fast.events.at(-1)!;
    expect(report).toMatchObject({ type: 'sink.dropped', sink: 'slow', dropped: 3, total: 3, seq: 6 });
    expect(report.note).toContain('slow fell behind: 3 events dropped');
    expect(slow.events.at(-1)).toEqual(report);
    expect(seen.at(-1)).toEqual(report);

    // Falling behind again within a second: reported once the second is over, not at once.
    slow.full = true;
    publishResize(bus, 7);
    publishResize(bus, 8);
    publishResize(bus, 9);
    expect(bus.dropped).toBe(5);
    slow.drain();
    expect(fast.types().filter((t) => t === 'sink.dropped')).toHaveLength(1);
    vi.advanceTimersByTime(DROP_REPORT_INTERVAL_MS);
    const reports = fast.events.filter((e) => e.type === 'sink.dropped');
    expect(reports).toHaveLength(2);
    expect(reports[1]).toMatchObject({ sink: 'slow', dropped: 2, total: 5 });
    expect(slow.events.at(-1)).toEqual(reports[1]);
  });

  it('reports drops not yet reported when it closes, and closes every sink', async () => {
    const bus = new EventBus({ lossless: false, now: () => T0 });
    const fast = new FakeSink('fast');
    const slow = new FakeSink('slow');
    bus.addSink(fast);
    bus.addSink(slow);
    slow.full = true;
    publishResize(bus, 1);
    publishResize(bus, 2);
    await bus.close();
    expect(fast.events.at(-1)).toMatchObject({ type: 'sink.dropped', sink: 'slow', dropped: 1, total: 1 });
    expect(slow.events.at(-1)).toMatchObject({ type: 'sink.dropped' });
    expect(fast.closed && slow.closed).toBe(true);
    // After close, subscribers still hear events; sinks do not.
    const seen: string[] = [];
    bus.subscribe((e) => seen.push(e.type));
    publishResize(bus, 3);
    expect(seen).toEqual(['k8s.resize']);
    expect(fast.events.at(-1)!.type).toBe('sink.dropped');
  });
});

describe('EventBus, lossless mode', () => {
  it('never drops: holds producers with writable=false until every sink drained, with sink.backpressure events', async () => {
    let now = T0;
    const bus = new EventBus({ lossless: true, now: () => now });
    const fast = new FakeSink('fast');
    const slow = new FakeSink('slow');
    bus.addSink(fast);
    bus.addSink(slow);
    let resumed = 0;

    publishResize(bus, 1);
    expect(bus.writable).toBe(true);
    slow.full = true;
    publishResize(bus, 2);
    expect(bus.writable).toBe(false);
    bus.onWritable(() => resumed++);
    // A producer that is slow to pause still loses nothing.
    publishResize(bus, 3);
    expect(slow.types()).toEqual(['k8s.resize', 'k8s.resize', 'sink.backpressure', 'k8s.resize']);
    expect(slow.events[2]).toMatchObject({ type: 'sink.backpressure', sink: 'slow', state: 'paused', pausedMs: null });
    expect(fast.events).toEqual(slow.events);

    now += 250;
    fast.full = true; // a second sink behind too: writable only when both drained
    publishResize(bus, 4);
    expect(fast.types().filter((t) => t === 'sink.backpressure')).toHaveLength(2);
    slow.drain();
    expect(bus.writable).toBe(false);
    expect(resumed).toBe(0);
    expect(fast.events.at(-1)).toMatchObject({ type: 'sink.backpressure', sink: 'slow', state: 'resumed', pausedMs: 250 });
    fast.drain();
    expect(bus.writable).toBe(true);
    expect(resumed).toBe(1);
    expect(slow.events.at(-1)).toMatchObject({ type: 'sink.backpressure', sink: 'fast', state: 'resumed', pausedMs: 0 });
    expect(bus.dropped).toBe(0);
    expect(slow.events.map((e) => e.seq)).toEqual(slow.events.map((_, i) => i + 1));
    expect(fast.events).toEqual(slow.events);

    // Already writable: the listener runs soon, not never.
    const soon = new Promise<void>((resolve) => bus.onWritable(resolve));
    await soon;
  });

  it('releases held producers when it closes', async () => {
    const bus = new EventBus({ lossless: true, now: () => T0 });
    const slow = new FakeSink('slow');
    bus.addSink(slow);
    slow.full = true;
    publishResize(bus, 1);
    let released = false;
    bus.onWritable(() => { released = true; });
    await bus.close();
    expect(released).toBe(true);
    expect(slow.closed).toBe(true);
  });

  it('rethrows a sink that fails to close, after closing the others', async () => {
    const bus = new EventBus({ lossless: false });
    const good = new FakeSink('good');
    const bad = new FakeSink('bad');
    bad.close = () => Promise.reject(new Error('boom'));
    bus.addSink(bad);
    bus.addSink(good);
    await expect(bus.close()).rejects.toThrow('boom');
    expect(good.closed).toBe(true);
  });
});
