/**
 * Reading a log into the session model: on the log's own clock, one kubewire run at a time.
 */
import { describe, expect, it } from 'vitest';
import type { KubewireEvent } from '../../src/events/types.js';
import { LogReplay } from '../../src/session/log-replay.js';
import { SessionObserver } from '../../src/session/session-observer.js';
import { connClose, connOpen, ends, healthySpdyExec, healthyWsExec, LogBuilder, response, stack, T0, wsRequest } from '../diagnose/events.js';

const start = (type: 'proxy.start' | 'audit.start', seq: number): KubewireEvent => ({ v: 1, seq, type, note: '' }) as unknown as KubewireEvent;

function settledIds(replay: LogReplay): string[] {
  const out: string[] = [];
  replay.observer.add({ settled: (s) => out.push(`${replay.run}:${s.id}:${s.story().connections.map((c) => c.role).join(',')}`) });
  return out;
}

describe('LogReplay', () => {
  it('settles by the log\'s clock, however fast it is read: a SPDY retry 2.5 s later still joins its attempt', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), response(403), stack('opaque', 'none', null), ...ends(), connClose('upstream', 1));
    healthySpdyExec(log.after(2500), 'c2');
    const replay = new LogReplay(new SessionObserver(), () => 0);
    const settled = settledIds(replay);
    for (const e of log.events) replay.ingest(e);
    expect(settled).toEqual([]);
    const later = healthyWsExec(new LogBuilder('later').at(log.ms + 10_000), 'c9');
    for (const e of later.events) replay.ingest(e);
    expect(settled).toEqual(['0:sess-1:attempt,fallback']);
  });

  it('moves on with the wall clock while a followed log is quiet', () => {
    let wall = 5_000;
    const replay = new LogReplay(new SessionObserver(), () => wall);
    const settled = settledIds(replay);
    const log = healthyWsExec(new LogBuilder());
    for (const e of log.events) replay.ingest(e);
    expect(replay.now()).toBe(T0 + log.ms);
    replay.tickNow();
    expect(settled).toEqual([]);
    wall += 5_000;
    expect(replay.now()).toBe(T0 + log.ms + 5_000);
    replay.tickNow();
    expect(settled).toEqual(['0:sess-1:stream']);
  });

  it('starts an empty model at each kubewire run (an audit run logs audit.start, then proxy.start)', () => {
    const replay = new LogReplay(new SessionObserver(), () => 0);
    const settled = settledIds(replay);
    const feed = (events: KubewireEvent[]): void => events.forEach((e) => replay.ingest(e));
    feed([start('audit.start', 1), start('proxy.start', 2)]);
    feed(healthyWsExec(new LogBuilder('r1'), 'c1').events);
    expect(replay.run).toBe(1);
    feed([start('proxy.start', 3)]);
    expect(replay.run).toBe(2);
    expect(settled).toEqual(['1:r1:stream']);
    // The second run reuses the connection id: a new connection of a new model, not the first run's.
    feed(healthySpdyExec(new LogBuilder('r1'), 'c1').events);
    replay.finish();
    expect(settled).toEqual(['1:r1:stream', '2:r1:stream']);
    expect(replay.observer.model.get('r1')!.story().transport).toBe('spdy');
  });
});
