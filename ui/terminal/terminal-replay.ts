/**
 * What the user saw: the session's recorded stdout fed to a headless xterm, resized whenever
 * kubectl sent a resize, in event order. Only recorded bytes can be replayed: with
 * `--payload head` each message keeps its first 256 bytes, with `none` nothing, and messages
 * that fell out of the ring are gone from memory (not from the log). The screen says so.
 *
 * Updates are incremental: when the stdout ring only grew, only the new messages are written.
 */
import xterm from '@xterm/headless';
import type { LaneMessage, ResizeMark, TerminalSource } from '../store/types.js';
import { ansiLine } from './ansi-line.js';
import { terminalAddsCarriageReturn } from '../../src/session/terminal-newlines.js';

export interface TerminalScreen {
  cols: number;
  rows: number;
  /** Scrollback and screen, oldest first, with SGR escapes; blank lines below the cursor dropped. */
  lines: string[];
  /** The same lines without escapes. */
  plain: string[];
  /** Sizes the terminal went through, in order. */
  sizes: [number, number][];
  /** stdout messages written so far. */
  messages: number;
  /** What cannot be shown as the user saw it, in plain words. */
  notices: string[];
}

const DEFAULT_SIZE: [number, number] = [80, 24];
const SCROLLBACK = 1000;
/** Lines of scrollback kept in a screen above the terminal's own rows. */
const SCREEN_HISTORY = 500;

type Item = { kind: 'data'; seq: number; bytes: Uint8Array } | { kind: 'resize'; seq: number; width: number; height: number };

export class TerminalReplay {
  private term: xterm.Terminal | null = null;
  private sessionId: string | null = null;
  private firstSeq: number | null = null;
  private lastSeq = -1;
  private messages = 0;
  private sizes: [number, number][] = [];
  private queue: Promise<unknown> = Promise.resolve();

  /** The screen after `source`; calls are serialised, so callers may fire and forget. */
  update(source: TerminalSource): Promise<TerminalScreen> {
    const next = this.queue.then(() => this.apply(source));
    this.queue = next.catch(() => undefined);
    return next;
  }

  dispose(): void {
    this.term?.dispose();
    this.term = null;
  }

  private async apply(source: TerminalSource): Promise<TerminalScreen> {
    const first = source.stdout[0]?.seq ?? null;
    if (this.term === null || this.sessionId !== source.sessionId || this.firstSeq !== first) this.reset(source, first);
    const term = this.term!;
    const items = mergeItems(source.stdout, source.resizes, this.lastSeq);
    let pending: Uint8Array[] = [];
    const drain = async (): Promise<void> => {
      if (!pending.length) return;
      const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      pending = [];
      await new Promise<void>((resolve) => term.write(data, resolve));
    };
    for (const item of items) {
      this.lastSeq = Math.max(this.lastSeq, item.seq);
      if (item.kind === 'data') {
        pending.push(item.bytes);
        this.messages++;
        continue;
      }
      await drain();
      if (item.width > 0 && item.height > 0 && (item.width !== term.cols || item.height !== term.rows)) {
        term.resize(Math.min(item.width, 500), Math.min(item.height, 300));
        this.sizes.push([term.cols, term.rows]);
      }
    }
    await drain();
    return this.screen(source);
  }

  private reset(source: TerminalSource, firstSeq: number | null): void {
    this.term?.dispose();
    this.term = new xterm.Terminal({
      cols: DEFAULT_SIZE[0],
      rows: DEFAULT_SIZE[1],
      scrollback: SCROLLBACK,
      allowProposedApi: true,
      // Binary stdout is full of what a parser calls errors; xterm would print each on the console.
      logLevel: 'off',
      // Without a tty in the pod, kubectl's own terminal turned each \n into \r\n (onlcr).
      convertEol: terminalAddsCarriageReturn(source.tty),
    });
    this.sessionId = source.sessionId;
    this.firstSeq = firstSeq;
    this.lastSeq = -1;
    this.messages = 0;
    this.sizes = [[...DEFAULT_SIZE]];
  }

  private screen(source: TerminalSource): TerminalScreen {
    const term = this.term!;
    const buf = term.buffer.active;
    const cursorLine = buf.baseY + buf.cursorY;
    let end = buf.length;
    while (end > cursorLine + 1 && (buf.getLine(end - 1)?.translateToString(true) ?? '') === '') end--;
    const start = Math.max(0, end - term.rows - SCREEN_HISTORY);
    const cell = buf.getNullCell();
    const lines: string[] = [];
    const plain: string[] = [];
    for (let y = start; y < end; y++) {
      const line = buf.getLine(y);
      lines.push(line ? ansiLine(line, term.cols, cell) : '');
      plain.push(line ? line.translateToString(true) : '');
    }
    return { cols: term.cols, rows: term.rows, lines, plain, sizes: [...this.sizes], messages: this.messages, notices: noticesFor(source) };
  }
}

function mergeItems(stdout: readonly LaneMessage[], resizes: readonly ResizeMark[], after: number): Item[] {
  const items: Item[] = [];
  let i = 0;
  let j = 0;
  while (i < stdout.length || j < resizes.length) {
    const m = stdout[i];
    const r = resizes[j];
    if (r && (!m || r.seq < m.seq)) {
      j++;
      if (r.seq > after) items.push({ kind: 'resize', seq: r.seq, width: r.width, height: r.height });
    } else if (m) {
      i++;
      if (m.seq > after && m.payload) items.push({ kind: 'data', seq: m.seq, bytes: Buffer.from(m.payload, 'base64') });
    }
  }
  return items;
}

export function noticesFor(source: TerminalSource): string[] {
  const notices: string[] = [];
  if (!source.tty) notices.push('not a tty session: stdout shown as a terminal would show it');
  if (source.evicted > 0) {
    notices.push(`${source.evicted} earlier stdout messages fell out of the ring: the screen starts mid-stream (the JSONL log has them)`);
  }
  if (source.truncated > 0) {
    const missing = Math.max(0, source.bytes - source.recordedBytes);
    notices.push(`truncated: ${source.truncated} stdout messages were recorded in part or not at all (--payload head|none); ${missing} B are missing, so the screen is incomplete`);
  }
  if (source.stdout.length === 0) notices.push('no stdout recorded for this session');
  return notices;
}
