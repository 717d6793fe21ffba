import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { DiagnosisEngine, diagnoseEvents, findingBody, type SessionFinding } from '../../src/diagnose/engine.js';
import { RULES } from '../../src/diagnose/rules/index.js';
import type { Rule, SessionView } from '../../src/diagnose/types.js';
import { noteFor } from '../../src/events/notes.js';
import { EVENT_SCHEMA } from '../../src/events/schema.js';
import { EventBus } from '../../src/events/event-bus.js';
import { EventStamper, parseTsMillis } from '../../src/events/stamp.js';
import type { EventBody, KubewireEvent } from '../../src/events/types.js';
import { SessionModel } from '../../src/session/session-model.js';
import { SessionObserver } from '../../src/session/session-observer.js';
import { decodeAll } from '../support/decode.js';
import { loadVector, vectorsAvailable } from '../support/vectors.js';
import {
  LogBuilder, T0, TUNNEL, body, closeFrame, connClose, connEnd, connOpen, data, ends, healthyWsExec, httpRequest, reply, response, spdy101, spdyRequest,
  stack, statusJson, statusMessage, syn, wsFrame, wsRequest, ws101,
} from './events.js';

const Ajv = Ajv2020 as unknown as typeof Ajv2020.default;
const validate = new Ajv({ strict: true, allErrors: true }).compile(EVENT_SCHEMA);

/** A WebSocket attempt refused with an empty 403, then the SPDY retry that worked. */
function fallbackSession(session = 'sess-1'): KubewireEvent[] {
  return new LogBuilder(session)
    .add('c1', connOpen(), wsRequest(), response(403, { headers: [['Content-Length', '0']] }), ...ends(), connClose('upstream', 3))
    .after(40).add('c2', connOpen(), spdyRequest(), spdy101(), stack('spdy-v4', 'spdy', 'v4.channel.k8s.io'), syn(1, 'error'), reply(1))
    .after(5).add('c2', { type: 'spdy.frame', dir: 's2c', offset: 0, frame: 'DATA', flags: 1, fin: true, length: 0, streamId: 1, streamType: 'error' }, ...ends(), connClose('upstream', 9))
    .events;
}

/** The engine on a session observer of its own, as the proxy wires them; each call returns the findings it made new. */
function diagnosis(options: { rules?: Rule[]; maxSessions?: number } = {}) {
  const observer = new SessionObserver(new SessionModel({ maxSessions: options.maxSessions }));
  const found: SessionFinding[] = [];
  observer.add(new DiagnosisEngine(observer.model, (f) => found.push(f), { rules: options.rules }));
  const taken = (): SessionFinding[] => found.splice(0);
  return {
    observer,
    ingest(e: KubewireEvent): SessionFinding[] {
      observer.ingest(e);
      return taken();
    },
    tick(now: number): SessionFinding[] {
      observer.tick(now);
      return taken();
    },
    finish(): SessionFinding[] {
      observer.finish();
      return taken();
    },
  };
}

/** A rule that finds nothing and counts how often it was asked. */
function counting(): Rule & { calls: number; ended: number } {
  const rule = { id: 'counting', calls: 0, ended: 0, evaluate: (view: SessionView) => { rule.calls++; if (view.ended) rule.ended++; return []; } };
  return rule;
}

describe('DiagnosisEngine', () => {
  it('reports a finding when its evidence arrives, once, with its session and connection', () => {
    const engine = diagnosis();
    const events = fallbackSession();
    const when: [number, SessionFinding[]][] = events.map((e) => [e.seq, engine.ingest(e)]);
    const reported = when.filter(([, f]) => f.length);
    // websocket-fallback as the SPDY retry is answered (only then is it no same refusal again);
    // exit-unknown with the first event after the server ended the error stream without a status
    // (DATA frames alone do not trigger an evaluation).
    const spdyAnswerSeq = events.find((e) => e.type === 'upgrade.response' && e.conn === 'c2')!.seq;
    const errorFinSeq = events.find((e) => e.type === 'spdy.frame' && e.fin)!.seq;
    expect(reported.map(([seq, f]) => [seq, f.map((x) => x.rule)])).toEqual([[spdyAnswerSeq, ['websocket-fallback']], [errorFinSeq + 1, ['exit-unknown']]]);
    expect(reported[0]![1][0]).toMatchObject({ session: 'sess-1', conn: 'c1' });
    expect(engine.tick(T0 + 60_000)).toEqual([]);
    expect(engine.finish()).toEqual([]);
  });

  it('evaluates time-based rules on tick', () => {
    const engine = diagnosis();
    for (const e of new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5')).events) expect(engine.ingest(e)).toEqual([]);
    expect(engine.tick(T0 + 5_000)).toEqual([]);
    expect(engine.tick(T0 + 11_000).map((f) => f.rule)).toEqual(['no-frames-after-101']);
    expect(engine.tick(T0 + 30_000)).toEqual([]);
  });

  it('calls a refused WebSocket attempt final only when no SPDY retry came: after a grace period, or at the end', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), response(403), body(statusJson('Forbidden', 'denied by policy', 403)), ...ends(), connClose('upstream', 2));
    const live = diagnosis();
    for (const e of log.events) expect(live.ingest(e)).toEqual([]);
    expect(live.tick(T0 + 1_000)).toEqual([]);
    // No SPDY retry came: the refusal is final, and the client has no fallback.
    expect(live.tick(T0 + 4_000).map((f) => f.rule)).toEqual(['no-fallback', 'forbidden']);
    const replay = diagnosis();
    for (const e of log.events) replay.ingest(e);
    expect(replay.finish().map((f) => f.rule)).toEqual(['no-fallback', 'forbidden']);
  });

  it('evaluates a session once more, as ended, when it settles, and not on later ticks', () => {
    const rule = counting();
    const engine = diagnosis({ rules: [rule] });
    for (const e of healthyWsExec(new LogBuilder()).events) engine.ingest(e);
    expect(rule.ended).toBe(0);
    engine.tick(T0 + 1_000);
    expect(rule.ended).toBe(0);
    engine.tick(T0 + 5_000);
    expect(rule.ended).toBe(1);
    const calls = rule.calls;
    engine.tick(T0 + 6_000);
    engine.finish();
    expect(rule.calls).toBe(calls);
  });

  it('stores no events: the rules judge from the facts the model keeps of every event', () => {
    const engine = diagnosis();
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'));
    for (let i = 0; i < 500; i++) log.add('c1', wsFrame('s2c', 'binary', { length: 1025 }), { ...data('s2c', 'stdout', 1024), payload: Buffer.alloc(1024, 1).toString('base64') } as EventBody);
    log.add('c1', ...statusMessage(0), ...ends(), connClose('upstream', 900));
    const found = log.events.flatMap((e) => engine.ingest(e));
    expect(engine.observer.model.get('sess-1')!.conns.get('c1')!.frames.s2c).toBe(501);
    // The status and the missing close frame were seen among 1000 data events.
    expect(found.map((f) => f.rule)).toEqual(['no-close-frame']);
  });

  it('keeps up with a busy stream: data frames and keepalives cost no evaluation', () => {
    const rule = counting();
    const engine = diagnosis({ rules: [rule, ...RULES] });
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'));
    const frame = wsFrame('s2c', 'binary', { length: 16385 });
    const chunk = data('s2c', 'stdout', 16384);
    for (let i = 0; i < 50_000; i++) log.add('c1', frame, chunk);
    for (let i = 0; i < 100; i++) log.add('c1', wsFrame('c2s', 'ping'), wsFrame('s2c', 'pong'));
    log.add('c1', ...statusMessage(0), closeFrame('s2c'), ...ends(), connClose('upstream', 900));
    const found = log.events.flatMap((e) => engine.ingest(e));
    expect(found).toEqual([]);
    // conn.open, the request, the 101, the stack, the status, the close frame, both ends, the close.
    expect(rule.calls).toBe(9);
  });

  it('lives within the model\'s bound on sessions', () => {
    const engine = diagnosis({ maxSessions: 3 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) for (const e of new LogBuilder(id).add('c1', connOpen(), wsRequest()).events) engine.ingest(e);
    expect(engine.observer.model.size).toBe(3);
    expect(engine.observer.model.get('a')).toBeUndefined();
    // A session the model forgot starts afresh: its finding is new again.
    const refused = (id: string): KubewireEvent[] => new LogBuilder(id).add('c1', spdyRequest(), response(407), ...ends()).events;
    expect(refused('a').flatMap((e) => engine.ingest(e)).map((f) => f.rule)).toEqual(['forward-proxy']);
    for (const id of ['f', 'g', 'h']) for (const e of new LogBuilder(id).add('c1', connOpen(), wsRequest()).events) engine.ingest(e);
    expect(refused('a').flatMap((e) => engine.ingest(e)).map((f) => f.rule)).toEqual(['forward-proxy']);
  });

  it('fires once per connection of a long session, while what it remembers of forgotten connections goes', () => {
    const hop = { where: 'kubewire↔upstream', answeredBy: 'unknown', why: '' } as const;
    const each: Rule = {
      id: 'each',
      evaluate: (view) => view.conns.map((c) => ({ rule: 'each', conn: c.conn, severity: 'info', title: '', explanation: '', evidence: { facts: [], seqs: [] }, hop, fix: '' })),
    };
    const engine = diagnosis({ rules: [each] });
    const log = new LogBuilder();
    // More plain requests than the model keeps connections of one session, and than the engine remembers.
    for (let i = 1; i <= 600; i++) log.after(1).add(`r${i}`, connOpen('http'), httpRequest('/api/v1/namespaces/default/pods/p1'), response(200, { type: 'http.response' }), connClose('upstream', 1));
    const found = log.events.flatMap((e) => engine.ingest(e));
    expect(found).toHaveLength(600);
    expect(new Set(found.map((f) => f.conn)).size).toBe(600);
    expect([...engine.tick(T0 + 1_000), ...engine.finish()]).toEqual([]);
  });

  it('takes no derived records or events of no session', () => {
    const rule = counting();
    const engine = diagnosis({ rules: [rule] });
    const start: EventBody = { type: 'proxy.start', listen: 'a', upstream: 'b', context: null, kubeconfig: null, payloadMode: 'head', log: null, version: '0', pid: 1 };
    engine.ingest({ v: 1, seq: 1, ...start, note: '' } as KubewireEvent);
    const first = fallbackSession()[0]!;
    engine.ingest({ ...first, ...findingBody({ rule: 'x', severity: 'info', title: '', explanation: '', evidence: { facts: [], seqs: [] }, hop: { where: 'client↔kubewire', answeredBy: 'unknown', why: '' }, fix: '' }) } as KubewireEvent);
    engine.ingest({ ...first, type: 'audit.session' } as unknown as KubewireEvent);
    expect(rule.calls).toBe(0);
    engine.tick(T0 + 60_000);
    engine.finish();
    expect(rule.calls).toBe(0);
  });

  it('on a bus, as the proxy wires it: each finding is published once, and comes back only as a derived record', () => {
    let clock = T0;
    const bus = new EventBus({ lossless: true, now: () => clock });
    const observer = new SessionObserver();
    bus.subscribe((e) => observer.ingest(e));
    observer.add(new DiagnosisEngine(observer.model, (f) => {
      const b = findingBody(f);
      bus.publish(b, noteFor(b), { session: f.session, conn: f.conn });
    }));
    const published: KubewireEvent[] = [];
    bus.subscribe((e) => published.push(e));
    for (const e of fallbackSession()) {
      clock = parseTsMillis(e.ts)!;
      const { v: _v, seq: _seq, ts: _ts, session, conn, note, ...b } = e;
      bus.publish(b as EventBody, note, { session, conn });
    }
    observer.tick(clock + 5_000);
    observer.finish();
    const findings = published.flatMap((e) => (e.type === 'finding' ? [[e.rule, e.session, e.conn]] : []));
    expect(findings).toEqual([['websocket-fallback', 'sess-1', 'c1'], ['exit-unknown', 'sess-1', 'c2']]);
    expect(observer.model.get('sess-1')!.story().findings).toEqual(['websocket-fallback', 'exit-unknown']);
  });

  it('survives a rule that throws', () => {
    const broken: Rule = { id: 'broken', evaluate: () => { throw new Error('boom'); } };
    const engine = diagnosis({ rules: [broken, ...RULES] });
    expect(fallbackSession().flatMap((e) => engine.ingest(e)).map((f) => f.rule)).toContain('websocket-fallback');
  });

  it.skipIf(!vectorsAvailable())('diagnoses a decoded capture (no session, no connection id)', () => {
    const v = loadVector('kubectl1.33-exec-end-ws-tcp-ws-v5');
    const [f, ...rest] = diagnoseEvents(decodeAll([v.c2s], [v.s2c]).events);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ type: 'finding', rule: 'no-close-frame' });
    expect(f).not.toHaveProperty('session');
    expect(f).not.toHaveProperty('conn');
  });
});

describe('findings validate against event.schema.json', () => {
  /** One small log per rule (and some per shape), each firing what it is named after. */
  const logs: Record<string, () => KubewireEvent[]> = {
    'websocket-fallback': fallbackSession,
    'upgrade-stripped': () => new LogBuilder().add('c1', spdyRequest(), response(400), body(statusJson('BadRequest', 'Upgrade request required', 400)), ...ends()).events,
    'http2-upgrade': () => new LogBuilder().add('r1', httpRequest('/api/v1/namespaces/default/pods/p1/exec?command=ls', { version: '2.0', op: 'exec' }), response(400, { type: 'http.response', version: '2.0' })).events,
    'forward-proxy': () => new LogBuilder().add('c1', spdyRequest(), response(407), ...ends()).events,
    'no-response': () => new LogBuilder().add('c1', wsRequest(), ...ends()).events,
    'spdy-unsupported': () => new LogBuilder().add('c1', spdyRequest(), response(405, { headers: [['Server', 'envoy']] }), body('nope', 'text/plain'), ...ends()).events,
    'subprotocol-mismatch': () => new LogBuilder().add('c1', wsRequest(), ws101(null), ...ends()).events,
    'stream-version-missing': () => new LogBuilder().add('c1', spdyRequest(), spdy101(null), ...ends()).events,
    'unexpected-protocol': () => new LogBuilder().add('c1', spdyRequest({ offered: ['v4.channel.k8s.io'] }), spdy101('v5.channel.k8s.io'), ...ends()).events,
    'forbidden': () => new LogBuilder().add('c1', spdyRequest(), response(403), body(statusJson('Forbidden', 'pods "p1" is forbidden: User "u" cannot create resource "pods/exec" in API group "" in the namespace "default"', 403)), ...ends()).events,
    'not-found': () => new LogBuilder().add('c1', spdyRequest(), response(404), body(statusJson('NotFound', 'pods "p1" not found', 404)), ...ends()).events,
    'container-not-found': () => {
      const refusal = (): EventBody[] => [response(400), body(statusJson('BadRequest', 'container nosuch is not valid for pod p1', 400)), ...ends()];
      return new LogBuilder().add('c1', wsRequest({ k8s: { container: 'nosuch' } }), ...refusal()).add('c2', spdyRequest({ k8s: { container: 'nosuch' } }), ...refusal()).events;
    },
    'backend-dial': () => new LogBuilder().add('c1', spdyRequest(), response(500), body(statusJson('InternalError', 'error dialing backend: dial tcp: connection refused', 500)), ...ends()).events,
    'no-frames-after-101': () => new LogBuilder().add('c1', spdyRequest(), spdy101(), syn(1, 'error'), ...ends()).events,
    'pong-missing': () => {
      const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'));
      for (let t = 5_000; t <= 40_000; t += 5_000) log.at(t).add('c1', wsFrame('c2s', 'ping'));
      return log.events;
    },
    'idle-timeout': () => new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5')).at(60_000).add('c1', connEnd('s2c'), connClose('upstream', 60_000)).events,
    'no-close-frame': () => new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), ...statusMessage(0), ...ends()).events,
    'status-missing': () => new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), wsFrame('s2c', 'binary'), ...ends()).events,
    'exit-unknown': () => new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), wsFrame('s2c', 'binary'), closeFrame('s2c'), ...ends()).events,
    'rbac-verb-split': () => new LogBuilder().add('c1', wsRequest(), response(403, { auditId: 'a1' }), body(statusJson('Forbidden', 'pods "p1" is forbidden: User "u" cannot get resource "pods/exec" in API group "" in the namespace "default"', 403)), ...ends())
      .after(5).add('c2', spdyRequest(), spdy101()).events,
    'no-fallback': () => new LogBuilder().add('c1', wsRequest(), response(403, { auditId: 'a1' }), body(statusJson('Forbidden', 'denied by policy', 403)), ...ends()).events,
    'websocket-disabled': () => new LogBuilder()
      .add('v1', httpRequest('/version'), response(200, { type: 'http.response' }), body('{"major":"1","minor":"33","gitVersion":"v1.33.1"}'))
      .add('c1', wsRequest(), response(400, { auditId: 'a1' }), body(statusJson('BadRequest', 'websocket streaming is disabled by policy', 400)), ...ends()).events,
    'runtime-streaming': () => new LogBuilder().add('c1', wsRequest(), ws101(), stack('channel-v5'), wsFrame('s2c', 'binary', { length: 200 }), data('s2c', 'error', 199),
      { type: 'k8s.status', dir: 's2c', offset: 0, format: 'json', status: 'Failure', reason: 'InternalError', code: 500, exitCode: null,
        message: 'Internal error occurred: error sending request: Get "https://[::]:36215/cri/exec/AbC": http: server gave HTTP response to HTTPS client', raw: '{}' },
      closeFrame('s2c'), ...ends()).events,
    'corrupt-frames': () => new LogBuilder().add('c1', wsRequest(), ws101(), { type: 'decode.anomaly', dir: 's2c', offset: 9, layer: 'websocket', code: 'KW_WS_RSV_BITS', message: 'rsv', opaque: false }, ...ends()).events,
    'frame-too-large': () => new LogBuilder().add('c1', wsRequest(), ws101(), closeFrame('s2c', 1009), ...ends()).events,
    'pf-error': () => new LogBuilder().add('c1', wsRequest({ op: 'portforward', offered: [TUNNEL] }), ws101(TUNNEL), { type: 'pf.error', dir: 's2c', offset: 0, requestId: '0', port: 80, message: 'connection refused', tunnel: true }, ...ends()).events,
    'buffering': () => new LogBuilder()
      .add('r1', connOpen('http'), httpRequest('/api/v1/namespaces/default/pods/p1/log?follow=true', { op: 'log' }))
      .at(9_000).add('r1', response(200, { type: 'http.response' })).at(9_100).add('r1', connClose('upstream', 9_100, { c2s: 0, s2c: 900 })).events,
  };

  it('covers every rule', () => {
    expect(Object.keys(logs).sort()).toEqual(RULES.map((r) => r.id).sort());
  });

  for (const [rule, make] of Object.entries(logs)) {
    it(rule, () => {
      const events = make();
      const engine = diagnosis();
      const found = [...events.flatMap((e) => engine.ingest(e)), ...engine.tick(T0 + 45_000), ...engine.finish()];
      expect(found.map((f) => f.rule)).toContain(rule);
      const stamper = new EventStamper();
      for (const f of found) {
        const b = findingBody(f);
        const ev = stamper.stamp(b, noteFor(b), { ts: '2026-11-21T10:00:45.000000Z', session: f.session!, conn: f.conn! });
        expect(validate(ev), `${f.rule}: ${JSON.stringify(validate.errors)}`).toBe(true);
        expect(f.evidence.seqs.every((s) => events.some((e) => e.seq === s))).toBe(true);
      }
    });
  }

  it('rejects a finding without a fix, or with a bad hop', () => {
    const f = diagnoseEvents(fallbackSession())[0]!;
    const stamp = (b: object): unknown => ({ v: 1, seq: 1, ...b, note: 'x' });
    const { fix: _fix, ...noFix } = f;
    expect(validate(stamp({ ...noFix, session: undefined, conn: undefined }))).toBe(false);
    expect(validate(stamp({ ...findingBody(f), hop: { ...f.hop, where: 'kubectl' } }))).toBe(false);
  });
});
