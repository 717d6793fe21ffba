import { EventEmitter } from 'node:events';
// ui/app first: it loads Ink the way kubewire does (not in CI mode: there is a screen to draw on).
import { App, startTui } from '../../ui/app.js';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KubewireEvent } from '../../src/events/types.js';
import { SessionStore } from '../../ui/store/session-store.js';
import { vectorsAvailable } from '../support/vectors.js';
import { Clock, dataEvent, feed, observerOf, restEvents, vectorEvents } from './event-fixtures.js';
import { KeyStdin } from './render-at.js';

const haveVectors = vectorsAvailable();
const FALLBACK = 'fd67ec0e-abcc-4832-8f6a-d7badd85312b';
const ENTER = '\r';
const ESC = '\x1b';
const TAB = '\t';

/** Lets Ink read the input (a lone ESC waits one setImmediate) and React render. */
async function settle(ms = 20): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function press(stdin: { write(s: string): void }, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    stdin.write(k);
    await settle();
  }
}

function newStore(): SessionStore {
  const store = new SessionStore();
  store.setMeta({ listen: 'https://127.0.0.1:46129', kubeconfig: '/home/me/.local/state/kubewire/proxy-4243.kubeconfig', log: '/home/me/.local/state/kubewire/logs/kw.jsonl' });
  return store;
}

function ingest(store: SessionStore, events: KubewireEvent[]): void {
  feed(store, events);
  store.flush();
}

/** exec with a WebSocket→SPDY fallback, exec -it, and a plain `kubectl get`. */
function sessions(clock: Clock): KubewireEvent[] {
  return [
    ...restEvents(clock, { session: FALLBACK, conn: 'r1' }, { path: '/api/v1/namespaces/default/pods/p1', kubectlCommand: 'kubectl exec', bytes: 1000 }),
    ...vectorEvents('kubectl1.33-exec-fb-403-ws-rejected-403', { session: FALLBACK, conn: 'c1', clock, live: true }),
    ...vectorEvents('kubectl1.33-exec-fb-403-spdy-c2', { session: FALLBACK, conn: 'c2', clock, live: true }),
    ...vectorEvents('kubectl1.33-exec-tty-ws-v5', { session: 'tty-session', conn: 'c3', clock, live: true, stepMs: 20 }),
    ...restEvents(clock, { session: 'get-pods', conn: 'r2' }, { path: '/api/v1/namespaces/default/pods', kubectlCommand: 'kubectl get' }),
  ];
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.skipIf(!haveVectors)('App with real sessions', () => {
  it('lists one row per kubectl command, with the fallback marked, REST hidden until r', async () => {
    const store = newStore();
    ingest(store, sessions(new Clock()));
    const app = render(<App store={store} />);
    await settle();
    const frame = app.lastFrame()!;
    expect(frame).toContain('kubewire sessions · 2 sessions · 1 REST hidden (r shows) · ? help');
    expect(frame).toMatch(/TIME\s+VERB\s+TARGET\s+COMMAND\s+TRANSPORT\s+STATE\s+DUR\s+BYTES ↑\/↓\s+EXIT/);
    const lines = frame.split('\n');
    const fallback = lines.find((l) => l.includes('echo hi'))!;
    expect(fallback).toMatch(/^> \d\d:\d\d:\d\d exec\s+default\/p1\/c1\s+echo hi\s+spdy v4 ↩ws 403 done\s+\d+ms\s+↑1\.1K ↓1\.5K\s+0/);
    const tty = lines.find((l) => l.includes(' sh '))!;
    expect(tty).toMatch(/exec\s+default\/p1\/c1\s+sh\s+ws v5\s+done .* 5/);
    expect(frame).toContain('export KUBECONFIG=/home/me/.local/state/kubewire/proxy-4243.kubeconfig');
    expect(frame).toContain('listen https://127.0.0.1:46129');
    expect(frame).toMatch(/\d ev\/s · \d+ events · dropped 0 · log \/home\/me\/.local\/state\/kubewire\/logs\/kw.jsonl/);
    expect(frame).not.toContain('default/pods');

    await press(app.stdin, 'r');
    expect(app.lastFrame()).toMatch(/rest\s+default\/pods\s+GET \/api\/v1/);
    expect(app.lastFrame()).toContain('3 sessions');
    app.unmount();
  });

  it('keeps the selection on its session when rows are added, and follows the tail with f', async () => {
    const store = newStore();
    const clock = new Clock();
    ingest(store, sessions(clock));
    const app = render(<App store={store} />);
    await settle();
    await press(app.stdin, 'j');
    expect(selectedLine(app.lastFrame()!)).toContain(' sh ');
    ingest(store, restEvents(clock, { session: 'logs-1', conn: 'r9' }, { path: '/api/v1/namespaces/default/pods/web/log?follow=true', kubectlCommand: 'kubectl logs' }));
    await settle();
    expect(app.lastFrame()).toContain('logs');
    expect(selectedLine(app.lastFrame()!)).toContain(' sh ');

    await press(app.stdin, 'f');
    expect(app.lastFrame()).toContain('FOLLOW');
    expect(selectedLine(app.lastFrame()!)).toContain('logs');
    ingest(store, restEvents(clock, { session: 'logs-2', conn: 'r10' }, { path: '/api/v1/namespaces/default/pods/db/log', kubectlCommand: 'kubectl logs' }));
    await settle();
    expect(selectedLine(app.lastFrame()!)).toContain('default/db');
    // Moving by hand leaves follow.
    await press(app.stdin, 'k');
    expect(app.lastFrame()).not.toContain('FOLLOW');
    expect(selectedLine(app.lastFrame()!)).toContain('default/web');
    app.unmount();
  });

  it('opens a session: the connections in order, its lanes, the decoded status, message views', async () => {
    const store = newStore();
    ingest(store, sessions(new Clock()));
    const app = render(<App store={store} />);
    await settle();
    await press(app.stdin, ENTER);
    let frame = app.lastFrame()!;
    expect(frame).toContain('exec default/p1/c1 [echo hi] · spdy v4.channel.k8s.io');
    expect(frame).toMatch(/done · exit 0 · ↑1\.1K ↓1\.5K/);
    expect(frame).toContain('status: Success · exit code 0');
    expect(frame).toContain('↩ fell back to SPDY: WebSocket got 403 Forbidden "fake apiserver rejected websocket upgrade (403)"');
    expect(frame).toMatch(/request\s+r1\s+GET\s+pods default\/p1\s+200 OK\s+\+0ms\s+4ms ↑0B ↓1\.0K/);
    expect(frame).toMatch(/attempt\s+c1\s+GET\s+ws exec\s+403 Forbidden\s+\+\d+ms\s+\d+ms ↑449B ↓258B/);
    expect(frame).toMatch(/fallback\s+c2\s+POST\s+spdy exec\s+101 v4.channel.k8s.io\s+\+\d+ms\s+\d+ms ↑691B ↓320B/);
    expect(frame).toMatch(/LANES\s+stdout 1 {3}status 1 {3}close 1 /);
    expect(frame).toMatch(/> #\d+\s+\+\d\.\d{3}s\s+↓\s+3B hi\\n/);
    expect(frame).toContain('FINDINGS');
    expect(frame).toMatch(/FINDINGS\nnone/);

    await press(app.stdin, 'x');
    expect(app.lastFrame()).toMatch(/3B 68 69 0a/);
    expect(app.lastFrame()).toContain('0000  68 69 0a');
    await press(app.stdin, TAB, 'J');
    frame = app.lastFrame()!;
    expect(frame).toMatch(/view JSON/);
    expect(frame).toContain('{"metadata":{},"status":"Success"}');
    expect(frame).toContain('"status": "Success"');
    await press(app.stdin, 't');
    expect(app.lastFrame()).toContain('{"metadata":{},"status":"Success"}');

    await press(app.stdin, ESC);
    expect(app.lastFrame()).toContain('TRANSPORT');
    app.unmount();
  });

  it('marks the fallback after a 101 kubectl rejected, and shows a stream the upstream cut as failed', async () => {
    const store = newStore();
    const clock = new Clock();
    ingest(store, [
      ...vectorEvents('kubectl1.33-exec-fb-badaccept-ws-badaccept-v5', { session: 'bad-accept', conn: 'c1', clock, live: true }),
      ...vectorEvents('kubectl1.33-exec-fb-badaccept-spdy-c2', { session: 'bad-accept', conn: 'c2', clock, live: true }),
      ...vectorEvents('kubectl1.33-exec-end-ws-nostatus-tcp-ws-v5', { session: 'cut', conn: 'c3', clock, live: true, closedBy: 'upstream' }),
    ]);
    const app = render(<App store={store} />);
    await settle();
    const rows = app.lastFrame()!.split('\n').filter((l) => l.includes('echo hi'));
    expect(rows[0]).toMatch(/spdy v4 ↩ws 101 done .* 0$/);
    expect(rows[1]).toMatch(/ws v5\s+failed/);
    await press(app.stdin, ENTER);
    expect(app.lastFrame()).toContain('↩ fell back to SPDY: WebSocket got 101 rejected: the 101 has a wrong Sec-WebSocket-Accept');
    await press(app.stdin, ESC, 'j', ENTER);
    expect(app.lastFrame()).toContain('failed: the stream ended without a status: the exit code is unknown');
    app.unmount();
  });

  it('rebuilds the terminal of an exec -it session at its recorded sizes', async () => {
    const store = newStore();
    ingest(store, sessions(new Clock()));
    const app = render(<App store={store} />);
    await settle();
    await press(app.stdin, 'j', ENTER);
    expect(app.lastFrame()).toMatch(/LANES\s+stdin 2 {3}stdout 21 {3}status 1 {3}resize 3 {3}close 2 /);
    expect(app.lastFrame()).toContain('status: Failure · NonZeroExitCode · exit code 5 · command terminated with non-zero exit code');
    await press(app.stdin, 's');
    await settle(100);
    const frame = app.lastFrame()!;
    expect(frame).toContain('terminal 101x31 · exec default/p1/c1 [sh] · 20 stdout messages · sizes 80x24 → 100x30 → 101x31');
    expect(frame).toContain('you typed "hello"');
    expect(frame).toContain('fake$ exit 5');
    expect(frame).toContain('you typed "exit 5"');
    expect(frame).not.toContain('⚠');
    await press(app.stdin, ESC);
    expect(app.lastFrame()).toContain('CONNECTIONS');
    app.unmount();
  });

  it('says when the terminal cannot be rebuilt in full (payload head)', async () => {
    const store = newStore();
    ingest(store, vectorEvents('kubectl1.33-exec-cpoutbig-spdy', { session: 'cp-out', conn: 'c1', clock: new Clock(), payload: 'head' }));
    const app = render(<App store={store} />);
    await settle();
    await press(app.stdin, ENTER, 's');
    await settle(100);
    const frame = app.lastFrame()!;
    expect(frame).toContain('⚠ not a tty session');
    expect(frame).toMatch(/⚠ truncated: \d+ stdout messages were recorded in part or not at all/);
    app.unmount();
  });
});

describe('App without vectors', () => {
  it('shows colours and cursor moves as the terminal drew them', async () => {
    const store = newStore();
    const clock = new Clock();
    const ids = { session: 'colours', conn: 'c1' };
    ingest(store, [
      clock.stamp({
        type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: '/api/v1/namespaces/default/pods/web/exec?command=sh&tty=true', path: '/api/v1/namespaces/default/pods/web/exec',
        version: '1.1', headers: [], upgrade: 'websocket', offered: ['v5.channel.k8s.io'], kubectlSession: 'colours', kubectlCommand: 'kubectl exec', userAgent: null,
        k8s: { operation: 'exec', namespace: 'default', pod: 'web', container: null, command: ['sh'], stdin: true, stdout: true, stderr: false, tty: true, ports: [] },
      }, ids),
      clock.stamp({ type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: '1.1', headers: [], protocol: 'v5.channel.k8s.io', auditId: null, server: null, contentType: null }, ids),
      clock.stamp({ type: 'k8s.resize', dir: 'c2s', offset: 300, width: 40, height: 6 }, ids),
      dataEvent(clock, ids, 'hello world\r\nsecond line\r\n'),
      // Back to the top left, green HELLO over "hello", then bold red on line 3.
      dataEvent(clock, ids, '\x1b[1;1H\x1b[32mHELLO\x1b[0m\x1b[3;1H\x1b[1;31merror\x1b[0m: done'),
    ]);
    const app = render(<App store={store} />);
    await settle();
    await press(app.stdin, ENTER, 's');
    await settle(100);
    const frame = app.lastFrame()!;
    expect(frame).toContain('terminal 40x6');
    // Ink re-emits the styles in its own form: green HELLO, then bold red "error".
    expect(frame).toMatch(/\x1b\[32mHELLO\x1b\[(?:0|39)m world/);
    expect(frame).toContain('second line');
    expect(frame).toMatch(/\x1b\[1m\x1b\[31merror|\x1b\[1;31merror|\x1b\[31m\x1b\[1merror/);
    expect(frame).toContain(': done');
    app.unmount();
  });

  it('filters by pod, verb and payload text with /', async () => {
    const store = newStore();
    const clock = new Clock();
    const web = { session: 'web-logs', conn: 'r1' };
    const db = { session: 'db-logs', conn: 'r2' };
    ingest(store, [
      ...restEvents(clock, web, { path: '/api/v1/namespaces/default/pods/web-1/log', kubectlCommand: 'kubectl logs' }),
      dataEvent(clock, web, 'GET /healthz 200\n'),
      ...restEvents(clock, db, { path: '/api/v1/namespaces/prod/pods/db-0/log', kubectlCommand: 'kubectl logs' }),
      dataEvent(clock, db, 'FATAL: password authentication failed\n'),
    ]);
    const app = render(<App store={store} />);
    await settle();
    expect(app.lastFrame()).toContain('2 sessions');
    await press(app.stdin, '/', 'p', 'o', 'd', ':', 'd', 'b');
    let frame = app.lastFrame()!;
    expect(frame).toContain('/pod:db');
    expect(frame).toContain('1 of 2 sessions');
    expect(frame).toContain('prod/db-0');
    expect(frame).not.toContain('default/web-1');
    await press(app.stdin, ENTER);
    expect(app.lastFrame()).toContain('filter: pod:db');
    await press(app.stdin, ESC);
    expect(app.lastFrame()).toContain('2 sessions');

    await press(app.stdin, '/');
    app.stdin.write('healthz');
    await settle();
    await press(app.stdin, ENTER);
    frame = app.lastFrame()!;
    expect(frame).toContain('default/web-1');
    expect(frame).not.toContain('prod/db-0');

    await press(app.stdin, '/', '\x15');
    app.stdin.write('verb:exec');
    await settle();
    await press(app.stdin, ENTER);
    expect(app.lastFrame()).toContain('Nothing matches "verb:exec"');
    app.unmount();
  });

  it('counts findings in the list and lists them in the findings pane', async () => {
    const store = newStore();
    const clock = new Clock();
    const ids = { session: 'diag', conn: 'r1' };
    ingest(store, [
      ...restEvents(clock, ids, { path: '/api/v1/namespaces/default/pods/web/log', kubectlCommand: 'kubectl logs' }),
      clock.stamp({ type: 'finding', rule: 'idle-timeout', severity: 'warning', title: 'gateway closes idle streams after 60 s' } as never, ids),
      clock.stamp({ type: 'finding', rule: 'no-pong', severity: 'error', title: 'pings go unanswered' } as never, ids),
    ]);
    const app = render(<App store={store} />);
    await settle();
    expect(app.lastFrame()!.split('\n').find((l) => l.includes('default/web'))).toMatch(/ !2$/);
    await press(app.stdin, ENTER);
    expect(app.lastFrame()).toContain('FINDINGS (2)');
    expect(app.lastFrame()).toContain('[warning] idle-timeout: gateway closes idle streams after 60 s');
    expect(app.lastFrame()).toContain('[error] no-pong: pings go unanswered');
    app.unmount();
  });

  it('keeps the selected message when older ones fall out of the ring', async () => {
    const store = new SessionStore({ ringSize: 5 });
    const clock = new Clock();
    const ids = { session: 'tail', conn: 'r1' };
    ingest(store, restEvents(clock, ids, { path: '/api/v1/namespaces/default/pods/web/log' }).slice(0, 3));
    for (let i = 0; i < 5; i++) feed(store, [dataEvent(clock, ids, `line ${i}\n`)]);
    store.flush();
    const app = render(<App store={store} />);
    await settle();
    await press(app.stdin, ENTER, 'j', 'j');
    expect(selectedLine(app.lastFrame()!)).toContain('line 2');
    ingest(store, [dataEvent(clock, ids, 'line 5\n'), dataEvent(clock, ids, 'line 6\n')]);
    await settle();
    expect(app.lastFrame()).toContain('2 older stdout messages fell out of the ring (keeps 5); all are in the log');
    expect(selectedLine(app.lastFrame()!)).toContain('line 2');
    ingest(store, [dataEvent(clock, ids, 'line 7\n'), dataEvent(clock, ids, 'line 8\n')]);
    await settle();
    // line 2 is gone: the oldest kept one is selected.
    expect(selectedLine(app.lastFrame()!)).toContain('line 4');
    app.unmount();
    store.close();
  });

  it('shows help with ?, and any key closes it', async () => {
    const store = newStore();
    const app = render(<App store={store} />);
    await settle();
    expect(app.lastFrame()).toContain('No kubectl commands yet');
    await press(app.stdin, '?');
    const frame = app.lastFrame()!;
    expect(frame).toContain('kubewire help');
    expect(frame).toContain('pause / resume the view');
    expect(frame).toContain('show messages as text, hex, pretty JSON');
    expect(frame).toContain('open the session');
    await press(app.stdin, 'q');
    expect(app.lastFrame()).toContain('kubewire sessions');
    app.unmount();
  });

  it('space pauses the view while events keep arriving', async () => {
    const store = newStore();
    const clock = new Clock();
    ingest(store, restEvents(clock, { session: 'a', conn: 'r1' }, { path: '/api/v1/namespaces/default/pods/a/log' }));
    const app = render(<App store={store} />);
    await settle();
    await press(app.stdin, ' ');
    expect(app.lastFrame()).toContain('PAUSED');
    ingest(store, restEvents(clock, { session: 'b', conn: 'r2' }, { path: '/api/v1/namespaces/default/pods/b/log' }));
    await settle();
    expect(app.lastFrame()).not.toContain('default/b');
    expect(app.lastFrame()).toContain('+4 since pause');
    await press(app.stdin, ' ');
    expect(app.lastFrame()).toContain('default/b');
    expect(app.lastFrame()).not.toContain('PAUSED');
    app.unmount();
  });

  it('q and ctrl-c quit', async () => {
    for (const key of ['q', '\x03']) {
      const onQuit = vi.fn();
      const app = render(<App store={newStore()} onQuit={onQuit} />);
      await settle();
      await press(app.stdin, key);
      expect(onQuit).toHaveBeenCalledTimes(1);
      app.unmount();
    }
  });

  it('keeps responding to keys while 10,000 events a second arrive', async () => {
    const store = newStore();
    const clock = new Clock();
    const app = render(<App store={store} />);
    await settle();
    const observer = observerOf(store);
    const started = Date.now();
    let n = 0;
    // Ten events per millisecond of wall time, caught up on every tick.
    const feed = setInterval(() => {
      const due = (Date.now() - started) * 10;
      for (; n < due; n++) {
        const ids = { session: `s${n % 40}`, conn: `c${n % 40}` };
        observer.ingest(n < 40 ? restEvents(clock, ids, { path: `/api/v1/namespaces/default/pods/p${n}/log` })[1]! : dataEvent(clock, ids, `line ${n}\n`));
      }
    }, 5);
    try {
      await settle(300);
      const before = n;
      await press(app.stdin, '?');
      expect(app.lastFrame()).toContain('kubewire help');
      await press(app.stdin, ESC, 'j', 'j');
      expect(selectedLine(app.lastFrame()!)).toContain('default/p2');
      // The keys were answered while the events kept coming, not after they stopped.
      expect(n).toBeGreaterThan(before);
    } finally {
      clearInterval(feed);
    }
    expect(n).toBeGreaterThan(3000);
    await settle(100);
    expect(store.getSnapshot().stats.eventsTotal).toBe(n);
    app.unmount();
    store.close();
  });
});

describe('startTui', () => {
  it('draws on the alternate screen of a tty and gives it back on quit', async () => {
    const stdout = new FakeTty();
    const stdin = new KeyStdin();
    const onQuit = vi.fn();
    const store = newStore();
    const tui = startTui({ store, stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream, onQuit });
    await settle();
    expect(stdout.written.startsWith('\x1b[?1049h')).toBe(true);
    expect(stdout.written).toContain('kubewire');
    stdin.write('q');
    await tui.waitUntilExit();
    expect(stdout.written.endsWith('\x1b[?1049l')).toBe(true);
    expect(onQuit).toHaveBeenCalledTimes(1);
    store.close();
  });

  it('leaves a stdout that is not a tty alone', async () => {
    const stdout = new FakeTty();
    stdout.isTTY = false;
    const tui = startTui({ store: newStore(), stdout: stdout as unknown as NodeJS.WriteStream, stdin: new KeyStdin() as unknown as NodeJS.ReadStream });
    await settle();
    tui.unmount();
    await tui.waitUntilExit();
    expect(stdout.written).not.toContain('\x1b[?1049');
  });

  it('unmount ends it without calling onQuit', async () => {
    const stdout = new FakeTty();
    const onQuit = vi.fn();
    const tui = startTui({ store: newStore(), stdout: stdout as unknown as NodeJS.WriteStream, stdin: new KeyStdin() as unknown as NodeJS.ReadStream, onQuit });
    await settle();
    tui.unmount();
    await tui.waitUntilExit();
    expect(stdout.written.endsWith('\x1b[?1049l')).toBe(true);
    expect(onQuit).not.toHaveBeenCalled();
  });
});

function selectedLine(frame: string): string {
  return frame.split('\n').find((l) => l.startsWith('> ')) ?? '';
}

class FakeTty extends EventEmitter {
  isTTY = true;
  columns = 100;
  rows = 30;
  written = '';
  write(s: string): boolean {
    this.written += s;
    return true;
  }
}

