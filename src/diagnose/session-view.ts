/**
 * A rule's view of one session, read from the session model (src/session/session-facts.ts):
 * the same connection facts and story that every other view of kubewire reads.
 */
import type { SessionFacts } from '../session/session-facts.js';
import type { SessionView } from './types.js';

export function sessionView(facts: SessionFacts, session: string, now: number, ended: boolean): SessionView {
  return {
    session,
    conns: [...facts.conns.values()],
    byConn: facts.conns,
    upgrades: facts.upgrades,
    story: () => facts.story(),
    now,
    ended,
  };
}
