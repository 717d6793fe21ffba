/**
 * The frame an event stands for, whichever way the log tells it. Since schema version 2 a
 * plain data frame rides in the data event its payload yields (`wsFrame`, `spdyFrame`; see
 * types.ts), so a reader that counts frames, watches FIN on a stream or keeps the first server
 * frame asks here instead of matching `ws.frame` / `spdy.frame` alone. Version 1 logs, with a
 * frame event before every data event, read the same.
 *
 * A folded frame came before its data event on the wire and in version 1 logs: readers that
 * care about order take the frame first, then the data.
 */
import type { EventBody, KubewireEvent, SpdyFrameEvent, WsFrameEvent } from './types.js';

export type FrameEvent = WsFrameEvent | SpdyFrameEvent;

/** The frame folded into a data event body, rebuilt as the frame event it replaced; else null. */
export function foldedFrameOf(e: EventBody): FrameEvent | null {
  if (e.type !== 'k8s.data' && e.type !== 'pf.data' && e.type !== 'ws.data') return null;
  const w = e.wsFrame;
  if (w !== undefined) {
    return {
      type: 'ws.frame', dir: e.dir, offset: w.offset, opcode: w.opcode, kind: w.opcode === 1 ? 'text' : 'binary',
      fin: true, rsv: 0, masked: e.dir === 'c2s', length: w.length,
    };
  }
  const s = e.spdyFrame;
  if (s !== undefined) {
    const tunnel = e.type === 'pf.data' && e.tunnel === true;
    return {
      type: 'spdy.frame', dir: e.dir, offset: s.offset, frame: 'DATA', flags: s.fin ? 1 : 0, fin: s.fin, length: s.length,
      streamId: s.streamId, streamType: s.streamType, ...(tunnel ? { tunnel: true } : {}),
    };
  }
  return null;
}

/** A frame event itself, or the frame folded into a data event body; null for anything else. */
export function frameBodyOf(e: EventBody): FrameEvent | null {
  return e.type === 'ws.frame' || e.type === 'spdy.frame' ? e : foldedFrameOf(e);
}

/**
 * The same for stamped events: a folded frame gets the envelope of the event it rode in (its
 * `seq` names that line of the log).
 */
export function frameOf(e: KubewireEvent): (KubewireEvent & FrameEvent) | null {
  if (e.type === 'ws.frame' || e.type === 'spdy.frame') return e;
  const f = foldedFrameOf(e) as (FrameEvent & Partial<KubewireEvent>) | null;
  if (f === null) return null;
  // Set on the fresh object rather than spread into another: a spread of an object with
  // optional keys cost about 18 µs per data event, once per data event of every connection.
  f.v = e.v;
  f.seq = e.seq;
  if (e.ts !== undefined) f.ts = e.ts;
  if (e.session !== undefined) f.session = e.session;
  if (e.conn !== undefined) f.conn = e.conn;
  f.note = e.note;
  return f as KubewireEvent & FrameEvent;
}
