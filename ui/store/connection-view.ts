/**
 * One connection of a session as the timeline shows it: the session model's facts of it
 * (src/session/connection-facts.ts) and its place in the story (role, status, transport,
 * protocol), put into the shape the components read. Nothing here decides anything the model
 * decides; `outcome` only names the model's verdict for a colour.
 */
import type { ConnectionFacts } from '../../src/session/connection-facts.js';
import type { ConnectionStory } from '../../src/session/session-facts.js';
import type { ConnectionView } from './types.js';

export function connectionView(c: ConnectionFacts, story: ConnectionStory): ConnectionView {
  const request = c.request;
  const bytes = c.bytes;
  const operation = request?.k8s?.operation ?? null;
  return {
    conn: c.conn,
    kind: c.isUpgrade ? 'upgrade' : 'http',
    role: story.role,
    method: request?.method ?? null,
    path: request?.path ?? null,
    operation: operation === 'other' ? null : operation,
    upgrade: request?.upgrade ?? null,
    offered: request?.offered ?? [],
    status: story.status,
    reason: c.response?.reason ?? null,
    protocol: story.protocol,
    transport: story.transport,
    startedAt: c.startMs,
    endedAt: c.endMs,
    durationMs: c.durationMs,
    bytesUp: bytes.c2s,
    bytesDown: bytes.s2c,
    done: c.ended,
    outcome: outcomeOf(c),
    closedBy: c.close?.closedBy ?? null,
    error: c.close?.error ?? c.proxyErrors[0]?.message ?? null,
    bodyStatus: c.body?.k8sStatus ?? null,
    exitCode: c.exitCode,
    anomalies: c.anomalyCount,
  };
}

/** An upgrade is ok when kubectl accepted it (the one handshake verdict), a request when it was answered below 400. */
function outcomeOf(c: ConnectionFacts): ConnectionView['outcome'] {
  if (c.accepted) return 'ok';
  if (c.response === null) return c.ended || c.proxyErrors.length > 0 ? 'failed' : 'pending';
  if (c.isUpgrade) return 'refused';
  return c.response.status < 400 ? 'ok' : 'refused';
}
