/**
 * The session model's rules, one story each, on hand-built live logs: the grouping, the
 * fallback and its grace, the stream and its exit code, the target, the verb, the state, and
 * when a session settles.
 */
import { describe, expect, it } from 'vitest';
import type { KubewireEvent } from '../../src/events/types.js';
import { FALLBACK_GRACE_MS } from '../../src/session/session-facts.js';
import { SessionModel } from '../../src/session/session-model.js';
import { SessionObserver } from '../../src/session/session-observer.js';
import {
  body, closeFrame, connClose, connOpen, data, ends, exitStatus, healthySpdyExec, healthyWsExec, httpRequest, LogBuilder, response, spdyRequest,
  statusJson, statusMessage, stack, T0, V5, ws101, wsFrame, wsRequest,
} from '../diagnose/events.js';

function model(events: readonly KubewireEvent[]): SessionModel {
  const m = new SessionModel();
  for (const e of events) m.ingest(e);
  m.finish();
  return m;
}

function story(log: LogBuilder) {
  const s = model(log.events).get(log.session);
  if (!s) throw new Error('no session');
  return s.story();
}

const refused403 = (log: LogBuilder, conn = 'c1'): LogBuilder =>
  log.add(conn, connOpen(), wsRequest(), response(403, { auditId: 'a1' }), body(statusJson('Forbidden', 'denied', 403)), stack('opaque', 'none', null), ...ends(), connClose('upstream', 2));

describe('the session story', () => {
  it('a healthy WebSocket exec: one stream, its exit code, its target and transport', () => {
    const s = story(healthyWsExec(new LogBuilder(), 'c1', 3));
    expect(s).toMatchObject({
      verb: 'exec', state: 'done', failure: null, exitCode: 3, stream: 'c1', transport: 'websocket', protocol: V5, fallback: null,
      target: { namespace: 'default', pod: 'p1', container: 'c1', command: ['echo', 'hi'], tty: false },
      connections: [{ id: 'c1', role: 'stream', status: 101, transport: 'websocket', protocol: V5 }],
    });
  });

  it('a refused WebSocket attempt and kubectl\'s SPDY retry are one command with a fallback', () => {
    const log = refused403(new LogBuilder());
    healthySpdyExec(log.after(5), 'c2', 0);
    const s = story(log);
    expect(s.connections.map((c) => c.role)).toEqual(['attempt', 'fallback']);
    expect(s.fallback).toEqual({ status: 403, reason: '403 Forbidden', answeredBy: 'api-server', from: 'c1', to: 'c2' });
    expect(s).toMatchObject({ stream: 'c2', transport: 'spdy', exitCode: 0, state: 'done' });
  });

  it('a 101 whose Sec-WebSocket-Accept was rewritten is a failed attempt, so the SPDY retry is a fallback', () => {
    const bad = response(101, { headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Accept', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='], ['Sec-WebSocket-Protocol', V5]] });
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), bad, stack('channel-v5')).after(1).add('c1', ...ends(), connClose('client', 1));
    healthySpdyExec(log.after(2), 'c2');
    const s = story(log);
    expect(s.fallback?.reason).toMatch(/^101 rejected: the 101 has a wrong Sec-WebSocket-Accept/);
    expect(s.connections.map((c) => c.role)).toEqual(['attempt', 'fallback']);
  });

  it('a SPDY retry 2.5 s after the refusal is still the fallback; one after the grace is not', () => {
    const near = refused403(new LogBuilder());
    healthySpdyExec(near.after(2500), 'c2');
    expect(story(near).fallback?.to).toBe('c2');
    const far = refused403(new LogBuilder());
    healthySpdyExec(far.after(FALLBACK_GRACE_MS + 500), 'c2');
    expect(story(far).fallback).toBeNull();
  });

  it('the same API-server refusal on both transports is a wrong request, not a fallback (exec -c nosuch)', () => {
    const msg = 'container nosuch is not valid for pod web';
    const log = new LogBuilder()
      .add('c1', connOpen(), wsRequest(), response(400, { auditId: 'a1' }), body(statusJson('BadRequest', msg, 400)), ...ends(), connClose('upstream', 1))
      .after(1).add('c2', connOpen(), spdyRequest(), response(400, { auditId: 'a2' }), body(statusJson('BadRequest', msg, 400)), ...ends(), connClose('upstream', 1));
    const s = story(log);
    expect(s.fallback).toBeNull();
    expect(s.connections.map((c) => c.role)).toEqual(['attempt', 'attempt']);
    expect(s.state).toBe('failed');
    expect(s.failure).toContain(msg);
  });

  it('kubectl cp: the test -d probe is not the stream and its exit code never counts', () => {
    const cp = (extra: object) => ({ k8s: { command: ['tar', 'xf', '-', '-C', '/tmp'], ...extra } });
    const probe = wsRequest({ k8s: { command: ['test', '-d', '/tmp'] } });
    const tar = wsRequest(cp({ stdin: true }));
    probe.kubectlCommand = 'kubectl cp';
    tar.kubectlCommand = 'kubectl cp';
    const log = new LogBuilder()
      .add('c1', connOpen(), probe, ws101(), stack('channel-v5'), ...statusMessage(1), closeFrame('s2c'), ...ends(), connClose('upstream', 2))
      .after(1).add('c2', connOpen(), tar, ws101(), stack('channel-v5'), data('c2s', 'stdin', 1024), ...statusMessage(0), closeFrame('s2c'), ...ends(), connClose('upstream', 5));
    const s = story(log);
    expect(s).toMatchObject({ verb: 'cp', stream: 'c2', exitCode: 0, state: 'done' });
    expect(s.connections.map((c) => c.role)).toEqual(['request', 'stream']);
    expect(s.target.command[0]).toBe('tar');
    expect(s.streams.stdin).toBe(1024);
  });

  it('logs -f is a session whose stream is the streaming GET', () => {
    const log = new LogBuilder().add('r1', connOpen('http'), httpRequest('/api/v1/namespaces/default/pods/p1/log?follow=true', { op: 'log' }), response(200, { type: 'http.response' }))
      .after(4000).add('r1', connClose('client', 4000));
    const s = story(log);
    expect(s).toMatchObject({ verb: 'logs', stream: 'r1', state: 'done', transport: null });
    expect(s.connections).toEqual([{ id: 'r1', role: 'stream', status: 200, transport: 'http', protocol: null, path: '/api/v1/namespaces/default/pods/p1/log' }]);
  });

  it('a stream cut by the upstream without a status has failed, not finished', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'), wsFrame('s2c', 'binary', { length: 4 }), data('s2c', 'stdout', 3))
      .after(60_000).add('c1', ...ends(), connClose('upstream', 60_000));
    const s = story(log);
    expect(s.state).toBe('failed');
    expect(s.failure).toMatch(/without a status/);
    expect(s.exitCode).toBeNull();
  });

  it('a client that closes the stream itself ended it: no status was due', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest({ op: 'attach' }), ws101(), stack('channel-v5'), data('s2c', 'stdout', 3))
      .after(10).add('c1', closeFrame('c2s'), closeFrame('s2c'), ...ends(), connClose('upstream', 10));
    const s = model(log.events).get('sess-1')!;
    expect(s.conns.get('c1')!.clientEnded).toBe(true);
    expect(s.story()).toMatchObject({ verb: 'attach', state: 'done', failure: null, exitCode: null });
  });

  it('a refused upgrade with no retry is a failed session naming the refusal', () => {
    const s = story(refused403(new LogBuilder()));
    expect(s).toMatchObject({ state: 'failed', stream: null, exitCode: null, fallback: null, failure: 'upgrade refused: 403 Forbidden: denied' });
  });

  it('a session is live while a connection is open', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'));
    const m = new SessionModel();
    for (const e of log.events) m.ingest(e);
    expect(m.get('sess-1')!.story()).toMatchObject({ state: 'live', end: null, failure: null });
  });

  it('an exit status of a refused attempt never becomes the session\'s', () => {
    const log = refused403(new LogBuilder());
    healthySpdyExec(log.after(1), 'c2', 7);
    expect(story(log).exitCode).toBe(7);
  });
});

describe('settling', () => {
  it('settles once every connection ended and the grace passed, and a finding does not unsettle it', () => {
    const log = healthyWsExec(new LogBuilder());
    const m = new SessionModel();
    for (const e of log.events) m.ingest(e);
    const last = T0 + log.ms;
    expect(m.tick(last + FALLBACK_GRACE_MS - 1)).toEqual([]);
    const settled = m.tick(last + FALLBACK_GRACE_MS);
    expect(settled.map((s) => s.id)).toEqual(['sess-1']);
    m.ingest({ v: 1, seq: 999, ts: new Date(last + 10_000).toISOString(), session: 'sess-1', type: 'finding', rule: 'x', severity: 'warn', title: 't', explanation: '', evidence: { facts: [], seqs: [] }, hop: { where: 'kubewire↔upstream', answeredBy: 'unknown', why: '' }, fix: '', note: '' } as KubewireEvent);
    expect(m.get('sess-1')!.settled).toBe(true);
    expect(m.get('sess-1')!.story().findings).toEqual(['x']);
    expect(m.tick(last + 20_000)).toEqual([]);
  });

  it('does not settle while a connection is open, whatever the clock says', () => {
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101());
    const m = new SessionModel();
    for (const e of log.events) m.ingest(e);
    expect(m.tick(T0 + 3_600_000)).toEqual([]);
    expect(m.finish().map((s) => s.id)).toEqual(['sess-1']);
  });

  it('the observer hands primary events and derived records to different hooks, and says when a connection ended', () => {
    const seen: string[] = [];
    const obs = new SessionObserver().add({
      primary: (e) => seen.push(`p:${e.type}`),
      derived: (e) => seen.push(`d:${e.type}`),
      connectionEnded: (c) => seen.push(`ended:${c.conn}`),
      settled: (s) => seen.push(`settled:${s.id}`),
    });
    const log = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), exitStatus(0), ...ends(), connClose('upstream', 1));
    for (const e of log.events) obs.ingest(e);
    obs.ingest({ ...log.events[0]!, seq: 100, type: 'sink.dropped', sink: 'log', dropped: 1, total: 1 } as KubewireEvent);
    obs.finish();
    expect(seen).toEqual(['p:conn.open', 'p:upgrade.request', 'p:upgrade.response', 'p:k8s.status', 'p:conn.end', 'p:conn.end', 'p:conn.close', 'ended:c1', 'd:sink.dropped', 'settled:sess-1']);
  });

  it('stays within its bound, forgetting settled sessions first', () => {
    const m = new SessionModel({ maxSessions: 3 });
    for (let i = 0; i < 10; i++) {
      const log = healthyWsExec(new LogBuilder(`s${i}`));
      for (const e of log.events) m.ingest(e);
      m.tick(T0 + log.ms + FALLBACK_GRACE_MS);
    }
    expect(m.size).toBe(3);
    expect(m.evicted).toBe(7);
    expect([...m.values()].map((s) => s.id)).toEqual(['s7', 's8', 's9']);
  });
});

describe('model edges', () => {
  it('a kubewire error about a session with no connection (a refused request) settles, and says why it failed', () => {
    const m = new SessionModel();
    m.ingest({ v: 1, seq: 1, ts: new Date(T0).toISOString(), session: 'sess-9', type: 'proxy.error', code: 'KW_ERR_AUDIT_REFUSED', message: 'the audit log cannot be written', upstream: null, status: 503, note: '' } as KubewireEvent);
    const s = m.get('sess-9')!;
    expect(s.conns.size).toBe(0);
    expect(m.tick(T0 + FALLBACK_GRACE_MS).map((x) => x.id)).toEqual(['sess-9']);
    expect(s.story()).toMatchObject({ state: 'failed', failure: 'the audit log cannot be written', connections: [] });
  });

  it('a refusal about the upgrade itself on both transports is still a fallback (a hop dropped the upgrade headers)', () => {
    const msg = 'Upgrade request required';
    const log = new LogBuilder()
      .add('c1', connOpen(), wsRequest(), response(400, { auditId: 'a1' }), body(statusJson('BadRequest', msg, 400)), ...ends(), connClose('upstream', 1))
      .after(1).add('c2', connOpen(), spdyRequest(), response(400, { auditId: 'a2' }), body(statusJson('BadRequest', msg, 400)), ...ends(), connClose('upstream', 1));
    expect(story(log).fallback).toMatchObject({ status: 400, from: 'c1', to: 'c2' });
  });

  it('the fallback waits for the retry\'s answer: a same refusal is not a fallback even for a moment', () => {
    const msg = 'container nosuch is not valid for pod web';
    const log = new LogBuilder()
      .add('c1', connOpen(), wsRequest(), response(400, { auditId: 'a1' }), body(statusJson('BadRequest', msg, 400)), ...ends(), connClose('upstream', 1))
      .after(1).add('c2', connOpen(), spdyRequest(), response(400, { auditId: 'a2' }));
    const m = new SessionModel();
    for (const e of log.events) m.ingest(e);
    expect(m.get('sess-1')!.story().fallback).toBeNull();
    log.add('c2', body(statusJson('BadRequest', msg, 400)));
    m.ingest(log.last);
    expect(m.get('sess-1')!.story().fallback).toBeNull();
  });
});
