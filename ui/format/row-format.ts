/**
 * The session list's columns: compact units, fixed widths for everything but the target and the
 * command, which share what is left of the terminal's width. Pure, for the row component and
 * for tests.
 */
import type { SessionRow } from '../store/types.js';

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

const FIXED = { time: 8, verb: 12, transport: 15, state: 6, duration: 6, bytes: 12, exit: 4, findings: 2 };
/** Below this width the verb column narrows (`port-fwd`) to leave room for the target and command. */
const NARROW = 120;
/** Below this width the time and duration columns go (the session screen has both). */
const COMPACT = 100;
const COLUMNS = 10;
/** The selection mark in front of a row. */
const MARK = 2;

export function columnWidths(total: number): ColumnWidths {
  const compact = total < COMPACT;
  const w = { ...FIXED, verb: total < NARROW ? 8 : FIXED.verb, time: compact ? 0 : FIXED.time, duration: compact ? 0 : FIXED.duration };
  const gaps = COLUMNS - 1 - (compact ? 2 : 0);
  const fixed = w.time + w.verb + w.transport + w.state + w.duration + w.bytes + w.exit + w.findings + gaps + MARK;
  const flex = Math.max(12, total - fixed);
  const target = Math.max(6, Math.ceil(flex * 0.55));
  return { ...w, target, command: Math.max(5, flex - target) };
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

/** Each cell padded or cut to its width, so a row is exactly one line. */
export function rowCells(row: SessionRow, w: ColumnWidths): RowCells {
  const fallback = row.fellBack ? ` ↩ws ${shortAnswer(row.fallbackReason)}` : '';
  const transport = row.refused ? refusedLabel(row.refused) : transportLabel(row);
  const transportWidth = Math.max(0, w.transport - fallback.length);
  return {
    time: fit(clockTime(row.startedAt), w.time),
    verb: fit(row.verb.length > w.verb && row.verb === 'port-forward' ? 'port-fwd' : row.verb, w.verb),
    target: fit(row.target, w.target),
    command: fit(row.command || (row.kubectlCommand ?? ''), w.command),
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

export function compactBytes(n: number): string {
  if (n < 1000) return `${n}B`;
  if (n < 1000 * 1024) return `${(n / 1024).toFixed(1)}K`;
  if (n < 1000 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)}M`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)}G`;
}

/** Cut to `width` columns (an ellipsis marks the cut) and pad with spaces. */
export function fit(s: string, width: number): string {
  if (width <= 0) return '';
  const flat = s.replace(/[\u0000-\u001f\u007f]/g, ' ');
  if (flat.length > width) return width === 1 ? '…' : `${flat.slice(0, width - 1)}…`;
  return flat.padEnd(width);
}

export function fitLeft(s: string, width: number): string {
  if (s.length > width) return s.slice(s.length - width);
  return s.padStart(width);
}
