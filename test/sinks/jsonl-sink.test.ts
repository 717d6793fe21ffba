import Ajv2020 from 'ajv/dist/2020.js';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { halfWrites, recordWriteSizes } from '../support/file-writes.js';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { CliError } from '../../src/io/errors.js';
import { EventBus } from '../../src/events/event-bus.js';
import { noteFor } from '../../src/events/notes.js';
import { EVENT_SCHEMA } from '../../src/events/schema.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { EventBody, KubewireEvent } from '../../src/events/types.js';
import { defaultLogPath, JsonlSink, LINGER_BYTES, LINGER_MS } from '../../src/sinks/jsonl-sink.js';

// ajv is CommonJS: under NodeNext the default import is the module object for TypeScript.
const Ajv = Ajv2020 as unknown as typeof Ajv2020.default;
const validate = new Ajv({ strict: true, allErrors: true }).compile(EVENT_SCHEMA);

const root = mkdtempSync(join(tmpdir(), 'kubewire-jsonl-'));
afterAll(() => {
  chmodAll(root);
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
const fresh = (): string => join(root, `case-${++n}`);
const isRoot = process.getuid?.() === 0;

function chmodAll(dir: string): void {
  try {
    chmodSync(dir, 0o700);
  } catch {
    // already gone
  }
}

const stamper = new EventStamper();
function event(i: number, payloadBytes = 16): KubewireEvent {
  const raw = Buffer.alloc(payloadBytes, i & 0xff);
  const body: EventBody = { type: 'k8s.data', dir: 's2c', offset: i * payloadBytes, channel: 1, stream: 'stdout', size: raw.length, payload: raw.toString('base64') };
  return stamper.stamp(body, noteFor(body, raw), { ts: timestampMicros(Date.now(), 5), session: 'sess', conn: 'conn-1' });
}

afterEach(() => vi.restoreAllMocks());

/** Events with payloads of every size up to `max` bytes, of varied content. */
function payloadEvents(n: number, max: number, seed = 1): KubewireEvent[] {
  let x = seed;
  const next = (): number => (x = (x * 1103515245 + 12345) & 0x7fffffff);
  return Array.from({ length: n }, (_, i) => {
    const raw = Buffer.alloc(next() % (max + 1));
    for (let k = 0; k < raw.length; k += 97) raw[k] = next() & 0xff;
    const body: EventBody = { type: 'k8s.data', dir: 's2c', offset: i, channel: 1, stream: 'stdout', size: raw.length, payload: raw.toString('base64') };
    return stamper.stamp(body, `π ${i} \u{1f600}`, { ts: timestampMicros(Date.now(), 5), session: 's', conn: 'c' });
  });
}

async function writeAll(sink: JsonlSink, events: KubewireEvent[]): Promise<void> {
  for (const e of events) if (!sink.write(e)) await new Promise<void>((resolve) => sink.onDrain(resolve));
  await sink.close();
}

const readLines = (path: string): unknown[] =>
  readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);

async function openError(path: string): Promise<CliError> {
  const e = await JsonlSink.open(path).then(
    () => { throw new Error(`opened ${path}`); },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CliError);
  expect((e as CliError).code).toBe('KW_ERR_LOG_UNWRITABLE');
  expect((e as CliError).message).toContain(path);
  return e as CliError;
}

describe('JsonlSink', () => {
  it('creates a 0700 directory and a 0600 file with one schema-valid JSON line per event', async () => {
    const dir = join(fresh(), 'state', 'logs');
    const path = join(dir, 'run.jsonl');
    const sink = await JsonlSink.open(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (let i = 0; i < 100; i++) expect(sink.write(event(i))).toBe(true);
    await sink.close();
    const lines = readLines(path);
    expect(lines).toHaveLength(100);
    for (const line of lines) expect(validate(line), JSON.stringify(validate.errors)).toBe(true);
    expect(lines[0]).toMatchObject({ type: 'k8s.data', session: 'sess', conn: 'conn-1' });
  });

  it('appends to an existing file and makes it 0600', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const path = join(dir, 'old.jsonl');
    writeFileSync(path, '{"old":true}\n', { mode: 0o644 });
    chmodSync(path, 0o644);
    const sink = await JsonlSink.open(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    sink.write(event(1));
    await sink.close();
    const lines = readLines(path);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual({ old: true });
  });

  it('refuses a directory', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const e = await openError(dir);
    expect(e.message).toMatch(/is a directory/);
  });

  it('refuses a path under a regular file (ENOTDIR)', async () => {
    const file = fresh();
    writeFileSync(file, 'x');
    const e = await openError(join(file, 'logs', 'x.jsonl'));
    expect(e.message).toMatch(/not a directory|ENOTDIR|EEXIST/);
  });

  // Node's own recursive mkdir loops forever here; the sink must answer at once.
  it.skipIf(!existsSync('/proc/self'))('refuses a path in /proc', async () => {
    await openError('/proc/self/kubewire-test/x.jsonl');
  }, 5000);

  it.skipIf(isRoot)('refuses a read-only directory (permission denied)', async () => {
    const dir = fresh();
    mkdirSync(dir);
    chmodSync(dir, 0o500);
    const e = await openError(join(dir, 'x.jsonl'));
    expect(e.message).toMatch(/permission denied/);
    chmodSync(dir, 0o700);
  });

  it.skipIf(!existsSync('/dev/full'))('reports a later write error (disk full) once, never throws, and stops holding writers', async () => {
    const before = statSync('/dev/full').mode;
    const sink = await JsonlSink.open('/dev/full', { maxBytes: 1024 });
    expect(statSync('/dev/full').mode).toBe(before); // not a regular file: not chmodded
    const errors: CliError[] = [];
    sink.onError((e) => errors.push(e));
    for (let i = 0; i < 50; i++) sink.write(event(i, 64));
    await new Promise<void>((resolve) => sink.onDrain(resolve));
    await new Promise((r) => setTimeout(r, 20));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('KW_ERR_LOG_UNWRITABLE');
    expect(errors[0]!.message).toMatch(/\/dev\/full: disk full/);
    expect(sink.write(event(99))).toBe(true);
    await sink.close();
    expect(errors).toHaveLength(1);
    expect(sink.lostEvents).toBeGreaterThan(0);
  });

  it('tells a listener registered late about an error that already happened', async () => {
    if (!existsSync('/dev/full')) return;
    const sink = await JsonlSink.open('/dev/full');
    sink.write(event(1));
    await sink.close();
    const errors: CliError[] = [];
    sink.onError((e) => errors.push(e));
    expect(errors).toHaveLength(1);
  });

  it('returns false above its bound and calls drain listeners once it caught up; nothing is lost', async () => {
    const path = join(fresh(), 'bp.jsonl');
    const sink = await JsonlSink.open(path, { maxBytes: 4096, maxLines: 1000 });
    let i = 0;
    while (sink.write(event(i++, 256))) {
      if (i > 1000) throw new Error('never behind');
    }
    let drained = 0;
    await new Promise<void>((resolve) => sink.onDrain(() => { drained++; resolve(); }));
    expect(drained).toBe(1);
    expect(sink.write(event(i++, 16))).toBe(true);
    await sink.close();
    const lines = readLines(path) as KubewireEvent[];
    expect(lines).toHaveLength(i);
  });

  it('bounds the queue by lines too', async () => {
    const path = join(fresh(), 'lines.jsonl');
    const sink = await JsonlSink.open(path, { maxLines: 3 });
    const results = Array.from({ length: 50 }, (_, k) => sink.write(event(k, 1)));
    expect(results).toContain(false);
    await sink.close();
    expect(readLines(path)).toHaveLength(50);
  });

  it('holds a lossless bus until the log caught up, and loses nothing', async () => {
    const path = join(fresh(), 'lossless.jsonl');
    const sink = await JsonlSink.open(path, { maxBytes: 16 * 1024, name: 'log' });
    const bus = new EventBus({ lossless: true });
    bus.addSink(sink);
    let pauses = 0;
    for (let i = 0; i < 2000; i++) {
      const raw = Buffer.alloc(512, i & 0xff);
      const body: EventBody = { type: 'k8s.data', dir: 'c2s', offset: i * 512, channel: 0, stream: 'stdin', size: 512, payload: raw.toString('base64') };
      bus.publish(body, noteFor(body, raw), { session: 's', conn: 'c' });
      if (!bus.writable) {
        pauses++;
        await new Promise<void>((resolve) => bus.onWritable(resolve));
      }
    }
    await bus.close();
    const lines = readLines(path) as KubewireEvent[];
    expect(pauses).toBeGreaterThan(0);
    expect(bus.dropped).toBe(0);
    expect(lines.filter((e) => e.type === 'k8s.data')).toHaveLength(2000);
    expect(lines.map((e) => e.seq)).toEqual(lines.map((_, k) => k + 1));
    const bp = lines.filter((e) => e.type === 'sink.backpressure');
    expect(bp.length).toBeGreaterThanOrEqual(2);
    expect(bp[0]).toMatchObject({ sink: 'log', state: 'paused' });
    expect(bp[1]).toMatchObject({ sink: 'log', state: 'resumed' });
    for (const e of bp) expect(validate(e), JSON.stringify(validate.errors)).toBe(true);
  });
});

describe('JsonlSink: batched writes', () => {
  it('writes the events published in one go with one write', async () => {
    const dir = fresh();
    const path = join(dir, 'one.jsonl');
    const sink = await JsonlSink.open(path);
    const sizes = await recordWriteSizes(dir);
    const events = Array.from({ length: 200 }, (_, i) => event(i, 100));
    for (const e of events) sink.write(e);
    await sink.close();
    expect(sizes).toHaveLength(1);
    expect(readLines(path)).toEqual(JSON.parse(JSON.stringify(events)));
  });

  it('writes at most about 1 MiB at a time, and every line as JSON.stringify would, across reused memory', async () => {
    const dir = fresh();
    const path = join(dir, 'many.jsonl');
    const sink = await JsonlSink.open(path, { maxBytes: 2 * 1024 * 1024 });
    const sizes = await recordWriteSizes(dir);
    const events = payloadEvents(1500, 48 * 1024);
    await writeAll(sink, events);
    expect(readLines(path)).toEqual(JSON.parse(JSON.stringify(events)));
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(total).toBe(statSync(path).size);
    // Far fewer writes than lines, none above the batch size.
    expect(sizes.length).toBeGreaterThan(total / (1024 * 1024));
    expect(sizes.length).toBeLessThan(events.length / 5);
    for (const n of sizes) expect(n).toBeLessThanOrEqual(1024 * 1024);
  });

  /** A sink whose write sizes are recorded, run with fake timers (the linger's) for `body`. */
  async function withLingerClock(body: (sink: JsonlSink, path: string, sizes: number[]) => Promise<void>): Promise<void> {
    const dir = fresh();
    const path = join(dir, 'linger.jsonl');
    const sink = await JsonlSink.open(path);
    const sizes = await recordWriteSizes(dir);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      await body(sink, path, sizes);
    } finally {
      vi.useRealTimers();
    }
    await sink.close();
  }

  it('lets short lines linger LINGER_MS, then writes what came meanwhile in one write', async () => {
    await withLingerClock(async (sink, path, sizes) => {
      const first = Array.from({ length: 3 }, (_, i) => event(i, 100));
      for (const e of first) sink.write(e);
      await Promise.resolve();
      expect(sizes).toHaveLength(0);
      // More lines within the linger join the same write.
      const more = Array.from({ length: 3 }, (_, i) => event(3 + i, 100));
      for (const e of more) sink.write(e);
      await vi.advanceTimersByTimeAsync(LINGER_MS - 1);
      expect(sizes).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(sizes).toHaveLength(1);
      expect(readLines(path)).toEqual(JSON.parse(JSON.stringify([...first, ...more])));
    });
  });

  it('writes at once when LINGER_BYTES wait, and close does not wait for the linger', async () => {
    await withLingerClock(async (sink, path, sizes) => {
      // One short line lingers; a long one behind it brings the backlog past LINGER_BYTES.
      const short = event(0, 100);
      const long = event(1, LINGER_BYTES);
      sink.write(short);
      await Promise.resolve();
      expect(sizes).toHaveLength(0);
      sink.write(long);
      await Promise.resolve();
      await Promise.resolve();
      expect(sizes).toHaveLength(1);
      // Closing writes a lingering line without waiting for its timer.
      const last = event(2, 100);
      sink.write(last);
      await sink.close();
      expect(readLines(path)).toEqual(JSON.parse(JSON.stringify([short, long, last])));
    });
  });

  it('finishes a short write with the rest, in order', async () => {
    const dir = fresh();
    const path = join(dir, 'short.jsonl');
    const sink = await JsonlSink.open(path, { maxBytes: 256 * 1024 });
    await halfWrites(dir);
    const events = payloadEvents(300, 4096, 2);
    await writeAll(sink, events);
    vi.restoreAllMocks();
    expect(readLines(path)).toEqual(JSON.parse(JSON.stringify(events)));
  });
});

describe('defaultLogPath', () => {
  it('is <stateDir>/logs/kubewire-YYYYMMDD-HHMMSS-<pid>.jsonl in local time', () => {
    const at = new Date(2026, 10, 21, 9, 5, 7);
    expect(defaultLogPath('/state/kubewire', at)).toBe(`/state/kubewire/logs/kubewire-20261121-090507-${process.pid}.jsonl`);
    expect(defaultLogPath('/s', at, 42)).toBe('/s/logs/kubewire-20261121-090507-42.jsonl');
  });
});
