/**
 * The real-kubectl vectors as a test table: each kubectl run (its `-cN` connections grouped by
 * Kubectl-Session) must give exactly the findings of its scenario (INDEX.tsv, `serverConfig`),
 * and the healthy runs none. Every finding must validate against the event schema once stamped
 * and point at events that exist.
 */
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { diagnoseEvents, findingBody } from '../../src/diagnose/engine.js';
import { noteFor } from '../../src/events/notes.js';
import { EVENT_SCHEMA } from '../../src/events/schema.js';
import { EventStamper } from '../../src/events/stamp.js';
import { vectorsAvailable } from '../support/vectors.js';
import { sessionEvents, vectorSessions, type VectorSession } from './vector-sessions.js';

const Ajv = Ajv2020 as unknown as typeof Ajv2020.default;
const validate = new Ajv({ strict: true, allErrors: true }).compile(EVENT_SCHEMA);

/** Scenario (a pattern over the run's vector names) → the rules it must fire, exactly. First match wins. */
const EXPECTED: [RegExp, string[]][] = [
  [/-end-(ws|spdy)-none-/, ['no-close-frame']],
  [/-end-ws-tcp-/, ['no-close-frame']],
  // No status: kubectl fails with close 1006 after a bare TCP close under WebSocket, and reports success (rc 0) otherwise.
  [/-end-ws-nostatus-tcp-/, ['status-missing']],
  [/-end-(ws|spdy)-nostatus/, ['exit-unknown']],
  [/-nosynreply-/, ['no-frames-after-101']],
  [/-spdynover-/, ['stream-version-missing']],
  [/kubectl1\.27-exec-spdyv5-/, ['unexpected-protocol']],
  [/kubectl1\.30-exec-nopong-ws-v5/, ['pong-missing']],
  [/-pferr-/, ['pf-error']],
  [/-spdyrej-403-/, ['forbidden']],
  [/-spdyrej-close-/, ['no-response']],
  [/-fbboth-400-close-/, ['websocket-fallback', 'no-response']],
  [/-(fbboth|pffbboth)-403-403-/, ['websocket-fallback', 'forbidden']],
  [/-fbboth-noproto-403-/, ['websocket-fallback', 'subprotocol-mismatch', 'forbidden']],
  [/-(fb|pffb)-close-/, ['no-response']],
  // A WebSocket 101 kubectl rejects (no, a wrong or an old subprotocol), then the SPDY retry.
  [/-(fb|pffb)-(noproto|wrongproto|v4answer)(-v4)?-ws-.* \+ /, ['websocket-fallback', 'subprotocol-mismatch']],
  // A refused WebSocket attempt (Status bodies, a bad Sec-WebSocket-Accept), then the SPDY retry.
  [/-(fb|pffb)-(400|403|403v|404|500|badaccept)(-v4)?-ws-.* \+ /, ['websocket-fallback']],
];

function expectedFor(s: VectorSession): { pattern: RegExp | null; rules: string[] } {
  const label = s.vectors.join(' + ');
  const hit = EXPECTED.find(([re]) => re.test(label));
  return hit ? { pattern: hit[0], rules: hit[1] } : { pattern: null, rules: [] };
}

const sorted = (xs: string[]): string[] => [...xs].sort();
const available = vectorsAvailable();

describe.skipIf(!available)('diagnosis of the real-kubectl vectors', () => {
  const sessions = available ? vectorSessions() : [];

  it('groups the -cN connections of one kubectl run into one session', () => {
    const fb = sessions.find((s) => s.vectors.includes('kubectl1.33-exec-fb-403-ws-rejected-403'));
    expect(fb?.vectors).toEqual(['kubectl1.33-exec-fb-403-ws-rejected-403', 'kubectl1.33-exec-fb-403-spdy-c2']);
    const cp = sessions.find((s) => s.vectors.includes('kubectl1.33-exec-cpin-ws-v5'));
    expect(cp?.vectors).toEqual(['kubectl1.33-exec-cpin-ws-v5', 'kubectl1.33-exec-cpin-ws-v5-c2']);
  });

  it('every scenario of the table exists among the vectors', () => {
    const used = new Set(sessions.map((s) => expectedFor(s).pattern).filter((p) => p !== null));
    expect(EXPECTED.filter(([re]) => !used.has(re)).map(([re]) => String(re))).toEqual([]);
  });

  for (const s of sessions) {
    const { rules } = expectedFor(s);
    it(`${s.vectors.join(' + ')} → ${rules.length ? rules.join(', ') : 'no findings'}`, () => {
      const events = sessionEvents(s);
      const findings = diagnoseEvents(events);
      expect(sorted(findings.map((f) => f.rule))).toEqual(sorted(rules));
      const seqs = new Set(events.map((e) => e.seq));
      const conns = new Set(events.map((e) => e.conn));
      const stamper = new EventStamper();
      for (const f of findings) {
        expect(f.session).toBe(s.session);
        expect(conns.has(f.conn)).toBe(true);
        expect(f.evidence.seqs.length).toBeGreaterThan(0);
        expect(f.evidence.seqs.filter((q) => !seqs.has(q))).toEqual([]);
        expect(f.evidence.facts.length).toBeGreaterThan(0);
        expect(f.title && f.explanation && f.fix && f.hop.why).toBeTruthy();
        const body = findingBody(f);
        const stamped = stamper.stamp(body, noteFor(body), { ts: '2026-11-21T10:00:00.000000Z', session: f.session!, conn: f.conn! });
        expect(validate(stamped), JSON.stringify(validate.errors)).toBe(true);
      }
    });
  }

  it('a live log of the same runs (timestamps 3 ms apart, conn.open/close) gives the same findings, except what needs real time', () => {
    for (const s of sessions) {
      // Who closed, as the proxy would have seen it: kubectl was killed (hung) or gave up itself in
      // these two scenarios, the server closed in all others.
      const closedBy = /-end-(ws|spdy)-none-|-nopong-/.test(s.vectors[0]!) ? 'client' : 'upstream';
      const live = diagnoseEvents(sessionEvents(s, { live: true, closedBy })).map((f) => f.rule);
      // 12 unanswered pings 3 ms apart are not 30 s without a pong.
      const want = expectedFor(s).rules.filter((r) => !(r === 'pong-missing' && s.vectors[0]!.includes('nopong')));
      expect(sorted(live), s.vectors.join(' + ')).toEqual(sorted(want));
    }
  });

  it('the healthy runs stay silent however the live log says the connections closed', () => {
    for (const s of sessions.filter((x) => expectedFor(x).rules.length === 0)) {
      for (const closedBy of ['client', 'upstream'] as const) {
        expect(diagnoseEvents(sessionEvents(s, { live: true, closedBy })), `${s.vectors.join(' + ')} closed by ${closedBy}`).toEqual([]);
      }
    }
  });
});
