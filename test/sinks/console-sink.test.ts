import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import { encodeWsFrame } from '../../src/codec/websocket-encode.js';
import { EventBus } from '../../src/events/event-bus.js';
import { noteFor } from '../../src/events/notes.js';
import { formatBytes } from '../../src/events/preview.js';
import type { ConnectionSummary, EventBody } from '../../src/events/types.js';
import { ConsoleSink, formatDuration, formatErrorLine, formatSessionLine } from '../../src/sinks/console-sink.js';
import { loadVector, vectorsAvailable } from '../support/vectors.js';
import { Lines } from '../support/lines-output.js';

const START = new Date(2026, 10, 21, 11, 2, 3).getTime();

function summaryOf(over: Partial<ConnectionSummary> = {}): ConnectionSummary {
  return {
    request: { method: 'GET', path: '/api/v1/namespaces/default/pods/web/exec', operation: 'exec', upgrade: 'websocket', offered: ['v5.channel.k8s.io'], kubectlSession: null },
    response: { status: 101, protocol: 'v5.channel.k8s.io' },
    transport: 'websocket',
    streams: {},
    exitCode: 3,
    status: 'Failure',
    statusReason: 'NonZeroExitCode',
    resizes: [],
    stdinClosed: false,
    pings: { c2s: 0, s2c: 0 },
    closeCodes: { c2s: null, s2c: null },
    portForward: [],
    anomalies: 0,
    ...over,
  };
}

const execRequest = { operation: 'exec' as const, namespace: 'default', pod: 'web', container: 'app', command: ['sh', '-c', 'exit 3'], stdin: false, stdout: true, stderr: true, tty: false, ports: [] };

describe('formatSessionLine', () => {
  it('reads like the example', () => {
    expect(formatSessionLine({
      startedAt: new Date(START),
      request: execRequest,
      summary: summaryOf(),
      responseReason: 'Switching Protocols',
      bytes: { c2s: 12, s2c: 2150 },
      durationMs: 1200,
      fellBackFrom: null,
    })).toBe('11:02:03 exec default/web/app [sh -c exit 3] websocket v5.channel.k8s.io exit 3 ↑12 B ↓2.1 KiB 1.2 s');
  });

  it('marks a fallback, shows refusals, port-forward ports and anomalies, and leaves out what is unknown', () => {
    const spdy = summaryOf({ transport: 'spdy', response: { status: 101, protocol: 'v4.channel.k8s.io' }, exitCode: 0, status: 'Success', statusReason: null });
    expect(formatSessionLine({ startedAt: null, request: execRequest, summary: spdy, responseReason: null, bytes: null, durationMs: 300, fellBackFrom: '403 Forbidden' }))
      .toBe('exec default/web/app [sh -c exit 3] spdy v4.channel.k8s.io exit 0 300 ms (fell back from WebSocket: 403 Forbidden)');
    const refused = summaryOf({ transport: 'none', response: { status: 403, protocol: null }, exitCode: null, status: null, statusReason: null });
    expect(formatSessionLine({ startedAt: null, request: null, summary: refused, responseReason: 'Forbidden', bytes: { c2s: 300, s2c: 200 }, durationMs: null, fellBackFrom: null }))
      .toBe('exec /api/v1/namespaces/default/pods/web/exec websocket refused 403 Forbidden ↑300 B ↓200 B');
    const digest = { bytes: 4, sha256: '0'.repeat(64) };
    const pf = summaryOf({
      request: { method: 'POST', path: '/api/v1/namespaces/default/pods/db/portforward', operation: 'portforward', upgrade: 'SPDY/3.1', offered: ['portforward.k8s.io'], kubectlSession: null },
      transport: 'spdy', response: { status: 101, protocol: 'portforward.k8s.io' }, exitCode: null, status: null, statusReason: null, anomalies: 2,
      portForward: [{ requestId: '0', port: 5432, c2s: digest, s2c: digest, error: null }, { requestId: '1', port: 5432, c2s: digest, s2c: digest, error: 'refused' }],
    });
    expect(formatSessionLine({ startedAt: null, request: { ...execRequest, operation: 'portforward', pod: 'db', container: null, command: [] }, summary: pf, responseReason: null, bytes: null, durationMs: 75_000, fellBackFrom: null }))
      .toBe('portforward default/db spdy portforward.k8s.io port 5432 1 port error 2 anomalies 1 min 15 s');
  });

  it('formats errors and durations', () => {
    expect(formatErrorLine('KW_ERR_UPSTREAM_TLS', 'certificate has expired', 502)).toBe('! KW_ERR_UPSTREAM_TLS certificate has expired (answered 502)');
    expect(formatErrorLine('KW_ERR_DECODER', 'decoder failed')).toBe('! KW_ERR_DECODER decoder failed');
    expect(formatDuration(0)).toBe('0 ms');
    expect(formatDuration(999)).toBe('999 ms');
    expect(formatDuration(1000)).toBe('1.0 s');
    expect(formatDuration(59_949)).toBe('59.9 s');
  });
});

// -- the sink on a bus, fed decoded connections -------------------------------------------------

const wsHead = (target: string, session: string): string =>
  `GET ${target} HTTP/1.1\r\nHost: k\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n`
  + `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\nKubectl-Session: ${session}\r\n\r\n`;
const spdyHead = (target: string, session: string): string =>
  `POST ${target} HTTP/1.1\r\nHost: k\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nKubectl-Session: ${session}\r\n\r\n`;
const EXEC = '/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=exit+3&container=app&stdout=true&stderr=true';
const EXIT3 = JSON.stringify({ metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });

const bytes = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
const wsExit3 = {
  c2s: bytes(wsHead(EXEC, 'sess-1')),
  s2c: bytes(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n',
    encodeWsFrame({ opcode: 2, payload: Buffer.concat([Buffer.from([3]), Buffer.from(EXIT3)]) }),
  ),
};
const wsRefused = (session: string) => ({
  c2s: bytes(wsHead(EXEC, session)),
  s2c: bytes('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'),
});
const spdyAccepted = (session: string) => ({
  c2s: bytes(spdyHead(EXEC, session)),
  s2c: bytes('HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n'),
});

class Rig {
  clock = START;
  readonly bus = new EventBus({ lossless: false, now: () => this.clock });
  readonly out = new Lines();
  readonly sink: ConsoleSink;
  private next = 0;

  constructor(fallbackWaitMs?: number) {
    this.sink = new ConsoleSink(this.out, fallbackWaitMs === undefined ? {} : { fallbackWaitMs }).attach(this.bus);
  }

  /** One proxied connection: conn.open, the decoded events `ms` later, then conn.close. */
  connection(c: { c2s: Buffer; s2c: Buffer }, ms: number): void {
    const ids = { session: 'run-1', conn: `c${++this.next}` };
    const emit = (body: EventBody): void => void this.bus.publish(body, noteFor(body), ids);
    emit({ type: 'conn.open', kind: 'upgrade', client: '127.0.0.1:50000', upstream: 'https://k:6443' });
    const opened = this.clock;
    this.clock += ms;
    decodeCaptureSync([c.c2s], [c.s2c], ({ body, note }) => this.bus.publish(body, note, ids));
    emit({ type: 'conn.close', closedBy: 'client', bytes: { c2s: c.c2s.length, s2c: c.s2c.length }, durationMs: this.clock - opened, error: null });
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ConsoleSink', () => {
  it('prints one line per upgraded connection when its summary arrives', () => {
    const rig = new Rig();
    rig.connection(wsExit3, 1200);
    expect(rig.out.lines).toEqual([
      `11:02:03 exec default/web/app [sh -c exit 3] websocket v5.channel.k8s.io exit 3 ↑${wsExit3.c2s.length} B ↓${formatBytes(wsExit3.s2c.length)} 1.2 s`,
    ]);
  });

  it('prints nothing for plain HTTP, and proxy errors and drop reports as ! lines', () => {
    const rig = new Rig();
    rig.connection({ c2s: bytes('GET /api/v1/pods HTTP/1.1\r\nHost: k\r\n\r\n'), s2c: bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n') }, 5);
    const err: EventBody = { type: 'proxy.error', code: 'KW_ERR_UPSTREAM_TLS', message: 'certificate has expired', upstream: 'https://k:6443', status: 502 };
    rig.bus.publish(err, noteFor(err));
    const dropped: EventBody = { type: 'sink.dropped', sink: 'jsonl', dropped: 3, total: 7 };
    rig.bus.publish(dropped, noteFor(dropped));
    expect(rig.out.lines).toEqual([
      '! KW_ERR_UPSTREAM_TLS certificate has expired (answered 502)',
      expect.stringMatching(/^! jsonl fell behind: 3 events dropped \(7 in all\)/),
    ]);
  });

  it('shows a refused WebSocket attempt and its SPDY fallback as one line with a mark', () => {
    const rig = new Rig();
    rig.connection(wsRefused('sess-fb'), 20);
    rig.clock += 10;
    rig.connection(spdyAccepted('sess-fb'), 300);
    rig.sink.close();
    expect(rig.out.lines).toHaveLength(1);
    expect(rig.out.lines[0]).toMatch(/^11:02:03 exec default\/web\/app \[sh -c exit 3\] spdy v4\.channel\.k8s\.io ↑\d+ B ↓\d+ B 300 ms \(fell back from WebSocket: 403 Forbidden\)$/);
  });

  it('prints a refused attempt with no fallback after a wait, or when it closes', () => {
    vi.useFakeTimers();
    const rig = new Rig(500);
    rig.connection(wsRefused('sess-alone'), 20);
    expect(rig.out.lines).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(rig.out.lines).toHaveLength(1);
    expect(rig.out.lines[0]).toMatch(/exec default\/web\/app \[sh -c exit 3\] websocket refused 403 Forbidden ↑\d+ B ↓\d+ B 20 ms$/);

    rig.connection(wsRefused('sess-other'), 20);
    rig.sink.close();
    expect(rig.out.lines).toHaveLength(2);
    // Closed: no longer listening.
    rig.connection(wsExit3, 1);
    expect(rig.out.lines).toHaveLength(2);
  });

  const available = vectorsAvailable();
  describe.skipIf(!available)('with real kubectl fallbacks', () => {
    for (const [ws, spdy, mark] of [
      ['kubectl1.30-exec-fb-403-ws-rejected-403', 'kubectl1.30-exec-fb-403-spdy-c2', '403 Forbidden'],
      ['kubectl1.30-exec-fb-500-ws-rejected-500', 'kubectl1.30-exec-fb-500-spdy-c2', '500 Internal Server Error'],
      ['kubectl1.30-exec-fb-noproto-ws-101-noproto', 'kubectl1.30-exec-fb-noproto-spdy-c2', '101 without a subprotocol'],
      ['kubectl1.30-portforward-pffb-403-ws-rejected-403', 'kubectl1.30-portforward-pffb-403-spdy-c2', '403 Forbidden'],
    ] as const) {
      it(`${ws} then ${spdy}`, () => {
        const rig = new Rig();
        rig.connection(loadVector(ws), 15);
        rig.connection(loadVector(spdy), 40);
        rig.sink.close();
        expect(rig.out.lines).toHaveLength(1);
        expect(rig.out.lines[0]).toContain(' spdy ');
        expect(rig.out.lines[0]!.endsWith(`(fell back from WebSocket: ${mark})`)).toBe(true);
      });
    }

    it('a plain exec: exit code and bytes', () => {
      const rig = new Rig();
      const v = loadVector('kubectl1.30-exec-exit3-ws-v5');
      rig.connection(v, 2500);
      expect(rig.out.lines).toEqual([
        `11:02:03 exec default/p1/c1 [sh -c exit 3] websocket v5.channel.k8s.io exit 3 ↑${formatBytes(v.c2s.length)} ↓${formatBytes(v.s2c.length)} 2.5 s`,
      ]);
    });
  });
});
