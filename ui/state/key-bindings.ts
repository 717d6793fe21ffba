/**
 * Keys, k9s and less style: one pure function from (state, key) to the next state, so every
 * binding is testable without a terminal, and the help screen lists the same table.
 */
import {
  selectedLaneIndex, selectedMessageIndex, selectedRowIndex, type ViewState,
} from './view-state.js';

/** The parts of Ink's `Key` the bindings read. */
export interface KeyPress {
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
  shift?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

/** What the bindings need to know about the screen. */
export interface KeyContext {
  /** Visible rows of the list, in order. */
  rowIds: readonly string[];
  /** Lanes of the session shown, in order. */
  laneKeys: readonly string[];
  /** Seqs of the messages kept in the lane shown, oldest first. */
  messageSeqs: readonly number[];
  /** Lines a page moves. */
  page: number;
  /** How far the terminal screen can scroll up (its lines beyond the visible height). */
  terminalScrollMax: number;
  /** How far the findings screen can scroll down. */
  findingsScrollMax: number;
}

/** Something for the app to do beside changing the view: write a file. */
export interface KeyAction {
  action: 'save';
  /** The selected message, or the whole stream of the lane shown. */
  what: 'message' | 'stream';
}

export const HELP: readonly { section: string; keys: readonly [string, string][] }[] = [
  {
    section: 'anywhere',
    keys: [
      ['q  ctrl-c', 'quit'],
      ['?', 'this help (any key closes it)'],
      ['space', 'pause / resume the view; events still recorded'],
      ['f', 'follow: keep the newest session / message'],
      ['r', 'show / hide plain REST (get, apply, discovery)'],
      ['/', 'filter by words and fields (pod: verb: text:)'],
    ],
  },
  {
    section: 'sessions',
    keys: [
      ['j k ↓ ↑ g G pgup pgdn', 'move, first / last, page (also ctrl-u ctrl-d)'],
      ['enter  F', 'open the session; its findings in full'],
      ['esc', 'clear the filter'],
    ],
  },
  {
    section: 'session',
    keys: [
      ['j k g G', 'move through the lane\'s messages'],
      ['tab l →  shift-tab h ←', 'next / previous lane: streams, ports, headers'],
      ['t x J', 'show messages as text, hex, pretty JSON'],
      ['s', 'terminal: the screen rebuilt from stdout'],
      ['F', 'findings in full: where, why, fix, evidence'],
      ['w  W', 'save the message / the lane\'s stream to a file'],
      ['esc', 'back to the sessions'],
    ],
  },
  {
    section: 'terminal',
    keys: [['j k g G   esc s', 'scroll   back to the session']],
  },
  {
    section: 'findings',
    keys: [['j k g G   esc F', 'scroll   back to the session']],
  },
];

export type KeyResult = ViewState | 'quit' | KeyAction;

export function handleKey(v: ViewState, input: string, key: KeyPress, ctx: KeyContext): KeyResult {
  if (key.ctrl && input === 'c') return 'quit';
  if (v.editingFilter) return filterKey(v, input, key);
  if (v.help) return { ...v, help: false };
  switch (input) {
    case 'q':
      if (!key.ctrl) return 'quit';
      break;
    case '?':
      return { ...v, help: true };
    case ' ':
      return { ...v, paused: !v.paused };
    case 'f':
      return followToggled(v, ctx);
    case 'r':
      return { ...v, showRest: !v.showRest };
    case '/':
      return { ...v, screen: 'list', editingFilter: true, filterDraft: v.filter };
    default:
      break;
  }
  switch (v.screen) {
    case 'list': return listKey(v, input, key, ctx);
    case 'detail': return detailKey(v, input, key, ctx);
    case 'terminal': return terminalKey(v, input, key, ctx);
    case 'findings': return findingsKey(v, input, key, ctx);
  }
}

function filterKey(v: ViewState, input: string, key: KeyPress): ViewState {
  if (key.escape) return { ...v, editingFilter: false, filterDraft: '' };
  if (key.return) return { ...v, editingFilter: false, filter: v.filterDraft.trim(), filterDraft: '' };
  if (key.backspace || key.delete) return { ...v, filterDraft: v.filterDraft.slice(0, -1) };
  if (key.ctrl && input === 'u') return { ...v, filterDraft: '' };
  if (key.ctrl || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return v;
  const printable = input.replace(/[\u0000-\u001f\u007f]/g, '');
  return printable ? { ...v, filterDraft: v.filterDraft + printable } : v;
}

function followToggled(v: ViewState, ctx: KeyContext): ViewState {
  if (!v.follow) return { ...v, follow: true, terminalScroll: 0 };
  // Leaving follow keeps what it had selected.
  const i = selectedRowIndex(v, ctx.rowIds.map((id) => ({ id })));
  const m = selectedMessageIndex(v, ctx.messageSeqs);
  return {
    ...v, follow: false, selectedId: i >= 0 ? ctx.rowIds[i]! : v.selectedId, selectedIndex: Math.max(0, i),
    message: Math.max(0, m), messageSeq: m >= 0 ? ctx.messageSeqs[m]! : null,
  };
}

/** Vertical movement shared by the list, the lanes and the terminal: the new index, or null. */
function moved(input: string, key: KeyPress, index: number, count: number, page: number): number | null {
  if (count === 0) return null;
  let next: number;
  if (input === 'j' || key.downArrow) next = index + 1;
  else if (input === 'k' || key.upArrow) next = index - 1;
  else if (input === 'g' || key.home) next = 0;
  else if (input === 'G' || key.end) next = count - 1;
  else if (key.pageDown || (key.ctrl && input === 'd')) next = index + page;
  else if (key.pageUp || (key.ctrl && input === 'u')) next = index - page;
  else return null;
  return Math.min(Math.max(0, next), count - 1);
}

function listKey(v: ViewState, input: string, key: KeyPress, ctx: KeyContext): ViewState {
  const rows = ctx.rowIds.map((id) => ({ id }));
  const index = selectedRowIndex(v, rows);
  const next = moved(input, key, index, rows.length, ctx.page);
  if (next !== null) {
    // G (or end) to the newest row is how one gets back on the tail, so it keeps follow.
    const follow = v.follow && next === rows.length - 1;
    return { ...v, selectedId: ctx.rowIds[next]!, selectedIndex: next, follow };
  }
  if (key.return && index >= 0) {
    const id = ctx.rowIds[index]!;
    return { ...v, screen: 'detail', detailId: id, selectedId: id, selectedIndex: index, laneKey: null, messageSeq: null, message: 0, terminalScroll: 0 };
  }
  if (input === 'F' && index >= 0) {
    const id = ctx.rowIds[index]!;
    return { ...v, screen: 'findings', detailId: id, selectedId: id, selectedIndex: index, laneKey: null, messageSeq: null, message: 0, findingsScroll: 0 };
  }
  if (key.escape && v.filter) return { ...v, filter: '' };
  return v;
}

function detailKey(v: ViewState, input: string, key: KeyPress, ctx: KeyContext): ViewState | KeyAction {
  if (key.escape || key.backspace) return { ...v, screen: 'list' };
  if (input === 'F') return { ...v, screen: 'findings', findingsScroll: 0 };
  if (input === 'w') return { action: 'save', what: 'message' };
  if (input === 'W') return { action: 'save', what: 'stream' };
  if (input === 't') return { ...v, format: 'text' };
  if (input === 'x') return { ...v, format: 'hex' };
  if (input === 'J') return { ...v, format: 'json' };
  if (input === 's') return { ...v, screen: 'terminal', terminalScroll: 0 };
  const lanes = ctx.laneKeys.map((key) => ({ key }));
  const lane = selectedLaneIndex(v, lanes);
  const forward = (key.tab && !key.shift) || input === 'l' || key.rightArrow;
  const backward = (key.tab && key.shift) || input === 'h' || key.leftArrow;
  if ((forward || backward) && lanes.length > 0) {
    const next = (lane + (forward ? 1 : -1) + lanes.length) % lanes.length;
    return { ...v, laneKey: ctx.laneKeys[next]!, messageSeq: null, message: 0 };
  }
  const count = ctx.messageSeqs.length;
  const index = selectedMessageIndex(v, ctx.messageSeqs);
  const next = moved(input, key, index, count, ctx.page);
  if (next !== null) return { ...v, message: next, messageSeq: ctx.messageSeqs[next]!, follow: v.follow && next === count - 1 };
  return v;
}

function terminalKey(v: ViewState, input: string, key: KeyPress, ctx: KeyContext): ViewState {
  if (key.escape || key.backspace || input === 's') return { ...v, screen: 'detail' };
  // Scrolling counts lines up from the bottom, as a terminal's scrollback does.
  const max = Math.max(0, ctx.terminalScrollMax);
  const fromTop = max - Math.min(v.terminalScroll, max);
  const next = moved(input, key, fromTop, max + 1, ctx.page);
  if (next !== null) return { ...v, terminalScroll: max - next };
  return v;
}

function findingsKey(v: ViewState, input: string, key: KeyPress, ctx: KeyContext): ViewState {
  if (key.escape || key.backspace || input === 'F') return { ...v, screen: 'detail' };
  const max = Math.max(0, ctx.findingsScrollMax);
  const next = moved(input, key, Math.min(v.findingsScroll, max), max + 1, ctx.page);
  if (next !== null) return { ...v, findingsScroll: next };
  return v;
}
