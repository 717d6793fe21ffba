/**
 * `kubewire summary --sessions`: one line per kubectl command, read off the session model
 * (src/session) as the log streams past, so that a refused WebSocket attempt and the SPDY
 * retry that replaced it print as one command, as do the probe and the copy of a `kubectl cp`.
 *
 * The model is sans-IO; a log carries its own clock, the events' `ts`. A live observer
 * settles a session at its first tick past the grace (src/session/session-observer.ts, every
 * TICK_MS), and what the proxy derives then (findings) is logged with that time; so a session
 * is printed once the log has passed its last event by the grace and one more tick, and the
 * rest at the end of the log. Memory stays within the model's bound whatever the log's length.
 * A session that gains an event after it was printed settles, and is printed, once more.
 */
import type { KubewireEvent } from '../events/types.js';
import { parseTsMillis } from '../events/stamp.js';
import type { AnsweredBy } from '../session/answered-by.js';
import type { SessionFacts, SessionStory } from '../session/session-facts.js';
import { SessionObserver, TICK_MS } from '../session/session-observer.js';

/** The printed line's keys, in order. */
export interface SessionLine {
  session: string;
  verb: SessionStory['verb'];
  target: { namespace: string | null; pod: string | null; container: string | null; command: string[]; tty: boolean };
  connections: Omit<SessionStory['connections'][number], 'path'>[];
  transport: SessionStory['transport'];
  protocol: string | null;
  fallback: { status: number | null; reason: string; answeredBy: AnsweredBy } | null;
  exitCode: number | null;
  bytes: { c2s: number; s2c: number };
  start: string | null;
  end: string | null;
  findings: string[];
}

export function sessionLine(s: SessionStory): SessionLine {
  const { namespace, pod, container, command, tty } = s.target;
  const f = s.fallback;
  return {
    session: s.session,
    verb: s.verb,
    target: { namespace, pod, container, command, tty },
    connections: s.connections.map(({ id, role, status, transport, protocol }) => ({ id, role, status, transport, protocol })),
    transport: s.transport,
    protocol: s.protocol,
    fallback: f ? { status: f.status, reason: f.reason, answeredBy: f.answeredBy } : null,
    exitCode: s.exitCode,
    bytes: { ...s.bytes },
    start: s.start,
    end: s.end,
    findings: [...s.findings],
  };
}

/** Feeds events in log order; calls `print` with each session's line as it settles. */
export class SessionLines {
  private readonly observer = new SessionObserver();
  private clock: number | null = null;
  private lastTick: number | null = null;

  constructor(print: (line: SessionLine) => void) {
    this.observer.add({
      settled: (s: SessionFacts) => {
        const story = s.story();
        // Only a proxy.start, or findings alone: no kubectl command to speak of.
        if (story.connections.length > 0) print(sessionLine(story));
      },
    });
  }

  ingest(e: KubewireEvent): void {
    this.observer.ingest(e);
    const t = parseTsMillis(e.ts);
    if (t === null || (this.clock !== null && t <= this.clock)) return;
    this.clock = t;
    if (this.lastTick !== null && t - this.lastTick < TICK_MS) return;
    this.lastTick = t;
    this.observer.tick(t - TICK_MS);
  }

  finish(): void {
    this.observer.finish();
  }
}
