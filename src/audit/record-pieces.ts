/**
 * Payload events too long for one file of a rotating audit log (`--max-size`), written as
 * pieces. A 64 KiB payload segment is a line of about 88 KB in base64; with `--max-size 64K` no
 * file could hold it, so the audit writer cuts the event's payload into pieces that each fit,
 * one record per piece (chain format 3, chain.ts).
 *
 * Every piece is the event itself with a slice of its bytes: the same seq, type, offset and
 * other fields, `size` the slice's length, `payload` its base64, and `piece: {index, count}`
 * (an `http.body` keeps its text preview and Status in the first piece only).
 * Each is a valid event on its own (a reader that does not join them sees smaller segments of
 * the same stream); `PieceJoiner` gives a reader the event as it was published. Slices other
 * than the last are a multiple of 3 bytes long, so their base64 texts join without padding.
 */
import type { KubewireEvent } from '../events/types.js';
import { noteFor } from '../events/notes.js';

export interface Piece {
  index: number;
  count: number;
}

type Splittable = KubewireEvent & { type: 'k8s.data' | 'pf.data' | 'ws.data' | 'http.body' };

/** Room for `,"piece":{"index":N,"count":N}` and a note about the smaller size. */
const PIECE_OVERHEAD_BYTES = 256;

/** An event whose payload may be cut: a stream segment holding all of its bytes. */
function splittable(e: KubewireEvent): e is Splittable {
  if (e.type !== 'k8s.data' && e.type !== 'pf.data' && e.type !== 'ws.data' && e.type !== 'http.body') return false;
  return typeof e.payload === 'string' && e.truncated !== true && e.piece === undefined;
}

/**
 * The pieces of `e`, whose line is `lineBytes` long, such that each piece's line is at most
 * `maxLineBytes`; null when `e` cannot be cut (no payload, or too little room besides its other
 * fields).
 */
export function pieces(e: KubewireEvent, lineBytes: number, maxLineBytes: number): KubewireEvent[] | null {
  if (!splittable(e)) return null;
  const payload = e.payload!;
  const rest = lineBytes - payload.length + PIECE_OVERHEAD_BYTES;
  const sliceBytes = Math.floor((maxLineBytes - rest) / 4) * 3;
  if (sliceBytes < 3) return null;
  const bytes = Buffer.from(payload, 'base64');
  const count = Math.ceil(bytes.length / sliceBytes);
  if (count < 2) return null;
  const out: KubewireEvent[] = [];
  for (let index = 0; index < count; index++) {
    const slice = bytes.subarray(index * sliceBytes, Math.min(bytes.length, (index + 1) * sliceBytes));
    const piece = { ...e, size: slice.length, payload: slice.toString('base64'), piece: { index, count } } as KubewireEvent;
    // A body's text preview (at most 4096 characters) and its Status go with the first piece.
    if (piece.type === 'http.body' && index > 0) Object.assign(piece, { text: null, k8sStatus: null });
    piece.note = noteFor(piece);
    out.push(piece);
  }
  return out;
}

/**
 * Joins the pieces of an event back into it, for readers of a log: fed events in log order, it
 * hands out each event whole. The pieces of one event follow one another; only the records of
 * a rotation (a file seal, the next file's `audit.file`) may stand between them, and they are
 * handed out at once. Pieces that do not continue (a log cut short) are handed out as they are.
 */
export class PieceJoiner {
  private held: KubewireEvent[] = [];

  push(e: KubewireEvent): KubewireEvent[] {
    const piece = pieceOf(e);
    if (!piece) {
      if (this.held.length > 0 && (e.type === 'audit.seal' || e.type === 'audit.file')) return [e];
      return [...this.flush(), e];
    }
    const first = this.held[0];
    if (first && piece.index === this.held.length && piece.count === pieceOf(first)!.count && e.seq === first.seq && e.type === first.type) {
      this.held.push(e);
      return this.held.length === piece.count ? [this.join()] : [];
    }
    const out = this.flush();
    if (piece.index !== 0) return [...out, e];
    this.held = [e];
    return out;
  }

  /** At the end of the log: pieces of an event that did not complete, as they are. */
  flush(): KubewireEvent[] {
    const held = this.held;
    this.held = [];
    return held;
  }

  private join(): KubewireEvent {
    const held = this.held;
    this.held = [];
    const { piece: _piece, prev: _prev, hash: _hash, ...first } = held[0] as KubewireEvent & { piece?: Piece };
    const joined = { ...first, size: 0, payload: '' } as KubewireEvent & { size: number; payload: string };
    const parts: string[] = [];
    for (const p of held) {
      joined.size += (p as { size: number }).size;
      parts.push((p as { payload?: string }).payload ?? '');
    }
    joined.payload = parts.join('');
    joined.note = noteFor(joined);
    return joined;
  }
}

function pieceOf(e: KubewireEvent): Piece | null {
  const p = (e as { piece?: unknown }).piece;
  if (typeof p !== 'object' || p === null) return null;
  const { index, count } = p as Record<string, unknown>;
  return typeof index === 'number' && typeof count === 'number' ? { index, count } : null;
}
