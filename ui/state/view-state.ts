/**
 * Where the user is: which screen, which session and lane, the filter, follow and pause.
 * Plain data, changed only by `handleKey` (key-bindings.ts); selections are kept by id so new
 * rows never move them.
 */
import type { MessageFormat } from '../format/message-format.js';
import type { LaneView, SessionRow } from '../store/types.js';

export type Screen = 'list' | 'detail' | 'terminal' | 'findings';

export interface ViewState {
  screen: Screen;
  /** The selected row, by session id; `selectedIndex` is where it was, for when it goes away. */
  selectedId: string | null;
  selectedIndex: number;
  /** The session the detail and terminal screens show. */
  detailId: string | null;
  /** Keep the newest row (and the newest message of a lane) selected. */
  follow: boolean;
  /** Stop applying new snapshots to the view; the store keeps ingesting. */
  paused: boolean;
  showRest: boolean;
  filter: string;
  editingFilter: boolean;
  filterDraft: string;
  help: boolean;
  format: MessageFormat;
  laneKey: string | null;
  /** Selected message in the lane, by seq (so evictions do not move it), and where it was; `follow` overrides both. */
  messageSeq: number | null;
  message: number;
  /** Terminal screen: lines scrolled up from the bottom. */
  terminalScroll: number;
  /** Findings screen: lines scrolled down from the top. */
  findingsScroll: number;
}

export const initialViewState: ViewState = {
  screen: 'list',
  selectedId: null,
  selectedIndex: 0,
  detailId: null,
  follow: false,
  paused: false,
  showRest: false,
  filter: '',
  editingFilter: false,
  filterDraft: '',
  help: false,
  format: 'text',
  laneKey: null,
  messageSeq: null,
  message: 0,
  terminalScroll: 0,
  findingsScroll: 0,
};

/** The filter the list applies now: what is being typed, live, or the one applied. */
export function activeFilter(v: ViewState): string {
  return v.editingFilter ? v.filterDraft : v.filter;
}

/** Index of the selected row among `rows` (the visible ones), or -1 when there are none. */
export function selectedRowIndex(v: ViewState, rows: readonly Pick<SessionRow, 'id'>[]): number {
  if (rows.length === 0) return -1;
  if (v.follow) return rows.length - 1;
  if (v.selectedId !== null) {
    const i = rows.findIndex((r) => r.id === v.selectedId);
    if (i >= 0) return i;
  }
  return Math.min(Math.max(0, v.selectedIndex), rows.length - 1);
}

/** Index of the lane shown: the chosen one, else stdout, else the first. */
export function selectedLaneIndex(v: ViewState, lanes: readonly Pick<LaneView, 'key'>[]): number {
  if (lanes.length === 0) return -1;
  const chosen = v.laneKey === null ? -1 : lanes.findIndex((l) => l.key === v.laneKey);
  if (chosen >= 0) return chosen;
  const stdout = lanes.findIndex((l) => l.key === 'stdout');
  return stdout >= 0 ? stdout : 0;
}

/** Index of the selected message among the lane's kept ones (their seqs, ascending). */
export function selectedMessageIndex(v: ViewState, seqs: readonly number[]): number {
  const count = seqs.length;
  if (count === 0) return -1;
  if (v.follow) return count - 1;
  if (v.messageSeq !== null) {
    const i = seqs.indexOf(v.messageSeq);
    if (i >= 0) return i;
    // It fell out of the ring: the oldest kept message is the nearest.
    if (v.messageSeq < seqs[0]!) return 0;
  }
  return Math.min(Math.max(0, v.message), count - 1);
}
