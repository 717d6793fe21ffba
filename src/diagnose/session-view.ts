/**
 * A rule's view of one session, read from the session model (src/session/session-facts.ts):
 * the same connection facts and story that every other view of kubewire reads.
 */
import type { SessionFacts } from '../session/session-facts.js';
import type { SessionView } from './types.js';

export function sessionView(facts: SessionFacts, session: string, now: number, ended: boolean, serverVersion: string | null = null): SessionView {
  return {
    session,
    conns: [...facts.conns.values()],
    byConn: facts.conns,
    upgrades: facts.upgrades,
    story: () => facts.story(),
    now,
    ended,
    serverVersion,
  };
}

/** The minor version of a `/version` gitVersion (`v1.35.2` → 35), or null for another major or none. */
export function serverMinor(version: string | null): number | null {
  const m = /^v?(\d+)\.(\d+)/.exec(version ?? '');
  return m && m[1] === '1' ? Number(m[2]) : null;
}
