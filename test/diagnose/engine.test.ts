import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { DiagnosisEngine, diagnoseEvents, findingBody, type SessionFinding } from '../../src/diagnose/engine.js';
import { RULES } from '../../src/diagnose/rules/index.js';
import type { Rule } from '../../src/diagnose/types.js';
import { noteFor } from '../../src/events/notes.js';
import { EVENT_SCHEMA } from '../../src/events/schema.js';
import { EventStamper } from '../../src/events/stamp.js';
import type { EventBody, KubewireEvent } from '../../src/events/types.js';
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

describe('DiagnosisEngine', () => {
  it('reports a finding when its evidence arrives, once, with its session and connection', () => {
    const engine = new DiagnosisEngine();
    const events = fallbackSession();
    const when: [number, SessionFinding[]][] = events.map((e) => [e.seq, engine.ingest(e)]);
    const reported = when.filter(([, f]) => f.length);
    // websocket-fallback as the SPDY request arrives; status-missing with the first event after the
    // server ended the error stream without a status (DATA frames alone do not trigger an evaluation).
    const spdyRequestSeq = events.find((e) => e.type === 'upgrade.request' && e.conn === 'c2')!.seq;
    const errorFinSeq = events.find((e) => e.type === 'spdy.frame' && e.fin)!.seq;
    expect(reported.map(([seq, f]) => [seq, f.map((x) => x.rule)])).toEqual([[spdyRequestSeq, ['websocket-fallback']], [errorFinSeq + 1, ['status-missing']]]);
    expect(reported[0]![1][0]).toMatchObject({ session: 'sess-1', conn: 'c1' });
    expect(engine.finish(T0 + 60_000)).toEqual([]);
    expect(engine.tick(T0 + 60_000)).toEqual([]);
  });

  it('evaluates time-based rules on tick', () => {
    const engine = new DiagnosisEngine();
    for (const e of new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5')).events) expect(engine.ingest(e)).toEqual([]);
    expect(engine.tick(T0 + 5_000)).toEqual([]);
    expect(engine.tick(T0 + 11_000).map((f) => f.rule)).toEqual(['no-frames-after-101']);
    expect(engine.tick(T0 + 30_000)).toEqual([]);
  });

  it('calls a refused WebSocket attempt final only when no SPDY retry came: after a grace period, or at the end', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), response(403), body(statusJson('Forbidden', 'denied by policy', 403)), ...ends(), connClose('upstream', 2));
    const live = new DiagnosisEngine();
    for (const e of log.events) expect(live.ingest(e)).toEqual([]);
    expect(live.tick(T0 + 1_000)).toEqual([]);
    expect(live.tick(T0 + 4_000).map((f) => f.rule)).toEqual(['forbidden']);
    const replay = new DiagnosisEngine();
    for (const e of log.events) replay.ingest(e);
    expect(replay.finish().map((f) => f.rule)).toEqual(['forbidden']);
  });

  it('keeps a bounded, payload-free copy of each session, and still judges from what it left out', () => {
    const engine = new DiagnosisEngine({ maxEventsPerSession: 20 });
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'));
    for (let i = 0; i < 500; i++) log.add('c1', wsFrame('s2c', 'binary', { length: 1025 }), { ...data('s2c', 'stdout', 1024), payload: Buffer.alloc(1024, 1).toString('base64') } as EventBody);
    log.add('c1', ...statusMessage(0), ...ends(), connClose('upstream', 900));
    const found = log.events.flatMap((e) => engine.ingest(e));
    const view = engine.view('sess-1')!;
    expect(view.events.length).toBeLessThanOrEqual(40);
    expect(view.events.some((e) => 'payload' in e)).toBe(false);
    expect(view.byConn.get('c1')!.omitted).toBeGreaterThan(900);
    expect(view.byConn.get('c1')!.frames.s2c).toBe(501);
    // The status and the missing close frame were seen although most frames were not stored.
    expect(found.map((f) => f.rule)).toEqual(['no-close-frame']);
  });

  it('keeps up with a busy stream: data frames cost no evaluation', () => {
    const engine = new DiagnosisEngine();
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'));
    const frame = wsFrame('s2c', 'binary', { length: 16385 });
    const chunk = data('s2c', 'stdout', 16384);
    for (let i = 0; i < 50_000; i++) log.add('c1', frame, chunk);
    log.add('c1', ...statusMessage(0), closeFrame('s2c'), ...ends(), connClose('upstream', 900));
    const started = performance.now();
    const found = log.events.flatMap((e) => engine.ingest(e));
    expect(found).toEqual([]);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('remembers at most maxSessions sessions, forgetting the least recently active', () => {
    const engine = new DiagnosisEngine({ maxSessions: 3 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) for (const e of new LogBuilder(id).add('c1', connOpen(), wsRequest()).events) engine.ingest(e);
    expect(engine.size).toBe(3);
    expect(engine.view('a')).toBeUndefined();
    expect(engine.view('e')).toBeDefined();
  });

  it('forgets finished sessions on tick after a while, and ignores events of no session', () => {
    const engine = new DiagnosisEngine();
    for (const e of healthyWsExec(new LogBuilder()).events) engine.ingest(e);
    engine.tick(T0 + 60_000);
    expect(engine.size).toBe(1);
    engine.tick(T0 + 11 * 60_000);
    expect(engine.size).toBe(0);
    const start: EventBody = { type: 'proxy.start', listen: 'a', upstream: 'b', context: null, kubeconfig: null, payloadMode: 'head', log: null, version: '0', pid: 1 };
    engine.ingest({ v: 1, seq: 1, ...start, note: '' } as KubewireEvent);
    const finding = fallbackSession().map((e) => e)[0]!;
    engine.ingest({ ...finding, ...findingBody({ rule: 'x', severity: 'info', title: '', explanation: '', evidence: { facts: [], seqs: [] }, hop: { where: 'client↔kubewire', answeredBy: 'unknown', why: '' }, fix: '' }) } as KubewireEvent);
    expect(engine.size).toBe(0);
  });

  it('survives a rule that throws', () => {
    const broken: Rule = { id: 'broken', evaluate: () => { throw new Error('boom'); } };
    const engine = new DiagnosisEngine({ rules: [broken, ...RULES] });
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
    'backend-dial': () => new LogBuilder().add('c1', spdyRequest(), response(500), body(statusJson('InternalError', 'error dialing backend: dial tcp: connection refused', 500)), ...ends()).events,
    'no-frames-after-101': () => new LogBuilder().add('c1', spdyRequest(), spdy101(), syn(1, 'error'), ...ends()).events,
    'pong-missing': () => {
      const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'));
      for (let t = 5_000; t <= 40_000; t += 5_000) log.at(t).add('c1', wsFrame('c2s', 'ping'));
      return log.events;
    },
    'idle-timeout': () => new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5')).at(60_000).add('c1', connEnd('s2c'), connClose('upstream', 60_000)).events,
    'no-close-frame': () => new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), ...statusMessage(0), ...ends()).events,
    'status-missing': () => new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), wsFrame('s2c', 'binary'), closeFrame('s2c'), ...ends()).events,
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
      const engine = new DiagnosisEngine();
      const found = [...events.flatMap((e) => engine.ingest(e)), ...engine.tick(T0 + 45_000), ...engine.finish(T0 + 45_000)];
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
