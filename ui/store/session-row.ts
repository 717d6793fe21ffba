/**
 * A session's row: the session model's story of it (src/session/session-facts.ts) in the
 * shape the list reads. What the command was, how it went, its transport, fallback, exit code
 * and bytes are the story's; this file only words them for the columns (the target of a REST
 * row, the command line, the refused upgrade) and adds what is the view's own (the clock of a
 * live row, messages the rings dropped).
 */
import { parseTsMillis } from '../../src/events/stamp.js';
import type { ConnectionFacts } from '../../src/session/connection-facts.js';
import { refusalOf, type SessionFacts, type SessionStory } from '../../src/session/session-facts.js';
import type { SessionRow } from './types.js';

export interface RowContext {
  /** Clock for the duration of live sessions (null: use the last event's time). */
  now: number | null;
  /** The store's version of the session. */
  version: number;
  /** Messages of the session that fell out of its rings. */
  evicted: number;
}

export function sessionRow(facts: SessionFacts, ctx: RowContext): SessionRow {
  const story = facts.story();
  const { target } = story;
  const live = story.state === 'live';
  const lead = leadOf(facts, story);
  const startedAt = parseTsMillis(story.start);
  const clock = live ? ctx.now ?? parseTsMillis(facts.lastTs) : null;
  const upgrades = story.connections.filter((c) => c.transport !== 'http');
  const tried = upgrades.length > 0 ? facts.conns.get(upgrades[upgrades.length - 1]!.id) : undefined;
  const row: SessionRow = {
    id: story.session,
    version: ctx.version,
    startedAt,
    endedAt: parseTsMillis(story.end),
    durationMs: live ? (startedAt !== null && clock !== null ? Math.max(0, clock - startedAt) : null) : story.durationMs,
    verb: story.verb,
    rest: story.verb === 'rest' && upgrades.length === 0,
    namespace: target.namespace,
    pod: target.pod,
    container: target.container,
    target: target.pod !== null ? [target.namespace, target.pod, target.container].filter(Boolean).join('/') : resourceOf(lead?.request?.path ?? ''),
    command: commandOf(story, lead),
    kubectlCommand: story.kubectlCommand,
    tty: target.tty,
    transport: story.transport,
    protocol: story.protocol,
    fellBack: story.fallback !== null,
    fallbackReason: story.fallback?.reason ?? null,
    translatedTo: story.translation ? `${story.translation.to}${story.translation.protocol ? ` ${story.translation.protocol}` : ''}` : null,
    // The story's transport is set only when an upgrade carried the command.
    refused: !live && story.transport === null && tried ? `${tried.upgradeKind ?? 'upgrade'} ${refusalOf(tried)}` : null,
    state: story.state,
    failure: story.failure,
    exitCode: story.exitCode,
    statusReason: story.statusReason,
    bytesUp: story.bytes.c2s,
    bytesDown: story.bytes.s2c,
    connections: story.connections.length,
    findings: facts.findingCount,
    anomalies: facts.anomalies,
    evicted: ctx.evicted,
    ports: story.ports,
  };
  return Object.freeze(row);
}

/** The connection a row is worded from: the stream, else the last request. */
function leadOf(facts: SessionFacts, story: SessionStory): ConnectionFacts | undefined {
  const id = story.stream ?? story.connections[story.connections.length - 1]?.id;
  return id === undefined ? undefined : facts.conns.get(id);
}

function commandOf(story: SessionStory, lead: ConnectionFacts | undefined): string {
  switch (story.verb) {
    case 'exec':
    case 'cp':
    case 'attach':
      return story.target.command.join(' ');
    case 'port-forward':
      return story.ports.length ? `ports ${story.ports.join(',')}` : '';
    case 'logs': {
      const t = lead?.request?.target ?? '';
      const q = t.indexOf('?');
      return q >= 0 ? decodeQuery(t.slice(q + 1)) : '';
    }
    default: {
      if (!lead?.request) return '';
      const line = `${lead.request.method} ${lead.request.path}`;
      return story.requests > 1 ? `${line} (+${story.requests - 1})` : line;
    }
  }
}

/** `/api/v1/namespaces/default/pods` → `default/pods`; `/apis/apps/v1/namespaces/x/deployments/web` → `x/deployments.apps/web`. */
function resourceOf(path: string): string {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?/.exec(path);
  if (!m || (m[2] === undefined && m[3] === 'namespaces' && m[4] !== undefined)) return path;
  const resource = `${m[3]}${m[1] ? `.${m[1]}` : ''}`;
  return [m[2], resource, m[4]].filter(Boolean).join('/');
}

function decodeQuery(q: string): string {
  try {
    return decodeURIComponent(q.replace(/\+/g, ' '));
  } catch {
    return q;
  }
}
