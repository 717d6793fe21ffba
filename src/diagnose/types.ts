/**
 * The diagnosis contract: a rule is a small pure function over one kubectl session (every
 * connection sharing a `session` id: the pod GET, the WebSocket attempt, its SPDY fallback) that
 * returns findings. The engine hands it a `SessionView`, keeps each rule/connection pair from
 * firing twice, and turns drafts into `finding` events.
 *
 * A view is the session model's facts (src/session): per connection what the rules ask about
 * (the request, the answer, the status, close frames, pings, SPDY stream replies), kept up to
 * date in O(1) per event, and the session's story (its fallback, its stream). No event is
 * stored: where the rules need to point at one, the facts keep its mark (seq and time).
 */
import type { FindingEvent } from '../events/types.js';
import type { ConnectionFacts } from '../session/connection-facts.js';
import type { SessionStory } from '../session/session-facts.js';

export type { Ev } from '../session/connection-facts.js';

/** A finding before it is published: the `finding` event body, and the connection it is about. */
export type FindingDraft = Omit<FindingEvent, 'type'> & { conn?: string };

/** What the rules read of one connection (`conn` id) of a session: the session model's facts. */
export type ConnView = ConnectionFacts;

export interface SessionView {
  /** The session id, or '' for events that carried none (a decoded capture). */
  readonly session: string;
  /** Connections in order of their first event. */
  readonly conns: readonly ConnView[];
  readonly byConn: ReadonlyMap<string, ConnView>;
  /** Connections that made an upgrade request (WebSocket or SPDY), in order. */
  readonly upgrades: readonly ConnView[];
  /** The session model's story: its fallback, its stream, the roles of its connections. */
  story(): SessionStory;
  /** Milliseconds since the epoch; NaN when there is no clock (a capture without timestamps). */
  readonly now: number;
  /** True once no more connections can join the session (it settled, or the input ended). */
  readonly ended: boolean;
  /** The API server's version as its `/version` said (`v1.35.2`), or null when kubewire has not seen it. */
  readonly serverVersion: string | null;
}

export interface Rule {
  /** Stable id (`websocket-fallback`, …): part of the interface. */
  readonly id: string;
  evaluate(view: SessionView): FindingDraft[];
}
