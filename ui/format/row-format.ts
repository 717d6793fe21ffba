/**
 * The session list's columns: compact units, fixed widths for everything but the target and the
 * command, which share what is left of the terminal's width. When the width is short, whole
 * columns go (time, then duration, then bytes: the session screen has all three) rather than
 * numbers being cut, and the command gets what the target does not need. Widths are display
 * columns (display-width.ts): a CJK character or an emoji takes two. Pure, for the row
 * component and for tests.
 */
import type { SessionRow } from '../store/types.js';
import { cutToWidth, displayWidth, fitToWidth, padStartToWidth } from './display-width.js';

export interface ColumnWidths {
  time: number;
  verb: number;
  target: number;
  command: number;
  transport: number;
  state: number;
  duration: number;
  bytes: number;
  exit: number;
  findings: number;
}

/** `bytes` holds `↑99.9K ↓99.9K`, the longest compactBytes pair; `duration` `59m59s`. */
const FIXED = { time: 8, verb: 12, transport: 15, state: 6, duration: 6, bytes: 13, exit: 4, findings: 2 };
/** Below this width the verb column narrows (`port-fwd`) to leave room for the target and command. */
const NARROW = 120;
/** Columns left out, in this order, while the target and the command would get less than MIN_FLEX. */
const OPTIONAL = ['time', 'duration', 'bytes'] as const;
const MIN_FLEX = 27;
const MIN_TARGET = 10;
/** The target's share of the flexible width at most; the command takes the rest. */
const TARGET_SHARE = 0.45;
/** The selection mark in front of a row. */
const MARK = 2;

/**
 * Widths for a list `total` columns wide. With the rows, the target column shrinks to the
 * longest target, and gives way to the command when both do not fit (down to TARGET_SHARE).
 */
export function columnWidths(total: number, rows?: readonly Pick<SessionRow, 'target' | 'command' | 'kubectlCommand'>[]): ColumnWidths {
  const w: Record<keyof typeof FIXED, number> = { ...FIXED, verb: total < NARROW ? 8 : FIXED.verb };
  const flexOf = (): number => {
    const shown = Object.values(w).filter((n) => n > 0);
    // Target and command, plus one space between each two columns shown.
    return total - MARK - shown.reduce((a, n) => a + n, 0) - (shown.length + 1);
  };
  for (const column of OPTIONAL) {
    if (flexOf() >= MIN_FLEX) break;
    w[column] = 0;
  }
  const flex = Math.max(MIN_TARGET + 5, flexOf());
  const share = Math.max(MIN_TARGET, Math.floor(flex * TARGET_SHARE));
  if (!rows) return { ...w, target: share, command: flex - share };
  let targetNeed = MIN_TARGET;
  let commandNeed = 0;
  for (const r of rows) {
    targetNeed = Math.max(targetNeed, displayWidth(r.target));
    commandNeed = Math.max(commandNeed, displayWidth(commandText(r)));
  }
  const target = Math.min(targetNeed, Math.max(share, flex - commandNeed));
  return { ...w, target, command: flex - target };
}

/** What the COMMAND column says: the command, or the kubectl command when there is none. */
export function commandText(row: Pick<SessionRow, 'command' | 'kubectlCommand'>): string {
  return row.command || (row.kubectlCommand ?? '');
}

export interface RowCells {
  time: string;
  verb: string;
  target: string;
  command: string;
  transport: string;
  fallback: string;
  state: string;
  duration: string;
  bytes: string;
  exit: string;
  findings: string;
}

/** Each cell padded or cut to its width, so a row is exactly one line; a column left out is ''. */
export function rowCells(row: SessionRow, w: ColumnWidths): RowCells {
  const fallback = row.fellBack ? ` ↩ws ${shortAnswer(row.fallbackReason)}` : row.translatedTo ? ` ⇄${row.translatedTo.startsWith('spdy') ? 'spdy' : 'ws'}` : '';
  const transport = row.refused ? refusedLabel(row.refused) : transportLabel(row);
  const transportWidth = Math.max(0, w.transport - displayWidth(fallback));
  return {
    time: fit(clockTime(row.startedAt), w.time),
    verb: fit(row.verb.length > w.verb && row.verb === 'port-forward' ? 'port-fwd' : row.verb, w.verb),
    target: fit(row.target, w.target),
    command: fit(commandText(row), w.command),
    transport: fit(transport, transportWidth),
    fallback: fallback ? fit(fallback, w.transport - transportWidth) : '',
    state: fit(row.state, w.state),
    duration: fitLeft(compactDuration(row.durationMs), w.duration),
    bytes: fitLeft(`↑${compactBytes(row.bytesUp)} ↓${compactBytes(row.bytesDown)}`, w.bytes),
    exit: fitLeft(row.exitCode === null ? '' : String(row.exitCode), w.exit),
    findings: fitLeft(row.findings > 0 ? `!${row.findings > 9 ? '+' : row.findings}` : '', w.findings),
  };
}

export function headerCells(w: ColumnWidths): RowCells {
  return {
    time: fit('TIME', w.time), verb: fit('VERB', w.verb), target: fit('TARGET', w.target), command: fit('COMMAND', w.command),
    transport: fit('TRANSPORT', w.transport), fallback: '', state: fit('STATE', w.state), duration: fitLeft('DUR', w.duration),
    bytes: fitLeft('BYTES ↑/↓', w.bytes), exit: fitLeft('EXIT', w.exit), findings: fitLeft('!', w.findings),
  };
}

/** `ws v5`, `spdy v4`, `ws+spdy tunnel`; the full protocol name is in the detail view. */
export function transportLabel(row: Pick<SessionRow, 'transport' | 'protocol'>): string {
  if (!row.transport || row.transport === 'none') return row.transport === 'none' ? 'none' : '';
  const t = row.transport === 'websocket' ? 'ws' : row.transport === 'websocket+spdy' ? 'ws+spdy' : 'spdy';
  return row.protocol ? `${t} ${shortProtocol(row.protocol)}` : t;
}

export function shortProtocol(p: string): string {
  if (/portforward/i.test(p) && /spdy/i.test(p)) return 'tunnel';
  if (/^portforward\.k8s\.io$/i.test(p)) return 'pf';
  const m = /^(?:(v\d+)\.)?(base64\.)?channel\.k8s\.io$/i.exec(p);
  if (m) return `${m[1] ?? 'v1'}${m[2] ? '.b64' : ''}`;
  return p.replace(/\.k8s\.io$/, '');
}

/** `websocket 403 Forbidden` → `ws ✗ 403`: no upgrade was accepted. */
function refusedLabel(refused: string): string {
  const space = refused.indexOf(' ');
  const kind = refused.slice(0, space);
  return `${kind === 'websocket' ? 'ws' : kind} ✗ ${shortAnswer(refused.slice(space + 1))}`;
}

function shortAnswer(reason: string | null): string {
  if (!reason) return '?';
  const m = /^(\d{3})\b/.exec(reason);
  if (m) return m[1]!;
  return reason === 'no answer' ? 'EOF' : reason.split(' ')[0]!;
}

export function clockTime(ms: number | null): string {
  if (ms === null) return '--:--:--';
  const d = new Date(ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

export function compactDuration(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** At most five characters: `999B`, `1.1K`, `99.9K`, `352K`, `1.5M`. */
export function compactBytes(n: number): string {
  if (n < 1000) return `${n}B`;
  const [value, unit] = n < 1000 * 1024 ? [n / 1024, 'K'] : n < 1000 * 1024 * 1024 ? [n / 1024 / 1024, 'M'] : [n / 1024 / 1024 / 1024, 'G'];
  return `${value < 99.95 ? value.toFixed(1) : Math.round(value)}${unit}`;
}

/** Cut to `width` display columns (an ellipsis marks the cut) and pad with spaces. */
export function fit(s: string, width: number): string {
  if (width <= 0) return '';
  return fitToWidth(s.replace(/[\u0000-\u001f\u007f]/g, ' '), width);
}

/** Right-aligned in `width` columns; a value that does not fit is cut at its end, never in its leading digits. */
export function fitLeft(s: string, width: number): string {
  if (width <= 0) return '';
  return padStartToWidth(cutToWidth(s, width), width);
}
