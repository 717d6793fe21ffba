/**
 * Which session of a log `replay` and `export` work on: one function for the three of them, so
 * that `--session` means the same everywhere (the id, or a unique prefix of it) and every list
 * of sessions a user picks from says what it counts and lists what it counted.
 *
 * - `terminal` (replay, the asciicast export): sessions whose command ran in a pod and whose
 *   output came back (exec, attach, kubectl cp). Without `--session`, the only one with output
 *   is taken; the others are named only by kind and count, since nothing of them can be played.
 * - `requests` (the HAR export): any session, since every one of them made requests.
 */
import { shortId, type SessionInfo } from './terminal-session.js';

export type SessionUse = 'terminal' | 'requests';

export type SessionChoice =
  | { ok: true; session: SessionInfo }
  | { ok: false; code: `KW_ERR_${string}`; message: string };

/** Sessions listed one by one before the rest are only counted. */
const MAX_LISTED = 20;

/** The command runs in the pod and its output comes back: what replay and export play (kubectl cp's is its archive). */
const isTerminal = (s: SessionInfo): boolean => s.kind === 'exec' || s.kind === 'cp' || s.kind === 'attach';

/** A session `replay` plays without `--session`: a terminal session whose stream carried output. */
const hasOutput = (s: SessionInfo): boolean => isTerminal(s) && s.dataConn !== null && s.output.chunks > 0;

/** Why a session has no terminal output to play, in a few words; null when it has. */
function noOutputReason(s: SessionInfo): string | null {
  switch (s.kind) {
    case 'port-forward': return 'port-forward: TCP streams';
    case 'logs': return 'kubectl logs: plain API responses';
    case 'watch': return 'watch: plain API responses';
    case 'rest': return 'plain API requests only';
  }
  if (s.dataConn === null) return `${s.kind} that never got a stream`;
  if (s.output.chunks === 0) return `${s.kind} with no output`;
  return null;
}

/** One line per session. */
function sessionLine(s: SessionInfo): string {
  const where = s.pod ? `${s.namespace ?? '?'}/${s.pod}` : '-';
  const what = s.kind === 'exec' || s.kind === 'cp' ? s.command.join(' ') || '(no command)' : s.kind;
  const why = noOutputReason(s);
  const detail = why ?? `${s.kind}, ${s.output.bytes} B output`;
  return `  ${s.id}  ${s.start ?? '(no time)'}  ${where}  ${what}  (${detail})`;
}

function listed(sessions: readonly SessionInfo[]): string[] {
  const lines = sessions.slice(0, MAX_LISTED).map(sessionLine);
  if (sessions.length > MAX_LISTED) lines.push(`  … and ${sessions.length - MAX_LISTED} more`);
  return lines;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * The sessions a user can pick for `use`, as lines that start with their count: for `terminal`
 * the ones with output, then how many others there are and why they are not listed (or, when
 * none has output, all of them with why).
 */
export function sessionMenu(sessions: readonly SessionInfo[], use: SessionUse, logName: string): string[] {
  if (sessions.length === 0) return [];
  if (use === 'requests') return [`Sessions in ${logName} (${sessions.length}):`, ...listed(sessions)];
  const playable = sessions.filter(hasOutput);
  const others = sessions.filter((s) => !hasOutput(s));
  if (playable.length === 0) return [`Sessions in ${logName} (${sessions.length}), none with terminal output to play:`, ...listed(others)];
  const lines = [`Sessions with terminal output (${playable.length}):`, ...listed(playable)];
  if (others.length > 0) {
    const reasons = new Map<string, number>();
    for (const s of others) {
      const why = noOutputReason(s)!;
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    const why = [...reasons].map(([reason, n]) => `${n} ${reason}`).join(', ');
    lines.push(`Not listed: ${plural(others.length, 'other session')} with no terminal output to play (${why}); \`kubewire export ${logName} --format har --session ID\` shows the requests of any session.`);
  }
  return lines;
}

/**
 * The session named by `wanted` (its id, or a prefix of exactly one id), or without it the only
 * one there is to take (`terminal`: the only session with output; `requests`: none, the whole
 * log is meant). Never guesses between several.
 */
export function chooseSession(sessions: readonly SessionInfo[], wanted: string | undefined, use: SessionUse, logName: string): SessionChoice {
  const menu = (): string => {
    const lines = sessionMenu(sessions, use, logName);
    return lines.length ? `\n${lines.join('\n')}` : '';
  };
  if (wanted === undefined) {
    const candidates = sessions.filter(hasOutput);
    if (candidates.length === 1) return { ok: true, session: candidates[0]! };
    if (candidates.length === 0) {
      return { ok: false, code: 'KW_ERR_NO_TERMINAL_SESSION', message: `${logName} holds no exec or attach session with output to replay.${menu()}` };
    }
    return { ok: false, code: 'KW_ERR_SESSION_AMBIGUOUS', message: `${logName} holds ${candidates.length} exec/attach sessions with output; choose one with --session ID (a unique prefix of the id is enough).${menu()}` };
  }
  const found = findById(sessions, wanted);
  if (found === null || typeof found === 'number') {
    const why = typeof found === 'number' ? `matches ${found} sessions; give more of the id` : 'is not in the log';
    return { ok: false, code: 'KW_ERR_SESSION_NOT_FOUND', message: `session ${wanted} ${why} (${logName}).${menu()}` };
  }
  if (use === 'requests') return { ok: true, session: found };
  if (!isTerminal(found)) {
    const what = found.kind === 'port-forward' ? 'a port-forward session: its bytes are TCP streams, not terminal output'
      : found.kind === 'logs' || found.kind === 'watch' ? `a ${found.kind === 'logs' ? 'kubectl logs' : 'watch'} session: a stream of plain API responses, not terminal output`
      : 'a session of plain API requests only (no exec or attach)';
    return { ok: false, code: 'KW_ERR_SESSION_NOT_TERMINAL', message: `session ${shortId(found.id)} is ${what}; it cannot be replayed. Use \`kubewire export ${logName} --format har --session ${found.id}\` to look at it.` };
  }
  if (found.dataConn === null) {
    return { ok: false, code: 'KW_ERR_SESSION_NO_STREAM', message: `session ${shortId(found.id)} never got a stream: no ${found.kind === 'attach' ? 'attach' : 'exec'} connection was upgraded, so there is no terminal output to replay.` };
  }
  return { ok: true, session: found };
}

/**
 * The session with id `wanted`, else the one whose id starts with it; the number of sessions a
 * prefix matches when it matches several ids. A client without Kubectl-Session has its
 * connection id as session id, which each kubewire run reuses: one id, one choice.
 */
function findById(sessions: readonly SessionInfo[], wanted: string): SessionInfo | number | null {
  const exact = sessions.find((s) => s.id === wanted);
  if (exact) return exact;
  const ids = new Set(sessions.filter((s) => s.id.startsWith(wanted)).map((s) => s.id));
  if (ids.size === 1) return sessions.find((s) => ids.has(s.id))!;
  return ids.size === 0 ? null : ids.size;
}
