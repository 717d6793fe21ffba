import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KubewireEvent } from '../../src/events/types.js';
import { columnWidths, rowCells } from '../../ui/format/row-format.js';
import { filterRows, parseFilter } from '../../ui/store/row-filter.js';
import { SessionStore } from '../../ui/store/session-store.js';
import { TerminalReplay } from '../../ui/terminal/terminal-replay.js';
import { vectorNames, vectorsAvailable } from '../support/vectors.js';
import { Clock, dataEvent, feed, observerOf, restEvents, T0, vectorEvents } from './event-fixtures.js';

const haveVectors = vectorsAvailable();
const SESSION = 'fd67ec0e-abcc-4832-8f6a-d7badd85312b';

function storeWith(events: KubewireEvent[], options: ConstructorParameters<typeof SessionStore>[0] = {}): SessionStore {
  const store = new SessionStore({ ...options });
  feed(store, events);
  store.flush();
  return store;
}

/** kubectl 1.33 exec against a gateway that refuses WebSocket: pod GET, WS 403, SPDY retry. */
function fallbackSession(clock: Clock, session = SESSION): KubewireEvent[] {
  return [
    ...restEvents(clock, { session, conn: 'r1' }, { path: '/api/v1/namespaces/default/pods/p1', kubectlCommand: 'kubectl exec', bytes: 1000 }),
    ...vectorEvents('kubectl1.33-exec-fb-403-ws-rejected-403', { session, conn: 'c1', clock, live: true }),
    ...vectorEvents('kubectl1.33-exec-fb-403-spdy-c2', { session, conn: 'c2', clock, live: true }),
  ];
}

describe.skipIf(!haveVectors)('SessionStore rows from real kubectl vectors', () => {
  it('leaves the audit chain\'s own records (session summary, seals) out of the rows', () => {
    const clock = new Clock();
    const events = fallbackSession(clock);
    const last = events.at(-1)!;
    const audit = [
      { v: 1, seq: last.seq + 1, ts: last.ts, session: SESSION, type: 'audit.seal', scope: 'session', count: 10, last: 'a'.repeat(64), note: 'seal of the session', prev: 'b'.repeat(64), hash: 'a'.repeat(64) },
      { v: 1, seq: last.seq + 2, ts: last.ts, type: 'audit.seal', scope: 'file', count: 11, last: 'a'.repeat(64), part: 1, final: true, note: 'seal', prev: 'a'.repeat(64), hash: 'c'.repeat(64) },
    ] as KubewireEvent[];
    const plain = storeWith(events).getSnapshot();
    const audited = storeWith([...events, ...audit]).getSnapshot();
    expect(audited.rows).toHaveLength(plain.rows.length);
    expect(audited.rows.map((r) => r.id)).toEqual(plain.rows.map((r) => r.id));
  });

  it('folds a WebSocket attempt refused with 403 and its SPDY retry into one row marked as fallen back', () => {
    const store = storeWith(fallbackSession(new Clock()));
    const { rows, restCount } = store.getSnapshot();
    expect(rows).toHaveLength(1);
    expect(restCount).toBe(0);
    const row = rows[0]!;
    expect(row).toMatchObject({
      id: SESSION,
      verb: 'exec',
      rest: false,
      namespace: 'default',
      pod: 'p1',
      container: 'c1',
      target: 'default/p1/c1',
      command: 'echo hi',
      kubectlCommand: 'kubectl exec',
      transport: 'spdy',
      protocol: 'v4.channel.k8s.io',
      fellBack: true,
      fallbackReason: '403 Forbidden',
      state: 'done',
      failure: null,
      exitCode: 0,
      connections: 3,
      findings: 0,
    });
    // Every byte kubectl moved through kubewire for this command: the refused attempt too.
    expect(row.bytesUp).toBe(449 + 691);
    expect(row.bytesDown).toBe(1000 + 258 + 320);
    expect(row.startedAt).toBeGreaterThan(T0);
    expect(row.durationMs).toBeGreaterThan(0);

    const detail = store.getDetail(SESSION)!;
    expect(detail.connections.map((c) => [c.conn, c.role, c.status, c.outcome])).toEqual([
      ['r1', 'request', 200, 'ok'],
      ['c1', 'attempt', 403, 'refused'],
      ['c2', 'fallback', 101, 'ok'],
    ]);
    expect(detail.connections[1]!.bodyStatus).toMatchObject({ reason: 'Forbidden', code: 403 });
    expect(detail.connections[2]!.protocol).toBe('v4.channel.k8s.io');
    expect(detail.status).toMatchObject({ status: 'Success', exitCode: 0 });
    const stdout = detail.lanes.find((l) => l.key === 'stdout')!;
    expect(stdout.messages.map((m) => Buffer.from(m.payload!, 'base64').toString())).toEqual(['hi\n']);
    expect(detail.lanes.map((l) => l.label)).toEqual(['stdout', 'status', 'close', 'headers']);
  });

  it('a stream session is live until its connections are done', () => {
    const clock = new Clock();
    const events = vectorEvents('kubectl1.33-exec-tty-ws-v5', { session: 'tty', conn: 'c1', clock, live: true });
    const endAt = events.findIndex((e) => e.type === 'conn.summary');
    const store = storeWith(events.slice(0, endAt));
    expect(store.getSnapshot().rows[0]!).toMatchObject({ state: 'live', exitCode: 5, endedAt: null });
    feed(store, events.slice(endAt));
    store.flush();
    expect(store.getSnapshot().rows[0]!).toMatchObject({ state: 'done', bytesUp: 577, bytesDown: 695 });
  });

  it('a WebSocket refusal with no retry is a failed session', () => {
    const clock = new Clock();
    const store = storeWith(vectorEvents('kubectl1.33-exec-fb-403-ws-rejected-403', { session: 's', conn: 'c1', clock }));
    expect(store.getSnapshot().rows[0]).toMatchObject({
      state: 'failed', fellBack: false, transport: null, refused: 'websocket 403 Forbidden',
      failure: 'upgrade refused: 403 Forbidden: fake apiserver rejected websocket upgrade (403)',
    });
    expect(rowCells(store.getSnapshot().rows[0]!, columnWidths(120)).transport.trim()).toBe('ws ✗ 403');
  });

  it('exec -it over WebSocket v5: exit code, tty, resizes and bytes each way', () => {
    const clock = new Clock();
    const store = storeWith(vectorEvents('kubectl1.33-exec-tty-ws-v5', { session: 'tty', conn: 'c1', clock }));
    const row = store.getSnapshot().rows[0]!;
    expect(row).toMatchObject({
      verb: 'exec', command: 'sh', tty: true, transport: 'websocket', protocol: 'v5.channel.k8s.io', fellBack: false,
      state: 'done', exitCode: 5, statusReason: 'NonZeroExitCode', bytesUp: 577, bytesDown: 695,
    });
    const detail = store.getDetail('tty')!;
    expect(detail.terminal.resizes.map((r) => [r.width, r.height])).toEqual([[80, 24], [100, 30], [101, 31]]);
    expect(detail.lanes.map((l) => l.key)).toEqual(['stdin', 'stdout', 'status', 'resize', 'close', 'headers']);
    expect(detail.lanes.find((l) => l.key === 'stdin')!.messages.map((m) => m.payload && Buffer.from(m.payload, 'base64').toString()))
      .toEqual(['hello\r', 'exit 5\r']);
  });

  it('port-forward through the WebSocket tunnel: one lane per port', () => {
    const clock = new Clock();
    const store = storeWith(vectorEvents('kubectl1.33-portforward-ws-tunnel-spdy', { session: 'pf', conn: 'c1', clock }));
    const row = store.getSnapshot().rows[0]!;
    expect(row).toMatchObject({ verb: 'port-forward', transport: 'websocket+spdy', protocol: 'SPDY/3.1+portforward.k8s.io', ports: [80], command: 'ports 80' });
    const port = store.getDetail('pf')!.lanes.find((l) => l.kind === 'port')!;
    expect(port.label).toBe('port 80');
    expect(port.messages.map((m) => Buffer.from(m.payload!, 'base64').toString())).toContain('echo:hello-0\n');
  });

  it('payload head: messages say they are truncated and the terminal source counts them', () => {
    const clock = new Clock();
    const store = storeWith(vectorEvents('kubectl1.27-exec-cpoutbig-spdy', { session: 'big', conn: 'c1', clock, payload: 'head' }));
    const detail = store.getDetail('big')!;
    const stdout = detail.lanes.find((l) => l.key === 'stdout')!;
    expect(stdout.truncated).toBeGreaterThan(0);
    expect(stdout.messages.some((m) => m.truncated)).toBe(true);
    expect(detail.terminal.truncated).toBeGreaterThan(0);
    expect(detail.terminal.recordedBytes).toBeLessThan(detail.terminal.bytes);
  });

  it('every vector makes one row with a detail, whatever its outcome', () => {
    const clock = new Clock();
    const store = new SessionStore({ ringSize: 50 });
    const names = vectorNames();
    for (const name of names) feed(store, vectorEvents(name, { session: name, conn: 'c1', clock, payload: 'head' }));
    store.flush();
    const rows = store.getSnapshot().rows;
    expect(rows).toHaveLength(names.length);
    for (const row of rows) {
      const detail = store.getDetail(row.id)!;
      expect(detail.connections).toHaveLength(1);
      expect(row.state).not.toBe('live');
      expect(['exec', 'cp', 'attach', 'port-forward']).toContain(row.verb);
      // A refused upgrade fails the row, an accepted one carries its transport.
      if (detail.connections[0]!.status === 101 && detail.connections[0]!.outcome === 'ok') expect(row.transport).not.toBeNull();
      else expect(row.state).toBe('failed');
    }
  });

  it('replays a tty session into a headless terminal at the recorded sizes', async () => {
    const clock = new Clock();
    const store = storeWith(vectorEvents('kubectl1.33-exec-tty-ws-v5', { session: 'tty', conn: 'c1', clock }));
    const replay = new TerminalReplay();
    const screen = await replay.update(store.getDetail('tty')!.terminal);
    replay.dispose();
    expect([screen.cols, screen.rows]).toEqual([101, 31]);
    expect(screen.plain).toContain('you typed "hello"');
    expect(screen.plain.join('\n')).toContain('you typed "exit 5"');
    expect(screen.notices).toEqual([]);
  });
});

describe.skipIf(!haveVectors)('SessionStore rows tell the session model\'s story', () => {
  it('a 101 with a wrong Sec-WebSocket-Accept, then kubectl\'s SPDY retry, is a fallback', () => {
    const clock = new Clock();
    const store = storeWith([
      ...vectorEvents('kubectl1.33-exec-fb-badaccept-ws-badaccept-v5', { session: 'bad-accept', conn: 'c1', clock, live: true }),
      ...vectorEvents('kubectl1.33-exec-fb-badaccept-spdy-c2', { session: 'bad-accept', conn: 'c2', clock, live: true }),
    ]);
    const row = store.getSnapshot().rows[0]!;
    expect(row).toMatchObject({ verb: 'exec', fellBack: true, transport: 'spdy', protocol: 'v4.channel.k8s.io', refused: null, state: 'done', exitCode: 0 });
    expect(row.fallbackReason).toMatch(/^101 rejected: the 101 has a wrong Sec-WebSocket-Accept/);
    expect(rowCells(row, columnWidths(120)).fallback.trim()).toBe('↩ws 101');
    expect(store.getDetail('bad-accept')!.connections.map((c) => [c.conn, c.role, c.status, c.outcome])).toEqual([
      ['c1', 'attempt', 101, 'refused'],
      ['c2', 'fallback', 101, 'ok'],
    ]);
    // The rejected 101 carried frames kubectl never showed: the terminal holds the fallback's output alone.
    const terminal = store.getDetail('bad-accept')!.terminal;
    expect(new Set(terminal.stdout.map((m) => m.conn))).toEqual(new Set(['c2']));
  });

  it('an exec stream the upstream cut before any status failed: the exit code is unknown', () => {
    const clock = new Clock();
    const store = storeWith(vectorEvents('kubectl1.33-exec-end-ws-nostatus-tcp-ws-v5', { session: 'cut', conn: 'c1', clock, live: true, closedBy: 'upstream' }));
    const row = store.getSnapshot().rows[0]!;
    expect(row).toMatchObject({
      verb: 'exec', transport: 'websocket', protocol: 'v5.channel.k8s.io', state: 'failed', exitCode: null,
      failure: 'the stream ended without a status: the exit code is unknown',
    });
    const detail = store.getDetail('cut')!;
    expect(detail.status).toBeNull();
    expect(detail.connections.map((c) => [c.role, c.closedBy, c.outcome])).toEqual([['stream', 'upstream', 'ok']]);
    expect(detail.lanes.find((l) => l.key === 'stdout')!.messages.map((m) => Buffer.from(m.payload ?? '', 'base64').toString()).join('')).toBe('hi\n');
  });

  it('kubectl cp: the verb is cp and the exit code is the tar\'s, not the test -d probe\'s', () => {
    const clock = new Clock();
    const store = storeWith([
      ...vectorEvents('kubectl1.33-exec-cpin-ws-v5', { session: 'cp', conn: 'c1', clock, live: true }),
      ...vectorEvents('kubectl1.33-exec-cpin-ws-v5-c2', { session: 'cp', conn: 'c2', clock, live: true }),
      ...vectorEvents('kubectl1.33-exec-exit3-ws-v5', { session: 'plain', conn: 'c3', clock, live: true }),
    ]);
    const [cp, exec] = store.getSnapshot().rows;
    expect(cp).toMatchObject({ verb: 'cp', kubectlCommand: 'kubectl cp', command: 'tar -xmf - -C /tmp', state: 'done', exitCode: 0, statusReason: null, connections: 2 });
    expect(exec).toMatchObject({ verb: 'exec', exitCode: 3 });
    const detail = store.getDetail('cp')!;
    expect(detail.connections.map((c) => [c.conn, c.role, c.exitCode])).toEqual([['c1', 'request', 1], ['c2', 'stream', 0]]);
    expect(detail.status).toMatchObject({ status: 'Success', exitCode: 0 });
  });

  it('kubectl get -w is a watch, not REST', () => {
    const clock = new Clock();
    const store = storeWith(restEvents(clock, { session: 'w', conn: 'r1' }, { path: '/api/v1/namespaces/default/pods?watch=true', kubectlCommand: 'kubectl get' }));
    expect(store.getSnapshot().rows[0]).toMatchObject({ verb: 'watch', rest: false, target: 'default/pods', state: 'done' });
  });
});

describe('TerminalReplay', () => {
  it('shows stdout without a tty as the user\'s terminal did (\\n as \\r\\n), and binary without console noise', async () => {
    const clock = new Clock();
    const ids = { session: 's', conn: 'c1' };
    const errors = vi.spyOn(console, 'error');
    const logs = vi.spyOn(console, 'log');
    const store = storeWith([dataEvent(clock, ids, 'one\ntwo\n'), dataEvent(clock, ids, Buffer.from([0x1b, 0x5b, 0x7f, 0x00, 0x9b, 0xff]))]);
    const replay = new TerminalReplay();
    const screen = await replay.update(store.getDetail('s')!.terminal);
    replay.dispose();
    expect(screen.plain.slice(0, 2)).toEqual(['one', 'two']);
    expect(screen.notices).toEqual(['not a tty session: stdout shown as a terminal would show it']);
    expect(errors).not.toHaveBeenCalled();
    expect(logs).not.toHaveBeenCalled();
    vi.restoreAllMocks();
  });
});

describe('SessionStore sessions and state', () => {
  it('plain REST sessions are flagged; logs are not REST', () => {
    const clock = new Clock();
    const store = storeWith([
      ...restEvents(clock, { session: 'get', conn: 'r1' }, { path: '/api', kubectlCommand: 'kubectl get' }),
      ...restEvents(clock, { session: 'get', conn: 'r2' }, { path: '/api/v1/namespaces/default/pods', kubectlCommand: 'kubectl get' }),
      ...restEvents(clock, { session: 'logs', conn: 'r3' }, { path: '/api/v1/namespaces/default/pods/web/log?container=app&follow=true', kubectlCommand: 'kubectl logs' }),
      ...restEvents(clock, { session: 'missing', conn: 'r4' }, { path: '/api/v1/namespaces/default/pods/nope', status: 404, reason: 'Not Found' }),
      // kubectl exec into a pod that does not exist: it stops after the pod GET, still an exec.
      ...restEvents(clock, { session: 'no-pod', conn: 'r5' }, { path: '/api/v1/namespaces/default/pods/gone', kubectlCommand: 'kubectl exec', status: 404, reason: 'Not Found' }),
    ]);
    const rows = store.getSnapshot().rows;
    expect(rows.map((r) => [r.id, r.verb, r.rest, r.state])).toEqual([
      ['get', 'rest', true, 'done'],
      ['logs', 'logs', false, 'done'],
      ['missing', 'rest', true, 'failed'],
      ['no-pod', 'exec', false, 'failed'],
    ]);
    expect(rows[0]!).toMatchObject({ target: 'default/pods', command: 'GET /api/v1/namespaces/default/pods (+1)' });
    expect(rows[1]!).toMatchObject({ target: 'default/web/app', command: 'container=app&follow=true' });
    expect(rows[2]!.failure).toBe('404 Not Found');
    expect(rows[3]!).toMatchObject({ target: 'default/gone', failure: '404 Not Found' });
    expect(store.getSnapshot().restCount).toBe(2);
    expect(store.filterRows('', false).map((r) => r.id)).toEqual(['logs', 'no-pod']);
    expect(store.filterRows('', true).map((r) => r.id)).toEqual(['get', 'logs', 'missing', 'no-pod']);
  });

  it('a request stays live until it closed', () => {
    const clock = new Clock();
    const ids = { session: 's', conn: 'r1' };
    const [open, request, response, close] = restEvents(clock, ids, { path: '/api/v1/namespaces/default/pods/p/log?follow=true', bytes: 20 });
    const store = storeWith([open!, request!, response!]);
    expect(store.getSnapshot().rows[0]!.state).toBe('live');
    expect(store.getSnapshot().stats.liveSessions).toBe(1);
    feed(store, [close!]);
    store.flush();
    expect(store.getSnapshot().rows[0]!).toMatchObject({ state: 'done', bytesUp: 0, bytesDown: 20 });
    store.close();
  });

  it('a connection that closed without an answer fails its session', () => {
    const clock = new Clock();
    const ids = { session: 's', conn: 'c1' };
    const store = storeWith([
      clock.stamp({ type: 'conn.open', kind: 'upgrade', client: 'x', upstream: 'y' }, ids),
      clock.stamp({ type: 'proxy.error', code: 'KW_ERR_UPSTREAM_CONNECT', message: 'connect ECONNREFUSED 10.0.0.1:6443', upstream: 'https://10.0.0.1:6443', status: 502 }, ids),
      clock.stamp({ type: 'conn.close', closedBy: 'error', bytes: { c2s: 0, s2c: 0 }, durationMs: 1, error: 'connect ECONNREFUSED 10.0.0.1:6443' }, ids),
    ]);
    expect(store.getSnapshot().rows[0]!).toMatchObject({ state: 'failed', failure: 'connect ECONNREFUSED 10.0.0.1:6443' });
  });

  it('counts findings per session and ignores event types it does not know', () => {
    const clock = new Clock();
    const ids = { session: 's', conn: 'c1' };
    const store = storeWith([
      ...restEvents(clock, ids, { path: '/api/v1/namespaces/default/pods/p1/log' }),
      clock.stamp({ type: 'finding', rule: 'ws-refused', severity: 'warning', title: 'WebSocket refused by the gateway' } as never, ids),
      clock.stamp({ type: 'finding', rule: 'no-pong', severity: 'error', title: 'pings unanswered' } as never, ids),
      clock.stamp({ type: 'audit.seal', hash: 'abc' } as never, ids),
      clock.stamp({ type: 'something.new' } as never, {}),
    ]);
    const snap = store.getSnapshot();
    expect(snap.rows).toHaveLength(1);
    expect(snap.rows[0]!.findings).toBe(2);
    // audit.seal is known and left out of the rows; only something.new is unknown.
    expect(snap.stats.unknownEvents).toBe(1);
    expect(snap.stats.eventsTotal).toBe(8);
    expect(store.getDetail('s')!.findings.map((f) => [f.rule, f.severity, f.title])).toEqual([
      ['ws-refused', 'warning', 'WebSocket refused by the gateway'],
      ['no-pong', 'error', 'pings unanswered'],
    ]);
  });

  it('takes meta from proxy.start and setMeta, and sums dropped events over sinks', () => {
    const clock = new Clock();
    const store = new SessionStore();
    feed(store, [clock.stamp({
      type: 'proxy.start', listen: 'https://127.0.0.1:46129', upstream: 'https://10.0.0.1:6443', context: null, kubeconfig: '/k/proxy.kubeconfig',
      payloadMode: 'head', log: '/logs/k.jsonl', version: '0.1.0', pid: 1,
    }, {})]);
    feed(store, [clock.stamp({ type: 'sink.dropped', sink: 'jsonl', dropped: 5, total: 5 }, {})]);
    feed(store, [clock.stamp({ type: 'sink.dropped', sink: 'jsonl', dropped: 3, total: 8 }, {})]);
    feed(store, [clock.stamp({ type: 'sink.dropped', sink: 'audit', dropped: 2, total: 2 }, {})]);
    store.setMeta({ source: 'live', upstream: undefined });
    store.flush();
    const snap = store.getSnapshot();
    expect(snap.meta).toMatchObject({ listen: 'https://127.0.0.1:46129', kubeconfig: '/k/proxy.kubeconfig', log: '/logs/k.jsonl', upstream: 'https://10.0.0.1:6443', payloadMode: 'head' });
    expect(snap.stats.droppedEvents).toBe(10);
    expect(snap.rows).toHaveLength(0);
  });
});

describe('SessionStore bounds', () => {
  it('evicts the oldest messages of a lane beyond ringSize and counts them', () => {
    const clock = new Clock();
    const ids = { session: 's', conn: 'c1' };
    const events = [...restEvents(clock, ids, { path: '/api/v1/namespaces/default/pods/p/log' })];
    for (let i = 0; i < 10; i++) events.push(dataEvent(clock, ids, `line ${i}\n`));
    const store = storeWith(events, { ringSize: 3 });
    const snap = store.getSnapshot();
    expect(snap.stats.evictedMessages).toBe(7);
    expect(snap.rows[0]!.evicted).toBe(7);
    const lane = store.getDetail('s')!.lanes.find((l) => l.key === 'stdout')!;
    expect(lane).toMatchObject({ total: 10, evicted: 7 });
    expect(lane.messages.map((m) => Buffer.from(m.payload!, 'base64').toString())).toEqual(['line 7\n', 'line 8\n', 'line 9\n']);
    expect(store.getDetail('s')!.terminal.evicted).toBe(7);
  });

  it('bounds the recorded bytes of a lane too', () => {
    const clock = new Clock();
    const ids = { session: 's', conn: 'c1' };
    const events = [dataEvent(clock, ids, 'a'.repeat(600)), dataEvent(clock, ids, 'b'.repeat(600)), dataEvent(clock, ids, 'c'.repeat(600))];
    const store = storeWith(events, { laneBytes: 1000 });
    const lane = store.getDetail('s')!.lanes[0]!;
    expect(lane.messages).toHaveLength(1);
    expect(lane.evicted).toBe(2);
  });

  it('forgets the oldest finished session beyond maxSessions', () => {
    const clock = new Clock();
    const events: KubewireEvent[] = [];
    events.push(clock.stamp({ type: 'conn.open', kind: 'upgrade', client: 'x', upstream: 'y' }, { session: 'live-1', conn: 'l1' }));
    for (let i = 0; i < 5; i++) events.push(...restEvents(clock, { session: `s${i}`, conn: `r${i}` }, { path: '/api' }));
    const store = storeWith(events, { maxSessions: 3 });
    const snap = store.getSnapshot();
    expect(snap.rows.map((r) => r.id)).toEqual(['live-1', 's3', 's4']);
    expect(snap.stats.evictedSessions).toBe(3);
  });
});

describe('SessionStore publishing', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('publishes on a timer, coalescing events, and keeps the snapshot until then', () => {
    const store = new SessionStore({ publishHz: 20 });
    const listener = vi.fn();
    store.subscribe(listener);
    const first = store.getSnapshot();
    const clock = new Clock(T0);
    feed(store, restEvents(clock, { session: 's', conn: 'r1' }, { path: '/api' }));
    expect(store.getSnapshot()).toBe(first);
    expect(listener).not.toHaveBeenCalled();
    vi.advanceTimersByTime(0);
    expect(listener).toHaveBeenCalledTimes(1);
    const second = store.getSnapshot();
    expect(second).not.toBe(first);
    expect(second.rows).toHaveLength(1);
    expect(Object.isFrozen(second) && Object.isFrozen(second.rows) && Object.isFrozen(second.rows[0])).toBe(true);

    // More events within 50 ms wait for the next slot.
    feed(store, restEvents(clock, { session: 't', conn: 'r2' }, { path: '/api' }));
    vi.advanceTimersByTime(49);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getSnapshot()).toBe(second);
    vi.advanceTimersByTime(1);
    expect(listener).toHaveBeenCalledTimes(2);
    expect(store.getSnapshot().rows).toHaveLength(2);
    store.close();
  });

  it('caches the detail per published version', () => {
    const store = new SessionStore();
    const clock = new Clock(T0);
    const ids = { session: 's', conn: 'c1' };
    feed(store, [dataEvent(clock, ids, 'one')]);
    store.flush();
    const d1 = store.getDetail('s');
    expect(store.getDetail('s')).toBe(d1);
    feed(store, [dataEvent(clock, ids, 'two')]);
    store.flush();
    const d2 = store.getDetail('s');
    expect(d2).not.toBe(d1);
    expect(d2!.lanes[0]!.messages).toHaveLength(2);
    expect(store.getDetail('nope')).toBeNull();
    store.close();
  });

  it('ingests 10,000 events quickly and publishes at most 20 times in that second', () => {
    const store = new SessionStore();
    const publishedAt: number[] = [];
    store.subscribe(() => publishedAt.push(Date.now() - T0));
    const clock = new Clock(T0);
    const events: KubewireEvent[] = [];
    for (let s = 0; s < 50; s++) {
      const ids = { session: `s${s}`, conn: `c${s}` };
      events.push(clock.stamp({ type: 'conn.open', kind: 'upgrade', client: 'x', upstream: 'y' }, ids));
      for (let i = 0; i < 199; i++) events.push(dataEvent(clock, ids, `output line ${i} of session ${s}\n`, 'stdout', i * 40));
    }
    expect(events).toHaveLength(10_000);
    // One second of traffic: ten events every millisecond.
    const started = performance.now();
    const observer = observerOf(store);
    for (let ms = 0; ms < 1000; ms++) {
      for (let i = 0; i < 10; i++) observer.ingest(events[ms * 10 + i]!);
      vi.advanceTimersByTime(1);
    }
    const ingestMs = performance.now() - started;
    const inFirstSecond = publishedAt.filter((t) => t < 1000);
    expect(inFirstSecond.length).toBeLessThanOrEqual(20);
    expect(inFirstSecond.length).toBeGreaterThanOrEqual(19);
    for (let i = 1; i < publishedAt.length; i++) expect(publishedAt[i]! - publishedAt[i - 1]!).toBeGreaterThanOrEqual(50);
    expect(ingestMs).toBeLessThan(2000);
    vi.advanceTimersByTime(1000);
    const snap = store.getSnapshot();
    expect(snap.stats.eventsTotal).toBe(10_000);
    expect(snap.rows).toHaveLength(50);
    expect(snap.stats.eventRate).toBeGreaterThan(4000);
    store.close();
  });

  it('ingest alone stays O(1): 100,000 events without a publish in between', () => {
    const store = new SessionStore({ ringSize: 100 });
    const clock = new Clock(T0);
    const ids = { session: 's', conn: 'c1' };
    const e = dataEvent(clock, ids, 'x'.repeat(200));
    const observer = observerOf(store);
    const started = performance.now();
    for (let i = 0; i < 100_000; i++) observer.ingest(e);
    expect(performance.now() - started).toBeLessThan(1000);
    store.flush();
    expect(store.getSnapshot().stats.evictedMessages).toBe(100_000 - 100);
    store.close();
  });
});

describe('filter', () => {
  it('parses prefixed and bare terms', () => {
    expect(parseFilter('  pod:Web  verb:exec hello text:x ns: ')).toEqual([
      { field: 'pod', value: 'web' },
      { field: 'verb', value: 'exec' },
      { field: 'any', value: 'hello' },
      { field: 'text', value: 'x' },
    ]);
    expect(parseFilter('unknown:thing')).toEqual([{ field: 'any', value: 'unknown:thing' }]);
  });

  it('filters rows by pod, verb and text inside payloads', () => {
    const clock = new Clock();
    const a = { session: 'a', conn: 'c1' };
    const b = { session: 'b', conn: 'c2' };
    const store = new SessionStore();
    feed(store, restEvents(clock, a, { path: '/api/v1/namespaces/default/pods/web-1/log' }));
    feed(store, [dataEvent(clock, a, 'GET /healthz 200\n')]);
    feed(store, restEvents(clock, b, { path: '/api/v1/namespaces/prod/pods/db-0/log' }));
    // Typed one key per message: still found as one word.
    feed(store, [...'secret'].map((ch) => dataEvent(clock, b, ch, 'stdin')));
    feed(store, [dataEvent(clock, b, Buffer.from([0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x45, 0x52, 0x52]), 'stdout')]);
    store.flush();
    const ids = (q: string): string[] => store.filterRows(q, true).map((r) => r.id);
    expect(ids('')).toEqual(['a', 'b']);
    expect(ids('pod:web')).toEqual(['a']);
    expect(ids('db-0')).toEqual(['b']);
    expect(ids('ns:prod')).toEqual(['b']);
    expect(ids('verb:logs')).toEqual(['a', 'b']);
    expect(ids('verb:exec')).toEqual([]);
    expect(ids('healthz')).toEqual(['a']);
    expect(ids('text:SECRET')).toEqual(['b']);
    expect(ids('text:err')).toEqual(['b']);
    expect(ids('pod:web text:secret')).toEqual([]);
    expect(ids('text:logs')).toEqual([]);
    // Cached per snapshot and query.
    expect(store.filterRows('pod:web', true)).toBe(store.filterRows('pod:web', true));
    store.close();
  });

  it('filterRows is a pure selector too', () => {
    const clock = new Clock();
    const store = storeWith([
      ...restEvents(clock, { session: 'x', conn: 'r1' }, { path: '/api' }),
      ...restEvents(clock, { session: 'y', conn: 'r2' }, { path: '/api/v1/namespaces/default/pods/p/log' }),
    ]);
    const rows = store.getSnapshot().rows;
    expect(filterRows(rows, [], false, () => false).map((r) => r.id)).toEqual(['y']);
    expect(filterRows(rows, parseFilter('anything'), true, (id) => id === 'x').map((r) => r.id)).toEqual(['x']);
  });
});
