/**
 * Time for the session model while a log is read. The model settles sessions by time
 * (src/session/session-model.ts) and a log has no clock but its events' `ts`; ticking once per
 * TICK_MS of log time, as a live observer does once a second, settles sessions as the log is
 * read, so the model forgets finished ones first and stays within its bound.
 *
 * Connection ids restart with every kubewire run (`audit.start`, `proxy.start`), so a reader
 * starts a fresh model there: an earlier run's `c3` is not this run's.
 */
import { parseTsMillis } from '../events/stamp.js';
import type { KubewireEvent } from '../events/types.js';
import { TICK_MS } from '../session/session-observer.js';

export class LogClock {
  private next = -Infinity;

  /** The time to tick the model at before taking `e`, or null when no tick is due. */
  due(e: KubewireEvent): number | null {
    const ms = parseTsMillis(e.ts);
    if (ms === null || ms < this.next) return null;
    this.next = ms + TICK_MS;
    return ms;
  }
}

/** A new kubewire run starts in the log here; its connection ids start again from 1. */
export function startsRun(e: KubewireEvent): boolean {
  return e.type === 'audit.start' || e.type === 'proxy.start';
}
