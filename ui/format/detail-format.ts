/**
 * Lines of the session screen: the summary, the decoded status, one timeline line per
 * connection, one line per lane message. Pure strings; the components only colour them.
 */
import type { ConnectionView, DecodedStatus, LaneMessage, SessionRow } from '../store/types.js';
import { cutToWidth, displayWidth, fitToWidth, joinFitting, padStartToWidth } from './display-width.js';
import { clockTime, compactBytes, compactDuration, shortProtocol } from './row-format.js';

export function summaryLine(row: SessionRow): string {
  const parts: string[] = [row.verb, row.target || '(no target)'];
  if (row.command) parts.push(row.verb === 'exec' || row.verb === 'cp' || row.verb === 'attach' ? `[${row.command}]` : row.command);
  if (row.tty) parts.push('tty');
  if (row.transport) parts.push(`· ${row.transport}${row.protocol ? ` ${row.protocol}` : ''}`);
  if (row.translatedTo) parts.push(`⇄ translated to ${row.translatedTo} upstream`);
  return parts.join(' ');
}

/** How it went, the numbers first; at `width`, parts that do not fit are left out whole. */
export function outcomeLine(row: SessionRow, width = Infinity): string {
  const parts: string[] = [row.state];
  if (row.exitCode !== null) parts.push(`exit ${row.exitCode}`);
  parts.push(`↑${compactBytes(row.bytesUp)} ↓${compactBytes(row.bytesDown)}`);
  if (row.durationMs !== null) parts.push(compactDuration(row.durationMs));
  if (row.startedAt !== null) parts.push(`started ${clockTime(row.startedAt)}`);
  parts.push(`${row.connections} connection${row.connections === 1 ? '' : 's'}`);
  if (row.anomalies) parts.push(`${row.anomalies} decode anomal${row.anomalies === 1 ? 'y' : 'ies'}`);
  if (row.kubectlCommand) parts.push(row.kubectlCommand);
  // A decoded capture's events carry no session: the model's anonymous session has no id.
  if (row.id) parts.push(`session ${row.id}`);
  return joinFitting(parts, ' · ', width);
}

/** The exit code, reason and message kubectl was given, or why there was none. */
export function statusLine(row: SessionRow, status: DecodedStatus | null): string {
  if (status) {
    const head = [status.status ?? 'status', status.reason, status.exitCode !== null ? `exit code ${status.exitCode}` : null].filter(Boolean).join(' · ');
    return `status: ${head}${status.message ? ` · ${status.message}` : ''}`;
  }
  if (row.failure) return `failed: ${row.failure}`;
  if (row.state === 'live') return 'status: none yet (session live)';
  return row.rest || row.verb === 'logs' || row.verb === 'watch' ? 'status: (plain HTTP: the headers lane has each request and answer)' : 'status: none received';
}

export function fallbackLine(row: SessionRow, connections: readonly ConnectionView[]): string | null {
  if (!row.fellBack) return null;
  const why = connections.find((c) => c.role === 'attempt')?.bodyStatus?.message;
  return `↩ fell back to SPDY: WebSocket got ${row.fallbackReason ?? 'no answer'}${why ? ` "${why}"` : ''}`;
}

interface Cell {
  text: string;
  width: number;
  right?: boolean;
}

/** Columns of the timeline left out, in this order, when the line would not fit. */
const TIMELINE_OPTIONAL = ['bytes', 'at', 'conn', 'method'] as const;
/** What the last column (exit code, the refusal's message, the error) keeps at least before a column goes. */
const TIMELINE_EXTRA = 16;

/**
 * The timeline, one line per connection, at most `width` columns each:
 * `attempt  c1    GET  ws exec  403 Forbidden  +2ms  3ms ↑449B ↓258B  fake apiserver rejected…`.
 * The columns line up across the connections; when they do not fit, whole columns go (bytes,
 * the start offset, the connection id, the method) rather than a number being cut, and only the
 * closing text is cut.
 */
export function connectionLines(connections: readonly ConnectionView[], sessionStart: number | null, width = Infinity): string[] {
  const rows = connections.map((c) => connectionCells(c, sessionStart));
  const widths: Record<string, number> = {};
  for (const r of rows) for (const [k, cell] of Object.entries(r)) widths[k] = Math.max(widths[k] ?? 0, Math.min(cell.width, displayWidth(cell.text)));
  const shown = new Set(Object.keys(widths).filter((k) => k !== 'extra' && widths[k]! > 0));
  const used = (): number => [...shown].reduce((n, k) => n + (widths[k] ?? 0) + 1, 0);
  const anyExtra = (widths['extra'] ?? 0) > 0;
  for (const k of TIMELINE_OPTIONAL) {
    if (width - used() >= (anyExtra ? Math.min(TIMELINE_EXTRA, widths['extra']!) : 0)) break;
    shown.delete(k);
  }
  return rows.map((r) => {
    const parts: string[] = [];
    for (const [k, cell] of Object.entries(r)) {
      if (k === 'extra' || !shown.has(k)) continue;
      const w = widths[k]!;
      parts.push(cell.right ? padStartToWidth(cutToWidth(cell.text, w), w) : fitToWidth(cell.text, w));
    }
    const line = parts.join(' ');
    const room = width - displayWidth(line) - 1;
    return r.extra.text && room > 0 ? `${line} ${cutToWidth(r.extra.text, room)}` : line;
  });
}

function connectionCells(c: ConnectionView, sessionStart: number | null): Record<'role' | 'conn' | 'method' | 'what' | 'answer' | 'at' | 'took' | 'bytes' | 'extra', Cell> {
  const what = c.kind === 'upgrade'
    ? `${upgradeShort(c.upgrade)} ${c.operation ?? 'upgrade'}`
    : shortPath(c.path ?? '');
  const answer = c.status === null
    ? c.done ? 'no response' : '…'
    : c.status === 101
      ? `101 ${c.protocol ? shortProtocolName(c.protocol) : '(no subprotocol)'}`
      : `${c.status} ${c.reason ?? ''}`.trim();
  const at = sessionStart !== null && c.startedAt !== null ? `+${compactDuration(c.startedAt - sessionStart)}` : '';
  const took = c.durationMs !== null ? compactDuration(c.durationMs) : c.done ? '' : 'open';
  const extra: string[] = [];
  if (c.exitCode !== null) extra.push(`exit ${c.exitCode}`);
  if (c.bodyStatus?.message) extra.push(c.bodyStatus.message);
  if (c.error) extra.push(c.error);
  if (c.anomalies) extra.push(`${c.anomalies} anomalies`);
  return {
    role: { text: c.role, width: 8 },
    conn: { text: c.conn, width: 5 },
    method: { text: c.method ?? '', width: 7 },
    what: { text: what, width: 22 },
    answer: { text: answer, width: 21 },
    at: { text: at, width: 7, right: true },
    took: { text: took, width: 6, right: true },
    bytes: { text: `↑${compactBytes(c.bytesUp)} ↓${compactBytes(c.bytesDown)}`, width: 13 },
    extra: { text: extra.join(' · '), width: Infinity },
  };
}

/** `/api/v1/namespaces/default/pods/p1/log` → `pods default/p1/log`; other paths as they are. */
export function shortPath(path: string): string {
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/([^/]+)(?:\/(.*))?$/.exec(path);
  return m ? `${m[2]} ${m[1]}${m[3] ? `/${m[3]}` : ''}` : path;
}

function upgradeShort(upgrade: string | null): string {
  if (!upgrade) return '';
  return /^websocket$/i.test(upgrade.trim()) ? 'ws' : /^spdy/i.test(upgrade.trim()) ? 'spdy' : upgrade;
}

function shortProtocolName(p: string): string {
  return p.length > 18 ? shortProtocol(p) : p;
}

export function messageTime(m: LaneMessage, sessionStart: number | null): string {
  if (m.ts === null) return '';
  const t = Date.parse(m.ts);
  if (Number.isNaN(t)) return '';
  if (sessionStart === null) return clockTime(t);
  const s = (t - sessionStart) / 1000;
  return `+${s.toFixed(3)}s`;
}

export function dirArrow(m: LaneMessage): string {
  return m.dir === 'c2s' ? '↑' : m.dir === 's2c' ? '↓' : ' ';
}

