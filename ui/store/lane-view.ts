/**
 * Lanes as the detail view reads them: a copy of the ring's messages, each event reduced to the
 * fields a message row shows. Built only for the session on screen, once per published version.
 */
import type { Lane, LaneEvent } from './lane.js';
import type { LaneMessage, LaneView } from './types.js';

export function laneView(lane: Lane): LaneView {
  return {
    key: lane.key,
    label: lane.label,
    kind: lane.kind,
    messages: lane.ring.toArray().map(laneMessage),
    total: lane.total,
    evicted: lane.evicted,
    bytesUp: lane.bytes.c2s,
    bytesDown: lane.bytes.s2c,
    truncated: lane.truncated,
    port: lane.port,
  };
}

export function laneMessage(e: LaneEvent): LaneMessage {
  const x = e as LaneEvent & {
    kind?: string; frame?: string; closeCode?: number | null; requestId?: string | null; initial?: boolean; stream?: string; message?: string;
    statusName?: string; pingId?: number;
  };
  const size = x.size ?? x.length ?? 0;
  let tag = '';
  let payload = x.payload;
  if (x.type === 'ws.frame') {
    tag = x.kind === 'close' ? `close ${x.closeCode ?? ''}`.trim() : x.kind ?? '';
  } else if (x.type === 'spdy.frame') {
    tag = x.frame === 'PING' ? `PING ${x.pingId ?? ''}`.trim() : `${x.frame ?? ''} ${x.statusName ?? ''}`.trim();
    payload = undefined;
  } else if (x.type === 'k8s.close') {
    tag = `close ${x.stream ?? ''}`.trim();
  } else if (x.type === 'pf.data' || x.type === 'pf.error') {
    tag = x.requestId !== null && x.requestId !== undefined ? `req ${x.requestId}` : '';
    if (x.type === 'pf.error') {
      tag = `${tag} error`.trim();
      payload = Buffer.from(x.message ?? '', 'utf8').toString('base64');
    }
  } else if (x.initial) {
    tag = 'initial';
  }
  const recorded = payload !== undefined;
  return {
    seq: x.seq,
    ts: x.ts ?? null,
    dir: x.dir ?? null,
    conn: x.conn ?? null,
    size: x.type === 'pf.error' ? Buffer.byteLength(x.message ?? '') : size,
    payload,
    truncated: x.type === 'ws.frame' || x.type === 'spdy.frame' || x.type === 'k8s.close' ? false : Boolean(x.truncated) || (!recorded && size > 0),
    note: x.note,
    tag,
  };
}
