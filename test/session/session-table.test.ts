/**
 * The session model over every real-kubectl session (test/diagnose/vector-sessions.ts), stamped
 * as a live proxy logs it: a hand-written row per chosen session (test/session/
 * vector-session-rows.ts), and for every session the invariants that the vectors' own records
 * imply (INDEX.tsv, expectedSummary, the request heads).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SessionStory } from '../../src/session/session-facts.js';
import { SessionModel } from '../../src/session/session-model.js';
import { sessionEvents, vectorSessions, type VectorSession } from '../diagnose/vector-sessions.js';
import { loadVector, vectorsAvailable, VECTORS_DIR } from '../support/vectors.js';
import { SESSION_ROWS } from './vector-session-rows.js';

interface IndexRow {
  rc: number | null;
  lastLine: string;
}

/** INDEX.tsv by capture name: kubectl's exit code and the last line it printed. */
function readIndex(): Map<string, IndexRow> {
  const [, ...lines] = readFileSync(join(VECTORS_DIR, 'INDEX.tsv'), 'utf8').split('\n').filter((l) => l !== '');
  return new Map(lines.map((l) => {
    const f = l.split('\t');
    return [f[0]!, { rc: f[6] === '' ? null : Number(f[6]), lastLine: f[7] ?? '' }];
  }));
}

function story(s: VectorSession, closedBy: 'client' | 'upstream'): SessionStory {
  const model = new SessionModel();
  for (const e of sessionEvents(s, { live: true, closedBy })) model.ingest(e);
  model.finish();
  expect(model.size).toBe(1);
  return model.get(s.session)!.story();
}

/** The first line of a capture's request head and its headers, as kubectl sent them. */
function requestHead(vector: string): { line: string; header: (name: string) => string | null } {
  const c2s = loadVector(vector).c2s;
  const head = c2s.subarray(0, c2s.indexOf('\r\n\r\n')).toString('latin1').split('\r\n');
  return {
    line: head[0]!,
    header: (name) => head.slice(1).find((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.replace(/^[^:]*:\s*/, '') ?? null,
  };
}

const VERB_OF_KUBECTL_COMMAND: Record<string, string> = { 'kubectl exec': 'exec', 'kubectl cp': 'cp', 'kubectl port-forward': 'port-forward' };

describe.skipIf(!vectorsAvailable())('session table over the real-kubectl vectors', () => {
  const sessions = vectorSessions();
  const sessionOf = (vector: string): VectorSession => {
    const s = sessions.find((x) => x.vectors[0] === vector);
    if (!s) throw new Error(`${vector} is not the first connection of any session`);
    return s;
  };
  const index = readIndex();

  it('has a hand-written row for at least 25 sessions, each named once', () => {
    expect(SESSION_ROWS.length).toBeGreaterThanOrEqual(25);
    expect(new Set(SESSION_ROWS.map((r) => r.vector)).size).toBe(SESSION_ROWS.length);
  });

  it.each(SESSION_ROWS.map((r) => [r.vector, r] as const))('%s', (_name, row) => {
    const s = sessionOf(row.vector);
    expect(index.get(row.vector)?.rc, 'kubectl exit code in INDEX.tsv').toBe(row.rc);
    const got = story(s, row.closedBy);
    expect({
      verb: got.verb,
      target: got.target,
      conns: got.connections.map((c) => [c.role, c.status]),
      transport: got.transport,
      protocol: got.protocol,
      fallback: got.fallback && { status: got.fallback.status, reason: got.fallback.reason, answeredBy: got.fallback.answeredBy },
      exitCode: got.exitCode,
      state: got.state,
    }).toEqual({
      verb: row.verb,
      target: row.target,
      conns: row.conns,
      transport: row.transport,
      protocol: row.protocol,
      fallback: row.fallback,
      exitCode: row.exitCode,
      state: row.state,
    });
    expect(got.connections.map((c) => c.id)).toEqual(s.vectors.map((_, i) => `c${i + 1}`));
    if (row.fallback) expect([got.fallback!.from, got.fallback!.to]).toEqual(['c1', 'c2']);
  });

  it('a failed status is the session\'s failure, in the Status\'s own words', () => {
    const got = story(sessionOf('kubectl1.27-exec-status1-spdy'), 'upstream');
    expect(got.failure).toBe('Failure InternalError: Internal error occurred: error executing command in container: fake failure');
    expect(story(sessionOf('kubectl1.27-exec-status3-spdy'), 'upstream').failure).toBe('Failure: plain failure without reason');
  });

  describe('invariants of every session', () => {
    it.each(sessions.map((s) => [s.vectors.join(' + '), s] as const))('%s', (_name, s) => {
      const vectors = s.vectors.map(loadVector);
      const kubectlCommand = requestHead(s.vectors[0]!).header('Kubectl-Command');
      const verb = VERB_OF_KUBECTL_COMMAND[kubectlCommand ?? ''];
      const got = story(s, verb === 'port-forward' ? 'client' : 'upstream');

      // One connection per vector, in order; the verb is the command kubectl named.
      expect(got.connections.map((c) => c.id)).toEqual(s.vectors.map((_, i) => `c${i + 1}`));
      expect(got.verb).toBe(verb);
      expect([got.target.namespace, got.target.pod]).toEqual(['default', 'p1']);

      // The exit code, transport and protocol are the stream connection's, and only its.
      const streamAt = got.connections.findIndex((c) => c.role === 'stream' || c.role === 'fallback');
      const stream = streamAt >= 0 ? vectors[streamAt]!.expectedSummary : null;
      expect(got.stream).toBe(streamAt >= 0 ? `c${streamAt + 1}` : null);
      expect(got.exitCode).toBe(stream?.exitCode ?? null);
      expect(got.transport).toBe(stream ? stream.transport : null);
      expect(got.protocol).toBe(stream?.response.protocol ?? null);

      // A connection that got no 101 is an attempt; with no 101 at all nothing carried the command.
      vectors.forEach((v, i) => {
        if (v.expectedSummary.response.status !== 101) expect(got.connections[i]!.role).toBe('attempt');
      });
      if (vectors.every((v) => v.expectedSummary.response.status !== 101)) expect(got.state).toBe('failed');

      // kubectl printed the remote command's exit code: the session has the same one.
      const printed = /^command terminated with exit code (\d+)$/.exec(index.get(s.vectors[streamAt >= 0 ? streamAt : 0]!)?.lastLine ?? '');
      if (printed) expect(got.exitCode).toBe(Number(printed[1]));

      // A refused WebSocket upgrade followed by a SPDY one is a fallback (no pair here shares a refusal).
      const upgrades = vectors.map((v) => v.expectedSummary.request.upgrade);
      const pair = upgrades[0] === 'websocket' && upgrades[1] === 'SPDY/3.1';
      expect(got.fallback !== null).toBe(pair);
      if (got.fallback) {
        const fallbackAt = got.connections.findIndex((c) => c.id === got.fallback!.to);
        // Exactly one attempt comes before the fallback, and it is the refused WebSocket upgrade.
        expect(got.connections.slice(0, fallbackAt).map((c) => c.role)).toEqual(['attempt']);
        expect(got.fallback.from).toBe('c1');
        expect(got.fallback.status).toBe(vectors[0]!.expectedSummary.response.status);
        expect(['fallback', 'attempt']).toContain(got.connections[fallbackAt]!.role);
      } else {
        expect(got.connections.some((c) => c.role === 'fallback')).toBe(false);
      }
    });
  });
});
