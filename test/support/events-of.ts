/**
 * Events of one type from a list, as the tests read them (test/support/event-log.ts and
 * wire.ts both hand these out).
 */
import { frameOf } from '../../src/events/frames.js';
import type { KubewireEvent } from '../../src/events/types.js';

/** The events of one type (`http.request` included, which shares its shape with `upgrade.request`). */
export type EventOf<T extends KubewireEvent['type']> = KubewireEvent extends infer E
  ? E extends { type: infer U } ? (T extends U ? E & { type: T } : never) : never
  : never;

/**
 * The events of one type. For `ws.frame` and `spdy.frame`, every frame of the log: those folded
 * into data events (schema version 2) too, rebuilt by `frameOf`, in log order.
 */
export function ofType<T extends KubewireEvent['type']>(events: KubewireEvent[], type: T): EventOf<T>[] {
  if (type !== 'ws.frame' && type !== 'spdy.frame') return events.filter((e): e is EventOf<T> => e.type === type);
  const frames: KubewireEvent[] = [];
  for (const e of events) {
    const f = frameOf(e);
    if (f !== null && f.type === type) frames.push(f);
  }
  return frames as EventOf<T>[];
}
