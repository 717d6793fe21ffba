/**
 * `kubewire summary --sessions`: one line per kubectl command, read off the session model
 * (src/session) as the log streams past, so that a refused WebSocket attempt and the SPDY
 * retry that replaced it print as one command, as do the probe and the copy of a `kubectl cp`.
 *
 * Sessions settle on the log's own clock, one kubewire run at a time (src/session/log-replay.ts);
 * memory stays within the model's bound whatever the log's length. A session that gains an
 * event after it was printed settles, and is printed, once more.
 */
import type { KubewireEvent } from '../events/types.js';
import type { AnsweredBy } from '../session/answered-by.js';
import type { SessionFacts, SessionStory } from '../session/session-facts.js';
import { LogReplay } from '../session/log-replay.js';

/** The printed line's keys, in order. */
export interface SessionLine {
  session: string;
  verb: SessionStory['verb'];
  target: { namespace: string | null; pod: string | null; container: string | null; command: string[]; tty: boolean };
  connections: Omit<SessionStory['connections'][number], 'path'>[];
  transport: SessionStory['transport'];
  protocol: string | null;
  fallback: { status: number | null; reason: string; answeredBy: AnsweredBy } | null;
  /** `--translate`: the transport and protocol kubewire spoke upstream for the client's upgrade. */
  translation: { from: string; to: string; upstream: string; protocol: string | null } | null;
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
    translation: s.translation ? { ...s.translation } : null,
    exitCode: s.exitCode,
    bytes: { ...s.bytes },
    start: s.start,
    end: s.end,
    findings: [...s.findings],
  };
}

/** Feeds events in log order; calls `print` with each session's line as it settles. */
export class SessionLines {
  private readonly replay = new LogReplay();

  constructor(print: (line: SessionLine) => void) {
    this.replay.observer.add({
      settled: (s: SessionFacts) => {
        const story = s.story();
        // Only a proxy.start, or findings alone: no kubectl command to speak of.
        if (story.connections.length > 0) print(sessionLine(story));
      },
    });
  }

  ingest(e: KubewireEvent): void {
    this.replay.ingest(e);
  }

  finish(): void {
    this.replay.finish();
  }
}
