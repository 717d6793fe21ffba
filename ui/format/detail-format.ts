/**
 * Lines of the session screen: the summary, the decoded status, one timeline line per
 * connection, one line per lane message. Pure strings; the components only colour them.
 */
import type { ConnectionView, DecodedStatus, LaneMessage, SessionRow } from '../store/types.js';
import { clockTime, compactBytes, compactDuration, shortProtocol } from './row-format.js';

export function summaryLine(row: SessionRow): string {
  const parts: string[] = [row.verb, row.target || '(no target)'];
  if (row.command) parts.push(row.verb === 'exec' || row.verb === 'cp' || row.verb === 'attach' ? `[${row.command}]` : row.command);
  if (row.tty) parts.push('tty');
  if (row.transport) parts.push(`· ${row.transport}${row.protocol ? ` ${row.protocol}` : ''}`);
  return parts.join(' ');
}

export function outcomeLine(row: SessionRow): string {
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
  return parts.join(' · ');
}

/** The exit code, reason and message kubectl was given, or why there was none. */
export function statusLine(row: SessionRow, status: DecodedStatus | null): string {
  if (status) {
    const head = [status.status ?? 'status', status.reason, status.exitCode !== null ? `exit code ${status.exitCode}` : null].filter(Boolean).join(' · ');
    return `status: ${head}${status.message ? ` · ${status.message}` : ''}`;
  }
  if (row.failure) return `failed: ${row.failure}`;
  if (row.state === 'live') return 'status: none yet (session live)';
  return row.rest || row.verb === 'logs' || row.verb === 'watch' ? 'status: (plain HTTP: see the responses below)' : 'status: none received';
}

export function fallbackLine(row: SessionRow, connections: readonly ConnectionView[]): string | null {
  if (!row.fellBack) return null;
  const why = connections.find((c) => c.role === 'attempt')?.bodyStatus?.message;
  return `↩ fell back to SPDY: WebSocket got ${row.fallbackReason ?? 'no answer'}${why ? ` "${why}"` : ''}`;
}

/** `attempt  c1  GET  ws exec          403 Forbidden            +2ms   3ms ↑449B ↓258B  fake apiserver rejected…` */
export function connectionLine(c: ConnectionView, sessionStart: number | null): string {
  const role = c.role.padEnd(8);
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
  const bytes = `↑${compactBytes(c.bytesUp)} ↓${compactBytes(c.bytesDown)}`;
  return `${role} ${c.conn.padEnd(5)} ${(c.method ?? '').padEnd(4)} ${fitTo(what, 22)} ${fitTo(answer, 21)} ${at.padStart(6)} ${took.padStart(6)} ${bytes.padEnd(13)} ${extra.join(' · ')}`;
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

function fitTo(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n);
}
