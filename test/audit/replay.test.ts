/**
 * `kubewire replay` against logs built from real kubectl sessions (test/fixtures/vectors): the bytes
 * written are the recorded stdout exactly, one write per recorded chunk; --speed and --max-idle
 * shape the pauses; the exit code is the session's; sessions are picked or refused with a list;
 * logs recorded with --payload head say what is missing; audit logs in rotated parts read as one.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { chainInfo, ChainLinker } from '../../src/audit/chain.js';
import { replaySchedule } from '../../src/audit/replay-schedule.js';
import { SessionScanner, type SessionInfo, type TerminalChunk } from '../../src/audit/terminal-session.js';
import { CliError } from '../../src/io/errors.js';
import { runReplay } from '../../src/cli/replay-command.js';
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import type { PayloadMode } from '../../src/codec/decode-context.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { EventBody, KubewireEvent } from '../../src/events/types.js';
import { DEFAULT_MAX_SESSIONS } from '../../src/session/session-model.js';
import { writeRecordedLog } from '../support/recorded-log.js';
import { loadVector, vectorsAvailable } from '../support/vectors.js';
import { Lines } from '../support/lines-output.js';

const root = mkdtempSync(join(tmpdir(), 'kubewire-replay-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(root, `${++n}-${name}`);
const START_MS = Date.UTC(2026, 10, 21, 10, 0, 0);

/** A writable that keeps every write as it came, optionally slow to take them. */
class Recorder extends Writable {
  readonly writes: Buffer[] = [];
  constructor(private readonly delayMs = 0, highWaterMark = 16 * 1024) {
    super({ highWaterMark });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.writes.push(Buffer.from(chunk));
    if (this.delayMs > 0) setTimeout(cb, this.delayMs);
    else cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.writes);
  }
}

interface Conn {
  vector: string;
  session: string;
}

/** Events as the proxy would log them, with a chosen payload mode; times step by `stepMs`. */
function recordedEvents(conns: Conn[], payload: PayloadMode = 'full', stepMs = 3): KubewireEvent[] {
  const stamper = new EventStamper();
  const events: KubewireEvent[] = [];
  let t = START_MS;
  conns.forEach((c, i) => {
    const v = loadVector(c.vector);
    decodeCaptureSync([v.c2s], [v.s2c], ({ body, note }) => {
      t += stepMs;
      events.push(stamper.stamp(body, note, { ts: timestampMicros(t), session: c.session, conn: `c${i + 1}` }));
    }, { payload });
  });
  return events;
}

const jsonl = (events: object[]): string => events.map((e) => JSON.stringify(e)).join('\n') + '\n';

/** The stdout bytes the log holds for one session, concatenated in log order. */
function stdoutOf(events: KubewireEvent[], session: string): { bytes: Buffer; chunks: Buffer[] } {
  const chunks = events
    .filter((e): e is Extract<KubewireEvent, { type: 'k8s.data' }> => e.type === 'k8s.data' && e.session === session && e.stream === 'stdout' && e.dir === 's2c' && e.size > 0)
    .map((e) => Buffer.from(e.payload ?? '', 'base64'));
  return { bytes: Buffer.concat(chunks), chunks };
}

async function replay(files: string[], extra: { session?: string; speed?: number; maxIdle?: number } = {}, out = new Recorder()) {
  const err = new Lines();
  const errStream = new Recorder();
  const code = await runReplay({ files, speed: 1000, ...extra }, out, errStream, err);
  return { code, out, err: err.lines, errBytes: errStream.bytes };
}

async function usageError(p: Promise<unknown>): Promise<CliError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(CliError);
  expect((e as CliError).exitCode).toBe(2);
  return e as CliError;
}

describe.runIf(vectorsAvailable())('kubewire replay of recorded kubectl sessions', () => {
  for (const vector of ['kubectl1.30-exec-tty-ws-v5', 'kubectl1.33-exec-tty-spdy', 'kubectl1.27-exec-tty-spdy']) {
    it(`writes the stdout of ${vector} byte for byte, one write per recorded chunk, and exits with its code`, async () => {
      const file = fresh('tty.jsonl');
      writeRecordedLog(file, [{ vector, session: 'tty-session-0001' }]);
      const events = recordedEvents([{ vector, session: 'tty-session-0001' }]);
      const expected = stdoutOf(events, 'tty-session-0001');
      const { code, out, err } = await replay([file]);
      expect(out.bytes.equals(expected.bytes)).toBe(true);
      expect(out.writes.map((w) => w.length)).toEqual(expected.chunks.map((c) => c.length));
      // And it is what kubectl really received (the vector's own digest of the stdout stream).
      const summary = loadVector(vector).expectedSummary.streams['stdout']!;
      expect(out.bytes.length).toBe(summary.bytes);
      expect(createHash('sha256').update(out.bytes).digest('hex')).toBe(summary.sha256);
      expect(code).toBe(loadVector(vector).expectedSummary.exitCode);
      expect(err.at(-1)).toBe(`kubewire: session tty-sess… ended with exit code ${code}`);
    });
  }

  it('takes the bytes from the SPDY fallback when the WebSocket attempt of the same session was refused', async () => {
    const file = fresh('fallback.jsonl');
    const conns = [
      { vector: 'kubectl1.33-exec-fb-403-ws-rejected-403', session: 'fb' },
      { vector: 'kubectl1.33-exec-fb-403-spdy-c2', session: 'fb' },
    ];
    writeFileSync(file, jsonl(recordedEvents(conns)));
    const { code, out, err } = await replay([file]);
    expect(out.bytes.toString()).toBe('hi\n');
    expect(code).toBe(0);
    expect(err.at(-1)).toBe('kubewire: session fb ended with exit code 0');
  });

  it('exits 0 and says so when the session recorded no exit code', async () => {
    const file = fresh('nostatus.jsonl');
    writeFileSync(file, jsonl(recordedEvents([{ vector: 'kubectl1.33-exec-end-ws-nostatus-close-ws-v5', session: 'ns' }])));
    const { code, out, err } = await replay([file]);
    expect(out.bytes.length).toBe(3);
    expect(code).toBe(0);
    expect(err.at(-1)).toMatch(/^kubewire: session ns ended; no exit code was recorded .*exiting 0$/);
  });

  it('picks the only terminal session, lists sessions when there are several, and refuses port-forward', async () => {
    const file = fresh('many.jsonl');
    const events = recordedEvents([
      { vector: 'kubectl1.30-exec-tty-ws-v5', session: '3f2a9c01-aaaa-4bbb-8ccc-000000000001' },
      { vector: 'kubectl1.33-exec-exit3-ws-v5', session: '7d10e2b4-aaaa-4bbb-8ccc-000000000002' },
      { vector: 'kubectl1.33-portforward-spdy', session: 'pf-session' },
    ]);
    writeFileSync(file, jsonl(events));

    const ambiguous = await usageError(replay([file]));
    expect(ambiguous.code).toBe('KW_ERR_SESSION_AMBIGUOUS');
    expect(ambiguous.message).toContain('--session');
    expect(ambiguous.message).toContain('3f2a9c01-aaaa-4bbb-8ccc-000000000001');
    expect(ambiguous.message).toContain('7d10e2b4-aaaa-4bbb-8ccc-000000000002');
    expect(ambiguous.message).toMatch(/3f2a9c01-\S+ {2}2026-11-21T10:00:00\.003000Z {2}default\/p1 {2}sh/);

    // A unique prefix is enough.
    const picked = await replay([file], { session: '7d10' });
    expect(picked.code).toBe(3);
    expect(picked.out.bytes.equals(stdoutOf(events, '7d10e2b4-aaaa-4bbb-8ccc-000000000002').bytes)).toBe(true);
    // stderr chunks go to stderr.
    expect(picked.errBytes.toString()).toMatch(/\S/);
    expect(picked.errBytes.length).toBe(loadVector('kubectl1.33-exec-exit3-ws-v5').expectedSummary.streams['stderr']!.bytes);

    const pf = await usageError(replay([file], { session: 'pf-session' }));
    expect(pf.code).toBe('KW_ERR_SESSION_NOT_TERMINAL');
    expect(pf.message).toContain('port-forward');
    expect(pf.message).toContain('--format har');

    const missing = await usageError(replay([file], { session: 'nope' }));
    expect(missing.code).toBe('KW_ERR_SESSION_NOT_FOUND');

    const onlyPf = fresh('pf.jsonl');
    writeFileSync(onlyPf, jsonl(recordedEvents([{ vector: 'kubectl1.33-portforward-spdy', session: 'pf-only' }])));
    const none = await usageError(replay([onlyPf]));
    expect(none.code).toBe('KW_ERR_NO_TERMINAL_SESSION');
    expect(none.message).toContain('pf-only');
  });

  it('warns how many output bytes a --payload head log lacks, then plays what it kept', async () => {
    const file = fresh('head.jsonl');
    const events = recordedEvents([{ vector: 'kubectl1.33-exec-cpoutbig-spdy', session: 'big' }], 'head', 0);
    writeFileSync(file, jsonl(events));
    const kept = stdoutOf(events, 'big').bytes;
    const total = loadVector('kubectl1.33-exec-cpoutbig-spdy').expectedSummary.streams['stdout']!.bytes;
    const { code, out, err } = await replay([file]);
    expect(out.bytes.equals(kept)).toBe(true);
    expect(kept.length).toBeLessThan(total);
    const warning = err.find((l) => l.includes('warning'));
    expect(warning).toContain(`${total - kept.length} of ${total} output bytes`);
    expect(warning).toContain('--audit');
    expect(warning).toContain('--payload full');
    expect(code).toBe(0);
  });

  it('reads an audit log in rotated parts, with its chain records, and names a bad line by file and line', async () => {
    const events = recordedEvents([{ vector: 'kubectl1.33-exec-tty-ws-v5', session: 'audited' }]);
    const stamper = new EventStamper();
    const linker = new ChainLinker(null);
    const chain = chainInfo(null);
    const record = (body: Record<string, unknown>, session?: string): string =>
      linker.link(stamper.stamp(body as unknown as EventBody, 'audit', { ts: timestampMicros(START_MS), ...(session ? { session } : {}) })).line;
    // The events again, numbered after audit.start as one chain.
    const relink = (e: KubewireEvent): string => {
      const { v: _v, seq: _seq, ts, session, conn, note, ...body } = e;
      return linker.link(stamper.stamp(body as EventBody, note, { ...(ts ? { ts } : {}), ...(session ? { session } : {}), ...(conn ? { conn } : {}) })).line;
    };
    const half = Math.floor(events.length / 2);
    const part1 = [record({ type: 'audit.start', chain, identity: {}, os: {}, kubewire: {}, cluster: { server: 'https://10.0.0.1:6443', context: null, via: 'kubeconfig' }, redactStdin: 'none', failMode: 'closed', maxSize: 4096 })];
    part1.push(...events.slice(0, half).map(relink));
    part1.push(record({ type: 'audit.seal', scope: 'file', count: part1.length, last: linker.last, part: 1, final: false }));
    const part2 = [record({ type: 'audit.file', part: 2, chain, previousFile: 'a-0001.jsonl', previousHash: linker.last })];
    part2.push(...events.slice(half).map(relink));
    part2.push(record({ type: 'audit.session', kubectlCommand: 'kubectl exec', operation: 'exec' }, 'audited'));
    part2.push(record({ type: 'audit.seal', scope: 'session', count: events.length + 1, last: linker.last }, 'audited'));
    part2.push(record({ type: 'audit.seal', scope: 'file', count: part2.length, last: linker.last, part: 2, final: true }));
    const f1 = fresh('a-0001.jsonl');
    const f2 = fresh('a-0002.jsonl');
    writeFileSync(f1, part1.join('\n') + '\n');
    // A line cut short in the middle of part 2 (a crash while writing) is skipped and named.
    writeFileSync(f2, [part2[0], '{"v":1,"seq":', ...part2.slice(1)].join('\n') + '\n');

    const { code, out, err } = await replay([f1, f2]);
    expect(out.bytes.equals(stdoutOf(events, 'audited').bytes)).toBe(true);
    expect(code).toBe(5);
    expect(err).toContain(`kubewire: ${f2}:2: line is not JSON, skipped`);
  });

  it('waits for a slow output to drain and keeps every byte in order', async () => {
    const file = fresh('slow.jsonl');
    writeRecordedLog(file, [{ vector: 'kubectl1.33-exec-tty-ws-v5', session: 's' }]);
    const slow = new Recorder(2, 1);
    const { out } = await replay([file], {}, slow);
    expect(out.bytes.equals(stdoutOf(recordedEvents([{ vector: 'kubectl1.33-exec-tty-ws-v5', session: 's' }]), 's').bytes)).toBe(true);
  });

  it('plays with the recorded pauses divided by --speed and capped by --max-idle', async () => {
    // The same session with 150 ms between events.
    const file = fresh('timed.jsonl');
    writeFileSync(file, jsonl(recordedEvents([{ vector: 'kubectl1.33-exec-exit3-ws-v5', session: 't' }], 'full', 150)));
    const timed = async (extra: { speed?: number; maxIdle?: number }): Promise<number> => {
      const started = performance.now();
      await replay([file], extra);
      return performance.now() - started;
    };
    const capped = await timed({ speed: 1, maxIdle: 0.01 });
    const fast = await timed({ speed: 3 });
    const slower = await timed({ speed: 1.5 });
    expect(fast).toBeGreaterThan(slower / 2 - 40);
    expect(slower).toBeGreaterThan(fast * 1.5);
    expect(capped).toBeLessThan(fast);
  });

  it('refuses a speed or idle limit it cannot use, and a log it cannot read', async () => {
    const file = fresh('any.jsonl');
    writeRecordedLog(file, [{ vector: 'kubectl1.33-exec-tty-ws-v5', session: 's' }]);
    expect((await usageError(replay([file], { speed: 0 }))).message).toContain('--speed');
    expect((await usageError(replay([file], { maxIdle: -1 }))).message).toContain('--max-idle');
    const gone = await usageError(replay([join(root, 'missing.jsonl')]));
    expect(gone.code).toBe('KW_ERR_LOG_UNREADABLE');
    expect(gone.message).toContain('missing.jsonl: no such file');
  });
});

describe.runIf(vectorsAvailable())('the sessions of a log, as the session model tells them', () => {
  const scan = (events: KubewireEvent[]): SessionInfo[] => {
    const scanner = new SessionScanner();
    for (const e of events) scanner.push(e);
    return scanner.sessions();
  };

  it('kubectl cp: the tar exec is the stream, with its exit 0 and its stdin, not the test -d probe that exited 1', () => {
    const [cp] = scan(recordedEvents([
      { vector: 'kubectl1.33-exec-cpin-ws-v5', session: 'cp' },
      { vector: 'kubectl1.33-exec-cpin-ws-v5-c2', session: 'cp' },
    ]));
    expect(cp).toMatchObject({ id: 'cp', kind: 'cp', dataConn: 'c2', connections: ['c1', 'c2'], exitCode: 0, status: 'Success', transport: 'websocket', kubectlCommand: 'kubectl cp' });
    expect(cp!.command[0]).toBe('tar');
    expect(cp!.input.bytes).toBe(loadVector('kubectl1.33-exec-cpin-ws-v5-c2').expectedSummary.streams['stdin']!.bytes);
    expect(cp!.input.chunks).toBeGreaterThan(0);
    expect(cp!.output.chunks).toBe(0);
  });

  it('a refused WebSocket attempt and its SPDY fallback: the fallback is the stream, its output counted', () => {
    const [fb] = scan(recordedEvents([
      { vector: 'kubectl1.33-exec-fb-403-ws-rejected-403', session: 'fb' },
      { vector: 'kubectl1.33-exec-fb-403-spdy-c2', session: 'fb' },
    ]));
    expect(fb).toMatchObject({ kind: 'exec', dataConn: 'c2', transport: 'spdy', exitCode: 0, output: { chunks: 1, bytes: 3, missingBytes: 0 } });
  });

  it('lists every session of a log that holds more than the session model keeps at once, in order of their start', () => {
    const one = recordedEvents([{ vector: 'kubectl1.33-exec-exit3-ws-v5', session: 'x' }]);
    const sessions = DEFAULT_MAX_SESSIONS + 100;
    const stamper = new EventStamper();
    const events: KubewireEvent[] = [];
    for (let i = 0; i < sessions; i++) {
      for (const e of one) {
        const { v: _v, seq: _seq, ts: _ts, session: _s, conn: _c, note, ...body } = e;
        events.push(stamper.stamp(body as EventBody, note, { ts: timestampMicros(START_MS + events.length * 2), session: `s${i}`, conn: `c${i}` }));
      }
    }
    const found = scan(events);
    expect(found).toHaveLength(sessions);
    expect(found.map((s) => s.id).slice(0, 3)).toEqual(['s0', 's1', 's2']);
    expect(found.every((s) => s.exitCode === 3 && s.dataConn === s.id.replace('s', 'c'))).toBe(true);
  });
});

describe('replay schedule', () => {
  const out = (tsUs: number, text: string, stream: 'stdout' | 'stderr' = 'stdout'): TerminalChunk =>
    ({ kind: 'output', seq: 0, tsUs, stream, bytes: Buffer.from(text), size: text.length });
  const chunks: TerminalChunk[] = [
    out(1_000_000, 'a'),
    { kind: 'resize', seq: 0, tsUs: 1_500_000, width: 1, height: 1 },
    out(2_000_000, 'b', 'stderr'),
    out(7_000_000, 'c'),
    { kind: 'output', seq: 0, tsUs: 8_000_000, stream: 'stdout', bytes: Buffer.alloc(0), size: 9 },
    out(8_500_000, 'd'),
  ];

  it('takes delays from the timestamps, one step per output chunk, on the chunk stream', () => {
    const steps = replaySchedule(chunks, {}, 0);
    expect(steps.map((s) => [s.delayMs, s.stream, s.bytes.toString()])).toEqual([
      [1000, 'stdout', 'a'], [1000, 'stderr', 'b'], [5000, 'stdout', 'c'], [1500, 'stdout', 'd'],
    ]);
  });

  it('divides by --speed, then caps each delay at --max-idle', () => {
    expect(replaySchedule(chunks, { speed: 2 }, 0).map((s) => s.delayMs)).toEqual([500, 500, 2500, 750]);
    expect(replaySchedule(chunks, { speed: 2, maxIdleSeconds: 1 }, 0).map((s) => s.delayMs)).toEqual([500, 500, 1000, 750]);
    expect(replaySchedule(chunks, { maxIdleSeconds: 0 }, 0).map((s) => s.delayMs)).toEqual([0, 0, 0, 0]);
  });

  it('rejects a speed that is not above 0', () => {
    expect(() => replaySchedule(chunks, { speed: -1 }, 0)).toThrow(/--speed/);
  });
});
