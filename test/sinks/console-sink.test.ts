import { describe, expect, it } from 'vitest';
import { noteFor } from '../../src/events/notes.js';
import { formatBytes } from '../../src/events/preview.js';
import type { EventBody, KubewireEvent, SessionTarget } from '../../src/events/types.js';
import { webSocketAccept } from '../../src/session/handshake.js';
import { FALLBACK_GRACE_MS } from '../../src/session/session-facts.js';
import { SessionObserver } from '../../src/session/session-observer.js';
import { ConsoleSink, formatDuration, formatErrorLine, formatFindingLine, formatSessionLine, type SessionLine } from '../../src/sinks/console-sink.js';
import {
  T0, V5, LogBuilder, body, closeFrame, connClose, connEnd, connOpen, data, ends, healthySpdyExec, httpRequest, response, spdyRequest, stack,
  statusJson, statusMessage, ws101, wsFrame, wsRequest, WS_KEY,
} from '../diagnose/events.js';
import { Clock, vectorEvents } from '../ui/event-fixtures.js';
import { Lines } from '../support/lines-output.js';
import { loadVector, vectorsAvailable } from '../support/vectors.js';

/** The local clock time the line starts with. */
const hms = (ms: number): string => new Date(ms).toTimeString().slice(0, 8);

/** The console's lines for a whole log, read offline as `kubewire view` reads one. */
function linesOf(events: KubewireEvent[]): string[] {
  const out = new Lines();
  const observer = new SessionObserver().add(new ConsoleSink(out));
  for (const e of events) observer.ingest(e);
  observer.finish();
  return out.lines;
}

/** A WebSocket exec of `command` that exits `exit`, as kubectl `kubectlCommand` runs it. */
function wsExec(log: LogBuilder, conn: string, command: string[], exit: number, kubectlCommand = 'kubectl exec'): LogBuilder {
  return log
    .add(conn, connOpen(), { ...wsRequest({ k8s: { command } }), kubectlCommand }, ws101(), stack('channel-v5'))
    .after(4).add(conn, wsFrame('s2c', 'binary', { length: 4 }), data('s2c', 'stdout', 3), ...statusMessage(exit), closeFrame('s2c'), closeFrame('c2s'))
    .after(1).add(conn, ...ends(), connClose('upstream', 5));
}

/** The pod GET kubectl makes before it upgrades. */
function podGet(log: LogBuilder, conn: string, kubectlCommand = 'kubectl exec'): LogBuilder {
  return log
    .add(conn, connOpen('http'), { ...httpRequest('/api/v1/namespaces/default/pods/p1'), kubectlCommand }, response(200, { type: 'http.response' }))
    .after(2).add(conn, connClose('upstream', 2, { c2s: 200, s2c: 2000 }));
}

/** A WebSocket exec attempt the API server refuses with a Status. */
function refusedWs(log: LogBuilder, conn: string, status = 403): LogBuilder {
  return log
    .add(conn, connOpen(), wsRequest(), response(status), body(statusJson('Forbidden', 'upgrade to websocket forbidden', status)))
    .after(1).add(conn, ...ends(), connClose('upstream', 1, { c2s: 400, s2c: 150 }));
}

describe('formatSessionLine', () => {
  const target = (over: Partial<SessionTarget> = {}): SessionTarget => ({
    namespace: 'default', pod: 'web', container: 'app', command: ['sh', '-c', 'exit 3'], tty: false, stdin: false, ...over,
  });
  const line = (over: Partial<SessionLine> = {}): SessionLine => ({
    start: new Date(T0).toISOString(), verb: 'exec', target: target(),
    connections: [{ id: 'c1', role: 'stream', status: 101, transport: 'websocket', protocol: 'v5.channel.k8s.io', path: '/api/v1/namespaces/default/pods/web/exec' }],
    stream: 'c1', transport: 'websocket', protocol: 'v5.channel.k8s.io', ports: [], exitCode: 3, status: 'Failure', statusReason: 'NonZeroExitCode',
    state: 'done', failure: null, bytes: { c2s: 1100, s2c: 2450 }, durationMs: 1200, fallback: null, ...over,
  });

  it('reads like the example', () => {
    expect(formatSessionLine(line())).toBe(`${hms(T0)} exec default/web/app [sh -c exit 3] websocket v5.channel.k8s.io exit 3 ↑1.1 KiB ↓2.4 KiB 1.2 s`);
  });

  it('marks a translated session with what kubewire spoke upstream', () => {
    expect(formatSessionLine(line({ start: null, transport: 'spdy', protocol: 'v4.channel.k8s.io', translation: { to: 'websocket', protocol: 'v5.channel.k8s.io' } })))
      .toBe('exec default/web/app [sh -c exit 3] spdy v4.channel.k8s.io exit 3 ↑1.1 KiB ↓2.4 KiB 1.2 s (translated to websocket v5.channel.k8s.io upstream)');
  });

  it('marks a fallback, shows port-forward ports and a status without an exit code, and leaves out what is unknown', () => {
    expect(formatSessionLine(line({ start: null, transport: 'spdy', protocol: 'v4.channel.k8s.io', exitCode: 0, durationMs: 300, fallback: { reason: '403 Forbidden' } })))
      .toBe('exec default/web/app [sh -c exit 3] spdy v4.channel.k8s.io exit 0 ↑1.1 KiB ↓2.4 KiB 300 ms (fell back from WebSocket: 403 Forbidden)');
    expect(formatSessionLine(line({
      start: null, verb: 'port-forward', target: target({ pod: 'db', container: null, command: [] }), transport: 'websocket+spdy', protocol: 'SPDY/3.1+portforward.k8s.io',
      ports: [5432, 8080], exitCode: null, status: null, statusReason: null, durationMs: 75_000,
    }))).toBe('port-forward default/db websocket+spdy SPDY/3.1+portforward.k8s.io port 5432,8080 ↑1.1 KiB ↓2.4 KiB 1 min 15 s');
    expect(formatSessionLine(line({ start: null, verb: 'attach', target: target({ command: [] }), exitCode: null, status: 'Success', statusReason: null, durationMs: null })))
      .toBe('attach default/web/app websocket v5.channel.k8s.io status Success ↑1.1 KiB ↓2.4 KiB');
  });

  it('says why a session failed, which transport was tried when nothing carried it, and when it is still open', () => {
    const refused = line({
      start: null, connections: [{ id: 'c1', role: 'attempt', status: 403, transport: 'websocket', protocol: null, path: '/api/v1/namespaces/default/pods/web/exec' }],
      stream: null, transport: null, protocol: null, exitCode: null, status: null, statusReason: null, state: 'failed', failure: 'upgrade refused: 403 Forbidden', durationMs: 20,
    });
    expect(formatSessionLine(refused)).toBe('exec default/web/app [sh -c exit 3] websocket failed: upgrade refused: 403 Forbidden ↑1.1 KiB ↓2.4 KiB 20 ms');
    expect(formatSessionLine(line({ start: null, exitCode: null, status: 'Failure', statusReason: 'InternalError', state: 'failed', failure: 'Failure InternalError: boom' })))
      .toBe('exec default/web/app [sh -c exit 3] websocket v5.channel.k8s.io failed: Failure InternalError: boom ↑1.1 KiB ↓2.4 KiB 1.2 s');
    expect(formatSessionLine(line({ start: null, exitCode: null, status: null, statusReason: null, state: 'live', durationMs: null })))
      .toBe('exec default/web/app [sh -c exit 3] websocket v5.channel.k8s.io still open ↑1.1 KiB ↓2.4 KiB');
  });

  it('names what a watch asked for by its path', () => {
    expect(formatSessionLine(line({
      start: null, verb: 'watch', target: target({ namespace: null, pod: null, container: null, command: [] }),
      connections: [{ id: 'r1', role: 'stream', status: 200, transport: 'http', protocol: null, path: '/api/v1/namespaces/default/pods' }],
      stream: 'r1', transport: null, protocol: null, exitCode: null, status: null, statusReason: null, durationMs: 9000,
    }))).toBe('watch /api/v1/namespaces/default/pods http ↑1.1 KiB ↓2.4 KiB 9.0 s');
  });

  it('formats findings, errors and durations', () => {
    expect(formatFindingLine('warn', 'websocket-fallback', 'WebSocket refused (403), kubectl fell back to SPDY', 'Upgrade the control plane.\nOr not.'))
      .toBe('! warn websocket-fallback: WebSocket refused (403), kubectl fell back to SPDY (fix: Upgrade the control plane.)');
    expect(formatErrorLine('KW_ERR_UPSTREAM_TLS', 'certificate has expired', 502)).toBe('! KW_ERR_UPSTREAM_TLS certificate has expired (answered 502)');
    expect(formatErrorLine('KW_ERR_DECODER', 'decoder failed')).toBe('! KW_ERR_DECODER decoder failed');
    expect(formatDuration(0)).toBe('0 ms');
    expect(formatDuration(999)).toBe('999 ms');
    expect(formatDuration(1000)).toBe('1.0 s');
    expect(formatDuration(59_949)).toBe('59.9 s');
  });
});

describe('ConsoleSink', () => {
  it('a WebSocket 101 with a rewritten Sec-WebSocket-Accept, then the SPDY retry: one line with the fallback mark', () => {
    const log = new LogBuilder();
    podGet(log, 'r1');
    log.after(1).add('c1', connOpen(), wsRequest(), response(101, {
      headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Accept', 'cmV3cml0dGVuIGJ5IGEgZ2F0ZXdheQ=='], ['Sec-WebSocket-Protocol', V5]],
    }));
    log.after(1).add('c1', ...ends(), connClose('client', 1));
    log.after(5);
    healthySpdyExec(log, 'c2', 0);
    const lines = linesOf(log.events);
    expect(lines).toEqual([
      `${hms(T0)} exec default/p1/c1 [echo hi] spdy v4.channel.k8s.io exit 0 ↑1.2 KiB ↓2.9 KiB ${log.ms} ms `
      + '(fell back from WebSocket: 101 rejected: the 101 has a wrong Sec-WebSocket-Accept (cmV3cml0dGVuIGJ5IGEgZ2F0ZXdheQ==, expected '
      + `${webSocketAccept(WS_KEY)} for the key kubectl sent))`,
    ]);
  });

  it('a SPDY retry 2.5 s after a refused WebSocket attempt: the line waits for it, and carries the mark', () => {
    const out = new Lines();
    const observer = new SessionObserver().add(new ConsoleSink(out));
    const log = new LogBuilder();
    refusedWs(log, 'c1');
    for (const e of log.events) observer.ingest(e);
    const refusedAt = T0 + log.ms;
    observer.tick(refusedAt + 2400);
    expect(out.lines).toEqual([]);
    const from = log.events.length;
    log.after(2500);
    healthySpdyExec(log, 'c2', 3);
    for (const e of log.events.slice(from)) observer.ingest(e);
    observer.tick(T0 + log.ms + FALLBACK_GRACE_MS - 1);
    expect(out.lines).toEqual([]);
    observer.tick(T0 + log.ms + FALLBACK_GRACE_MS);
    expect(out.lines).toEqual([`${hms(T0)} exec default/p1/c1 [echo hi] spdy v4.channel.k8s.io exit 3 ↑900 B ↓650 B ${formatDuration(log.ms)} (fell back from WebSocket: 403 Forbidden)`]);

    // A late event that changes nothing of the story (a repeated end, at the same time) reopens
    // the session, but prints no second line.
    log.add('c2', connEnd('s2c'));
    observer.ingest(log.last);
    observer.tick(T0 + log.ms + 2 * FALLBACK_GRACE_MS);
    expect(out.lines).toHaveLength(1);
  });

  it('kubectl cp: one line saying cp, with the exit code of tar and not of the test -d probe', () => {
    const log = new LogBuilder();
    podGet(log, 'r1', 'kubectl cp');
    wsExec(log.after(1), 'c1', ['test', '-d', '/tmp/notes.txt'], 1, 'kubectl cp');
    podGet(log.after(1), 'r2', 'kubectl cp');
    wsExec(log.after(1), 'c2', ['tar', '-xmf', '-', '-C', '/tmp'], 2, 'kubectl cp');
    expect(linesOf(log.events)).toEqual([`${hms(T0)} cp default/p1/c1 [tar -xmf - -C /tmp] websocket v5.channel.k8s.io exit 2 ↑1.4 KiB ↓4.9 KiB ${log.ms} ms`]);
  });

  it('kubectl logs -f and get -w get a line; kubectl get gets none', () => {
    const logs = new LogBuilder('logs-1');
    logs.add('r1', connOpen('http'), httpRequest('/api/v1/namespaces/default/pods/p1/log?container=c1&follow=true', { op: 'log' }), response(200, { type: 'http.response' }));
    logs.after(12_000).add('r1', connClose('client', 12_000, { c2s: 300, s2c: 4200 }));
    const get = new LogBuilder('get-1');
    get.add('r2', connOpen('http'), { ...httpRequest('/api/v1/namespaces/default/pods'), kubectlCommand: 'kubectl get' }, response(200, { type: 'http.response' }));
    get.after(3).add('r2', connClose('upstream', 3, { c2s: 250, s2c: 9000 }));
    const watch = new LogBuilder('watch-1');
    watch.add('r3', connOpen('http'), { ...httpRequest('/api/v1/namespaces/default/pods?watch=true'), kubectlCommand: 'kubectl get' }, response(200, { type: 'http.response' }));
    watch.after(9000).add('r3', connClose('client', 9000, { c2s: 260, s2c: 700 }));
    expect(linesOf([...logs.events, ...get.events, ...watch.events])).toEqual([
      `${hms(T0)} logs default/p1/c1 http ↑300 B ↓4.1 KiB 12.0 s`,
      `${hms(T0)} watch /api/v1/namespaces/default/pods http ↑260 B ↓700 B 9.0 s`,
    ]);
  });

  it('kubectl exec on a pod that does not exist gets a line, though it never upgraded', () => {
    const log = new LogBuilder('nopod-1');
    log.add('r1', connOpen('http'), { ...httpRequest('/api/v1/namespaces/default/pods/nosuch', { op: 'other' }), kubectlCommand: 'kubectl exec' },
      response(404, { type: 'http.response', auditId: 'a1' }));
    log.after(2).add('r1', connClose('upstream', 2, { c2s: 200, s2c: 300 }));
    const lines = linesOf(log.events);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ exec default\/p1\S* failed: 404 Not Found/);
  });

  it('a stream the upstream cut without a status reads as failed, not done', () => {
    const log = new LogBuilder();
    log.add('c1', connOpen(), { ...wsRequest({ k8s: { command: ['sh'], stdin: true, tty: true } }) }, ws101(), stack('channel-v5'));
    log.after(100).add('c1', wsFrame('s2c', 'binary', { length: 6 }), data('s2c', 'stdout', 5));
    log.after(5000).add('c1', ...ends(), connClose('upstream', 5100, { c2s: 900, s2c: 1800 }));
    const [line, ...rest] = linesOf(log.events);
    expect(rest).toEqual([]);
    expect(line).toBe(`${hms(T0)} exec default/p1/c1 [sh] websocket v5.channel.k8s.io failed: the stream ended without a status: the exit code is unknown ↑900 B ↓1.8 KiB 5.1 s`);
    expect(line).not.toMatch(/exit \d/);
  });

  it('a refused attempt with no fallback says so; proxy errors, findings and drop reports are ! lines as they come', () => {
    const log = new LogBuilder();
    refusedWs(log, 'c1');
    const events: KubewireEvent[] = [...log.events];
    let seq = 100;
    const add = (body: EventBody, ids: { session?: string } = {}): void => void events.push({ v: 1, seq: ++seq, ...ids, ...body, note: noteFor(body) } as KubewireEvent);
    add({ type: 'proxy.error', code: 'KW_ERR_UPSTREAM_TLS', message: 'certificate has expired', upstream: 'https://k:6443', status: 502 });
    add({ type: 'sink.dropped', sink: 'jsonl', dropped: 3, total: 7 });
    add({
      type: 'finding', rule: 'websocket-refused', severity: 'error', title: 'WebSocket refused (403)', explanation: '', evidence: { facts: [], seqs: [] },
      hop: { where: 'kubewire↔upstream', answeredBy: 'api-server', why: 'Audit-Id' }, fix: 'Allow the upgrade.',
    }, { session: 'sess-1' });
    expect(linesOf(events)).toEqual([
      '! KW_ERR_UPSTREAM_TLS certificate has expired (answered 502)',
      expect.stringMatching(/^! jsonl fell behind: 3 events dropped \(7 in all\)/),
      '! error websocket-refused: WebSocket refused (403) (fix: Allow the upgrade.)',
      `${hms(T0)} exec default/p1/c1 [echo hi] websocket failed: upgrade refused: 403 Forbidden: upgrade to websocket forbidden ↑400 B ↓150 B 1 ms`,
    ]);
  });

  it('collapses a ! line that repeats the one before it into one line with a count', () => {
    const events: KubewireEvent[] = [];
    let seq = 0;
    const add = (body: EventBody): void => void events.push({ v: 1, seq: ++seq, ts: '2026-11-21T10:00:00.000000Z', session: 's1', conn: `r${seq}`, ...body, note: noteFor(body) } as KubewireEvent);
    const refused: EventBody = { type: 'proxy.error', code: 'KW_ERR_UPSTREAM_CONNECT', message: 'connect ECONNREFUSED 127.0.0.1:6443', upstream: 'https://127.0.0.1:6443', status: 502 };
    for (let i = 0; i < 5; i++) add(refused);
    add({ ...refused, message: 'connect ETIMEDOUT 127.0.0.1:6443' });
    add({ ...refused, message: 'connect ETIMEDOUT 127.0.0.1:6443' });
    expect(linesOf(events)).toEqual([
      '! KW_ERR_UPSTREAM_CONNECT connect ECONNREFUSED 127.0.0.1:6443 (answered 502)',
      '! KW_ERR_UPSTREAM_CONNECT connect ECONNREFUSED 127.0.0.1:6443 (answered 502) (repeated 4 more times)',
      '! KW_ERR_UPSTREAM_CONNECT connect ETIMEDOUT 127.0.0.1:6443 (answered 502)',
      '! KW_ERR_UPSTREAM_CONNECT connect ETIMEDOUT 127.0.0.1:6443 (answered 502) (repeated 1 more time)',
    ]);
  });

  it('prints a pending count on the observer\'s tick', () => {
    const out = new Lines();
    const observer = new SessionObserver().add(new ConsoleSink(out));
    const e = { v: 1, seq: 1, type: 'proxy.error', code: 'KW_ERR_X', message: 'boom', upstream: null, status: 502, note: 'x' } as KubewireEvent;
    observer.ingest(e);
    observer.ingest({ ...e, seq: 2 });
    expect(out.lines).toEqual(['! KW_ERR_X boom (answered 502)']);
    observer.tick(T0);
    expect(out.lines).toEqual(['! KW_ERR_X boom (answered 502)', '! KW_ERR_X boom (answered 502) (repeated 1 more time)']);
  });

  it('a session refused over both transports for different reasons: the failure and the mark', () => {
    const log = new LogBuilder();
    refusedWs(log, 'c1', 500);
    log.after(10).add('c2', connOpen(), spdyRequest(), response(403), body(statusJson('Forbidden', 'exec forbidden', 403)));
    log.after(1).add('c2', ...ends(), connClose('upstream', 1, { c2s: 300, s2c: 150 }));
    expect(linesOf(log.events)).toEqual([
      `${hms(T0)} exec default/p1/c1 [echo hi] spdy failed: every upgrade refused, last: 403 Forbidden: exec forbidden ↑700 B ↓300 B 12 ms (fell back from WebSocket: 500 Internal Server Error)`,
    ]);
  });

  const available = vectorsAvailable();
  describe.skipIf(!available)('with real kubectl fallbacks', () => {
    for (const [ws, spdy, mark, verb] of [
      ['kubectl1.30-exec-fb-403-ws-rejected-403', 'kubectl1.30-exec-fb-403-spdy-c2', '403 Forbidden', 'exec'],
      ['kubectl1.30-exec-fb-500-ws-rejected-500', 'kubectl1.30-exec-fb-500-spdy-c2', '500 Internal Server Error', 'exec'],
      ['kubectl1.30-exec-fb-noproto-ws-101-noproto', 'kubectl1.30-exec-fb-noproto-spdy-c2', '101 rejected: the 101 has no Sec-WebSocket-Protocol', 'exec'],
      ['kubectl1.30-portforward-pffb-403-ws-rejected-403', 'kubectl1.30-portforward-pffb-403-spdy-c2', '403 Forbidden', 'port-forward'],
    ] as const) {
      it(`${ws} then ${spdy}`, () => {
        const clock = new Clock();
        const events = [
          ...vectorEvents(ws, { session: 'fb', conn: 'c1', clock, live: true }),
          ...vectorEvents(spdy, { session: 'fb', conn: 'c2', clock, live: true }),
        ];
        const lines = linesOf(events);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${verb} `));
        expect(lines[0]).toContain(' spdy ');
        expect(lines[0]!.endsWith(`(fell back from WebSocket: ${mark})`)).toBe(true);
      });
    }

    it('a plain exec: exit code and bytes', () => {
      const clock = new Clock();
      const v = loadVector('kubectl1.30-exec-exit3-ws-v5');
      const events = vectorEvents('kubectl1.30-exec-exit3-ws-v5', { session: 's', conn: 'c1', clock, live: true });
      expect(linesOf(events)).toEqual([
        `${hms(Date.parse(events[0]!.ts!))} exec default/p1/c1 [sh -c exit 3] websocket v5.channel.k8s.io exit 3 ↑${formatBytes(v.c2s.length)} ↓${formatBytes(v.s2c.length)} `
        + `${formatDuration(Date.parse(events.at(-1)!.ts!) - Date.parse(events[0]!.ts!))}`,
      ]);
    });
  });
});
