import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/io/errors.js';
import { runSummary } from '../../src/cli/summary-command.js';
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import { EventBus } from '../../src/events/event-bus.js';
import { noteFor } from '../../src/events/notes.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { EventBody, KubewireEvent } from '../../src/events/types.js';
import { JsonlSink } from '../../src/sinks/jsonl-sink.js';
import { sessionEvents, vectorSessions } from '../diagnose/vector-sessions.js';
import { canonical, decodeAll } from '../support/decode.js';
import { loadVector, vectorsAvailable } from '../support/vectors.js';
import { Lines } from '../support/lines-output.js';

const root = mkdtempSync(join(tmpdir(), 'kubewire-summary-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(root, `${++n}-${name}`);

interface Capture {
  c2s: Buffer;
  s2c: Buffer;
}

/** A live-style log: each capture as one proxied connection, written by the bus and the JSONL sink. */
async function writeLog(path: string, captures: Capture[]): Promise<void> {
  const bus = new EventBus({ lossless: true });
  bus.addSink(await JsonlSink.open(path));
  const start: EventBody = { type: 'proxy.start', listen: '127.0.0.1:8001', upstream: 'https://k:6443', context: null, kubeconfig: null, payloadMode: 'full', log: path, version: 'test', pid: process.pid };
  bus.publish(start, noteFor(start), { session: 'run' });
  captures.forEach((c, i) => {
    const ids = { session: 'run', conn: `c${i + 1}` };
    decodeCaptureSync([c.c2s], [c.s2c], ({ body, note }) => bus.publish(body, note, ids));
  });
  await bus.close();
}

const run = async (file: string, sessions = false): Promise<{ code: number; out: string[]; err: string[] }> => {
  const out = new Lines();
  const err = new Lines();
  const code = await runSummary({ file, sessions }, out, err);
  return { code, out: out.lines, err: err.lines };
};

const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);
const PROXY_START: EventBody = { type: 'proxy.start', listen: '127.0.0.1:8001', upstream: 'https://k:6443', context: null, kubeconfig: null, payloadMode: 'full', log: null, version: 'test', pid: 1 };

/** A live proxy's log of these events: one seq count, in the order given. */
function writeEvents(path: string, events: KubewireEvent[]): void {
  writeFileSync(path, events.map((e, i) => JSON.stringify({ ...e, seq: i + 1 })).join('\n') + '\n');
}

/** One plain request as a live proxy logs it: conn.open, the decoded request and answer, conn.close. */
function liveRequest(c: Capture, ids: { session: string; conn: string }, startMs: number): KubewireEvent[] {
  const stamper = new EventStamper();
  const out: KubewireEvent[] = [];
  let t = startMs;
  const push = (body: EventBody, note: string): void => {
    t += 3;
    out.push(stamper.stamp(body, note, { ts: timestampMicros(t), ...ids }));
  };
  push({ type: 'conn.open', kind: 'http', client: '127.0.0.1:50000', upstream: 'https://k:6443' }, 'open');
  decodeCaptureSync([c.c2s], [c.s2c], ({ body, note }) => push(body, note));
  push({ type: 'conn.close', closedBy: 'client', bytes: { c2s: c.c2s.length, s2c: c.s2c.length }, durationMs: t - startMs, error: null }, 'close');
  return out;
}

const stamped = (body: EventBody, ms: number, ids: { session?: string; conn?: string } = {}): KubewireEvent =>
  new EventStamper().stamp(body, body.type, { ts: timestampMicros(ms), ...ids });

const latin = (s: string): Buffer => Buffer.from(s, 'latin1');
const refused: Capture = {
  c2s: latin('GET /api/v1/namespaces/default/pods/p1/exec?command=ls&stdout=true HTTP/1.1\r\nHost: k\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\nKubectl-Session: s-1\r\n\r\n'),
  s2c: latin('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'),
};
const plain: Capture = {
  c2s: latin('GET /api/v1/pods HTTP/1.1\r\nHost: k\r\n\r\n'),
  s2c: latin('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'),
};
const getPods: Capture = {
  c2s: latin('GET /api/v1/namespaces/default/pods/web HTTP/1.1\r\nHost: k\r\nUser-Agent: kubectl/v1.33.1\r\nKubectl-Command: kubectl get\r\nKubectl-Session: s-get\r\n\r\n'),
  s2c: latin('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'),
};

describe('kubewire summary', () => {
  it('prints the summary of each upgraded connection as compact JSON, and skips plain HTTP', async () => {
    const log = fresh('hand.jsonl');
    await writeLog(log, [refused, plain]);
    const r = await run(log);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).not.toContain('\n');
    expect(r.out[0]).toBe(JSON.stringify(decodeAll([refused.c2s], [refused.s2c]).summary));
  });

  it('reports a broken line and a cut-off last line with their numbers, and goes on', async () => {
    const log = fresh('broken.jsonl');
    await writeLog(log, [refused]);
    const good = (await run(log)).out;
    const events = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
    const summaryLine = events.find((l) => l.includes('"type":"conn.summary"'))!;
    // A garbage line, a blank one, the same connection again, then half a line.
    appendFileSync(log, `not json\r\n\n${summaryLine}\n${summaryLine.slice(0, 40)}`);
    const r = await run(log);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([good[0], good[0]]);
    expect(r.err).toEqual([
      `kubewire: ${log}:${events.length + 1}: line is not JSON, skipped`,
      `kubewire: ${log}:${events.length + 4}: last line is cut short, skipped`,
    ]);
  });

  it('takes a last line without a newline when it is complete', async () => {
    const log = fresh('nonl.jsonl');
    await writeLog(log, [refused]);
    const text = readFileSync(log, 'utf8');
    writeFileSync(log, text.trimEnd());
    const r = await run(log);
    expect(r.out).toHaveLength(1);
    expect(r.err).toEqual([]);
  });

  it('prints nothing for an empty log', async () => {
    const log = fresh('empty.jsonl');
    writeFileSync(log, '');
    expect(await run(log)).toEqual({ code: 0, out: [], err: [] });
  });

  it('fails with KW_ERR_LOG_UNREADABLE (exit 2) for a missing file or a directory', async () => {
    for (const [file, why] of [[fresh('missing.jsonl'), 'no such file'], [root, 'is a directory']] as const) {
      const e = await runSummary({ file }, new Lines(), new Lines()).then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(CliError);
      expect((e as CliError).code).toBe('KW_ERR_LOG_UNREADABLE');
      expect((e as CliError).exitCode).toBe(2);
      expect((e as CliError).message).toBe(`cannot read the log ${file}: ${why}${why === 'is a directory' ? ', not a file' : ''}`);
    }
  });

  const available = vectorsAvailable();
  describe.skipIf(!available)('over a log of real kubectl connections', () => {
    const names = [
      'kubectl1.30-exec-fb-403-ws-rejected-403',
      'kubectl1.30-exec-fb-403-spdy-c2',
      'kubectl1.33-exec-tty-ws-v5',
      'kubectl1.30-portforward-ws-tunnel-spdy',
      'kubectl1.27-exec-exit3-spdy',
    ];
    it('equals each vector\'s expected summary, in order, with a cut-off last line skipped', async () => {
      const vectors = names.map(loadVector);
      const log = fresh('vectors.jsonl');
      await writeLog(log, vectors);
      appendFileSync(log, '{"v":1,"seq":99999,"type":"k8s.da');
      const r = await run(log);
      expect(r.code).toBe(0);
      expect(r.out.map((l) => canonical(JSON.parse(l)))).toEqual(vectors.map((v) => canonical(v.expectedSummary)));
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/:\d+: last line is cut short, skipped$/);
    });
  });
  describe('--sessions', () => {
    it('prints one line per kubectl command with exactly the documented keys, and none for a log with only proxy.start', async () => {
      const log = fresh('rest.jsonl');
      writeEvents(log, [stamped(PROXY_START, T0), ...liveRequest(getPods, { session: 's-get', conn: 'c1' }, T0)]);
      const r = await run(log, true);
      expect(r).toMatchObject({ code: 0, err: [] });
      expect(r.out).toHaveLength(1);
      const line = JSON.parse(r.out[0]!) as Record<string, unknown>;
      expect(Object.keys(line)).toEqual(['session', 'verb', 'target', 'connections', 'transport', 'protocol', 'fallback', 'translation', 'exitCode', 'bytes', 'start', 'end', 'findings']);
      expect(line).toEqual({
        session: 's-get',
        verb: 'rest',
        target: { namespace: 'default', pod: 'web', container: null, command: [], tty: false },
        connections: [{ id: 'c1', role: 'request', status: 200, transport: 'http', protocol: null }],
        transport: null,
        protocol: null,
        fallback: null,
        translation: null,
        exitCode: null,
        bytes: { c2s: getPods.c2s.length, s2c: getPods.s2c.length },
        start: timestampMicros(T0 + 3),
        end: timestampMicros(T0 + 3 * 8),
        findings: [],
      });

      const idle = fresh('idle.jsonl');
      writeEvents(idle, [stamped(PROXY_START, T0), stamped({ type: 'proxy.stop', reason: 'signal', connections: 0, dropped: 0 }, T0 + 10_000)]);
      expect(await run(idle, true)).toEqual({ code: 0, out: [], err: [] });
    });

    it('names a broken line and a cut-off last line as without --sessions, and goes on', async () => {
      const log = fresh('sessions-broken.jsonl');
      writeEvents(log, liveRequest(getPods, { session: 's-get', conn: 'c1' }, T0));
      const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
      writeFileSync(log, [lines[0], 'not json', ...lines.slice(1), '[1,2]', lines[1]!.slice(0, 30)].join('\n'));
      const r = await run(log, true);
      expect(r.out).toHaveLength(1);
      expect(JSON.parse(r.out[0]!)).toMatchObject({ session: 's-get', verb: 'rest' });
      expect(r.err).toEqual([
        `kubewire: ${log}:2: line is not JSON, skipped`,
        `kubewire: ${log}:${lines.length + 3}: last line is cut short, skipped`,
      ]);
    });

    it('prints a session as soon as the log is past its settling, not at the end of the log', async () => {
      const log = fresh('order.jsonl');
      // s-long starts first and runs for a minute; s-short ends at once and settles meanwhile.
      const long = liveRequest(getPods, { session: 's-long', conn: 'c1' }, T0).slice(0, -1);
      const short = liveRequest(getPods, { session: 's-short', conn: 'c2' }, T0 + 100);
      const close = stamped({ type: 'conn.close', closedBy: 'client', bytes: { c2s: 1, s2c: 1 }, durationMs: 60_000, error: null }, T0 + 60_000, { session: 's-long', conn: 'c1' });
      writeEvents(log, [...long, ...short, stamped({ type: 'proxy.error', code: 'KW_ERR_TEST', message: 'tick', upstream: null, status: null }, T0 + 30_000), close]);
      const r = await run(log, true);
      expect(r.out.map((l) => (JSON.parse(l) as { session: string }).session)).toEqual(['s-short', 's-long']);
    });

    const available = vectorsAvailable();
    describe.skipIf(!available)('over real kubectl sessions', () => {
      const session = (vector: string) => vectorSessions().find((s) => s.vectors.includes(vector))!;
      const vectorBytes = (names: string[]) => ({
        c2s: names.reduce((n, v) => n + loadVector(v).c2s.length, 0),
        s2c: names.reduce((n, v) => n + loadVector(v).s2c.length, 0),
      });

      it('links a refused WebSocket attempt and its SPDY fallback into one line', async () => {
        const s = session('kubectl1.30-exec-fb-403-ws-rejected-403');
        expect(s.vectors).toEqual(['kubectl1.30-exec-fb-403-ws-rejected-403', 'kubectl1.30-exec-fb-403-spdy-c2']);
        const events = sessionEvents(s, { live: true, startMs: T0 });
        const finding = stamped({
          type: 'finding', rule: 'websocket-fallback', severity: 'info', title: 'fallback', explanation: '', evidence: { facts: [], seqs: [] },
          hop: { where: 'kubewire↔upstream', answeredBy: 'api-server', why: '' }, fix: '',
        }, T0 + 10_000, { session: s.session });
        const log = fresh('fallback.jsonl');
        writeEvents(log, [stamped(PROXY_START, T0), ...events, finding]);
        const r = await run(log, true);
        expect(r.err).toEqual([]);
        expect(r.out.map((l) => JSON.parse(l))).toEqual([{
          session: 'ff15e8bf-0344-4615-b9da-c8be28d104ba',
          verb: 'exec',
          target: { namespace: 'default', pod: 'p1', container: 'c1', command: ['echo', 'hi'], tty: false },
          connections: [
            { id: 'c1', role: 'attempt', status: 403, transport: 'websocket', protocol: null },
            { id: 'c2', role: 'fallback', status: 101, transport: 'spdy', protocol: 'v4.channel.k8s.io' },
          ],
          transport: 'spdy',
          protocol: 'v4.channel.k8s.io',
          fallback: { status: 403, reason: '403 Forbidden', answeredBy: 'api-server' },
          translation: null,
          exitCode: 0,
          bytes: vectorBytes(s.vectors),
          start: events[0]!.ts,
          end: events[events.length - 1]!.ts,
          findings: ['websocket-fallback'],
        }]);
      });

      it('takes the exit code of a cp from the tar, not from its test -d probe', async () => {
        const s = session('kubectl1.33-exec-cpin-ws-v5');
        expect(s.vectors).toEqual(['kubectl1.33-exec-cpin-ws-v5', 'kubectl1.33-exec-cpin-ws-v5-c2']);
        // The probe's test -d exits 1 (the destination is not a directory); the tar exits 0.
        expect(loadVector(s.vectors[0]!).expectedSummary.exitCode).toBe(1);
        const log = fresh('cp.jsonl');
        writeEvents(log, sessionEvents(s, { live: true, startMs: T0 }));
        const r = await run(log, true);
        expect(r.out).toHaveLength(1);
        expect(JSON.parse(r.out[0]!)).toMatchObject({
          verb: 'cp',
          target: { pod: 'p1', container: 'c1', command: ['tar', '-xmf', '-', '-C', '/tmp'] },
          connections: [
            { id: 'c1', role: 'request', status: 101, transport: 'websocket', protocol: 'v5.channel.k8s.io' },
            { id: 'c2', role: 'stream', status: 101, transport: 'websocket', protocol: 'v5.channel.k8s.io' },
          ],
          fallback: null,
          exitCode: 0,
          bytes: vectorBytes(s.vectors),
        });
      });

      it('prints the sessions of a whole log in the order they settle, each once', async () => {
        const picked = ['kubectl1.33-exec-exit3-ws-v5', 'kubectl1.33-exec-fb-404-ws-rejected-404', 'kubectl1.33-portforward-ws-tunnel-spdy'].map(session);
        const log = fresh('many.jsonl');
        writeEvents(log, picked.flatMap((s, i) => sessionEvents(s, { live: true, startMs: T0 + i * 60_000 })));
        const r = await run(log, true);
        expect(r.out.map((l) => JSON.parse(l) as { session: string; verb: string; exitCode: number | null; fallback: { reason: string } | null })
          .map((l) => [l.session, l.verb, l.exitCode, l.fallback?.reason ?? null])).toEqual([
          [picked[0]!.session, 'exec', 3, null],
          [picked[1]!.session, 'exec', 0, '404 Not Found'],
          [picked[2]!.session, 'port-forward', null, null],
        ]);
      });
    });
  });
});
