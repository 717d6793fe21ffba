/**
 * The links between the runs of a file store's replica (src/store/run-link.ts): each run's
 * `audit.start` names the run before it and that run's last record, and `verify --store DIR`
 * reports a run removed between two others, the oldest runs removed (by retention: told, and a
 * failure only with --full-history), a link rewritten, a run without a link; replicas never link
 * across each other, and a run that died without its seal is linked by its last whole line.
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync, truncateSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runVerify } from '../../src/cli/verify-command.js';
import { EVENT_SCHEMA } from '../../src/events/schema.js';
import type { AuditRunLink, AuditStartEvent } from '../../src/events/types.js';
import { checkRunLinks } from '../../src/store/run-link.js';
import { rechainAuditLog } from '../support/audit-log.js';
import { logParts } from '../support/audit-records.js';
import { Lines } from '../support/lines-output.js';
import { openStoreRun } from '../support/store-run.js';

const tmp = mkdtempSync(join(tmpdir(), 'kubewire-runlink-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Runs are named by their start, to the second: each run of a test starts a minute after the last.
let clock = Date.parse('2026-03-01T10:00:00Z');
beforeEach(() => void vi.useFakeTimers({ toFake: ['Date'] }));
afterEach(() => void vi.useRealTimers());

/** One run of `replica` written through the store's writer, sealed and closed; its files. */
async function writeRun(dir: string, replica: string, opts: { maxSize?: number; records?: number } = {}): Promise<string[]> {
  clock += 60_000;
  vi.setSystemTime(clock);
  const { bus, sink, publish } = await openStoreRun(dir, replica, { maxSize: opts.maxSize ?? null, scratch: tmp });
  for (let i = 0; i < (opts.records ?? 1); i++) {
    const b = Buffer.from(`hello ${i}\n`);
    publish({ type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: b.length, payload: b.toString('base64') }, { session: 's1', conn: 'c1' });
  }
  publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 's1' });
  publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
  await bus.close();
  const first = sink.path;
  return first.endsWith('-0001.jsonl') ? logParts(join(dir, replica), basename(first).replace(/-0001\.jsonl$/, '')) : [first];
}

function records(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const startOf = (files: string[]): AuditStartEvent & { note: string } => records(files[0]!)[0] as unknown as AuditStartEvent & { note: string };
const lastHashOf = (files: string[]): string => records(files.at(-1)!).at(-1)!['hash'] as string;

async function verifyDir(dir: string, opts: { fullHistory?: boolean; json?: boolean } = {}): Promise<{ rc: number; lines: string[] }> {
  const out = new Lines();
  const err = new Lines();
  const rc = await runVerify({ files: [], store: dir, ...opts }, out, err);
  return { rc, lines: [...out.lines, ...err.lines] };
}

/** A store with three sealed runs of replica gw-a. */
async function threeRuns(name: string): Promise<{ dir: string; runs: string[][] }> {
  const dir = join(tmp, name);
  const runs = [await writeRun(dir, 'gw-a'), await writeRun(dir, 'gw-a'), await writeRun(dir, 'gw-a')];
  return { dir, runs };
}

describe('file store runs link to the run before', () => {
  it('each audit.start names the run before and its last record; three runs verify with no other line', async () => {
    const { dir, runs } = await threeRuns('three');
    expect(startOf(runs[0]!).previousRun).toBeNull();
    expect(startOf(runs[1]!).previousRun).toEqual({ file: basename(runs[0]![0]!), lastHash: lastHashOf(runs[0]!) });
    expect(startOf(runs[2]!).previousRun).toEqual({ file: basename(runs[1]![0]!), lastHash: lastHashOf(runs[1]!) });
    // The records validate against the event schema, the link included.
    const validate = new (Ajv2020 as unknown as typeof Ajv2020.default)({ strict: true, allErrors: true }).compile(EVENT_SCHEMA);
    for (const r of runs.flatMap((files) => records(files[0]!))) expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
    // The link's run is in the record's note too.
    expect(startOf(runs[1]!).note).toContain(`after run ${basename(runs[0]![0]!)}`);
    const v = await verifyDir(dir);
    expect(v.lines[0]).toMatch(/^consistent, unauthenticated: replica gw-a: 3 runs/);
    expect(v.lines.filter((l) => l.startsWith('note: replica') || l.startsWith('unlinked') || l.startsWith('tampered'))).toEqual([]);
    expect(v.rc).toBe(0);
  });

  it('a run removed between two others is a gap naming the runs around it (exit 1), also in --json', async () => {
    const { dir, runs } = await threeRuns('middle');
    unlinkSync(runs[1]![0]!);
    const v = await verifyDir(dir);
    const [a, b, c] = runs.map((r) => basename(r[0]!));
    expect(v.lines).toContain(`tampered: replica gw-a: runs were removed between ${a} and ${c}: ${c} links to ${b}, which is not in the store`);
    expect(v.lines.some((l) => l.startsWith('consistent'))).toBe(false);
    expect(v.rc).toBe(1);
    const json = await verifyDir(dir, { json: true });
    const replica = (JSON.parse(json.lines[0]!) as { replicas: { status: string; links: { kind: string; failure: boolean; run: string; previous: string }[] }[] }).replicas[0]!;
    expect(replica.status).toBe('tampered');
    expect(replica.links).toMatchObject([{ kind: 'gap', failure: true, run: c, previous: a }]);
    expect(json.rc).toBe(1);
  });

  it('the oldest runs removed (retention): where the history starts is told, exit 0; with --full-history it fails', async () => {
    const { dir, runs } = await threeRuns('retention');
    unlinkSync(runs[0]![0]!);
    const [a, b] = runs.map((r) => basename(r[0]!));
    const v = await verifyDir(dir);
    expect(v.lines[0]).toMatch(/^consistent, unauthenticated: replica gw-a: 2 runs/);
    expect(v.lines).toContain(`note: replica gw-a: history starts at run ${b}, which links to ${a} (not present): the runs before it were removed (by a retention job, or otherwise; --full-history makes that a failure)`);
    expect(v.rc).toBe(0);
    const full = await verifyDir(dir, { fullHistory: true });
    expect(full.lines).toContain(`tampered: replica gw-a: history starts at run ${b}, which links to ${a} (not present): the runs before it were removed (--full-history)`);
    expect(full.rc).toBe(1);
  });

  it('a link rewritten, and the run re-hashed without a key, is reported against the run before\'s real last hash', async () => {
    const { dir, runs } = await threeRuns('edited');
    const forged = 'f'.repeat(64);
    rechainAuditLog(runs[2]!, {
      key: null,
      edit: (r) => (r['type'] === 'audit.start' ? { ...r, previousRun: { ...(r['previousRun'] as AuditRunLink), lastHash: forged } } : r),
    });
    const real = lastHashOf(runs[1]!);
    const [, b, c] = runs.map((r) => basename(r[0]!));
    const v = await verifyDir(dir);
    expect(v.lines).toContain(`tampered: replica gw-a: run ${c} links to ${b} as ending with the record ${forged.slice(0, 12)}…, but ${b} ends with the record ${real.slice(0, 12)}…: the end of ${b} was changed or cut after ${c} began, or the link was rewritten`);
    expect(v.rc).toBe(1);
  });

  it('a run written without the link (an older kubewire) is unlinked, not tampered', async () => {
    const { dir, runs } = await threeRuns('older');
    rechainAuditLog(runs[1]!, { key: null, edit: (r) => { const { previousRun: _p, ...rest } = r; return rest; } });
    rechainAuditLog(runs[2]!, { key: null, edit: (r) => (r['type'] === 'audit.start' ? { ...r, previousRun: { file: basename(runs[1]![0]!), lastHash: lastHashOf(runs[1]!) } } : r) });
    const v = await verifyDir(dir);
    expect(v.lines[0]).toMatch(/^consistent, unauthenticated: replica gw-a: 3 runs/);
    expect(v.lines).toContain(`unlinked: replica gw-a: run ${basename(runs[1]![0]!)} carries no link to the run before it (${basename(runs[0]![0]!)}): it was written by a kubewire that did not link runs, so a run removed before it would not be noticed`);
    expect(v.rc).toBe(0);
  });

  it('two replicas do not link across each other', async () => {
    const dir = join(tmp, 'two');
    const a1 = await writeRun(dir, 'gw-a');
    const b1 = await writeRun(dir, 'gw-b');
    const a2 = await writeRun(dir, 'gw-a');
    const b2 = await writeRun(dir, 'gw-b');
    expect(startOf(b1).previousRun).toBeNull();
    expect(startOf(a2).previousRun).toEqual({ file: basename(a1[0]!), lastHash: lastHashOf(a1) });
    expect(startOf(b2).previousRun).toEqual({ file: basename(b1[0]!), lastHash: lastHashOf(b1) });
    const v = await verifyDir(dir);
    expect(v.lines.slice(0, 2).map((l) => l.replace(/:.*/, ''))).toEqual(['consistent, unauthenticated', 'consistent, unauthenticated']);
    expect(v.lines.filter((l) => /^(note: replica|unlinked|tampered)/.test(l))).toEqual([]);
    expect(v.rc).toBe(0);
  });

  it('a run that died without its seal (its last line cut) is linked by its last whole record', async () => {
    const dir = join(tmp, 'crash');
    const crashed = await writeRun(dir, 'gw-a');
    // The writer died while writing its final seal: half of that line is on disk, no newline.
    const lines = readFileSync(crashed[0]!, 'utf8').split('\n').filter(Boolean);
    const size = statSync(crashed[0]!).size;
    truncateSync(crashed[0]!, size - Math.ceil(lines.at(-1)!.length / 2) - 1);
    const whole = JSON.parse(lines.at(-2)!) as { hash: string };
    const next = await writeRun(dir, 'gw-a');
    expect(startOf(next).previousRun).toEqual({ file: basename(crashed[0]!), lastHash: whole.hash });
    const v = await verifyDir(dir);
    // The crashed run itself is reported (it ends without its seal); its link is not.
    expect(v.lines).toHaveLength(1);
    expect(v.lines[0]).toMatch(/^tampered: replica gw-a: .*cut short/);
  });

  it('a rotated run is named by its first part and linked by the last record of its last part', async () => {
    const dir = join(tmp, 'rotated');
    const rotated = await writeRun(dir, 'gw-a', { maxSize: 4096, records: 40 });
    expect(rotated.length).toBeGreaterThan(1);
    const next = await writeRun(dir, 'gw-a');
    expect(startOf(next).previousRun).toEqual({ file: basename(rotated[0]!), lastHash: lastHashOf(rotated) });
    expect(readdirSync(join(dir, 'gw-a')).filter((f) => f.endsWith('.lock'))).toEqual([]);
    const v = await verifyDir(dir);
    expect(v.lines[0]).toMatch(/^consistent, unauthenticated: replica gw-a: 2 runs/);
    expect(v.rc).toBe(0);
  });
});

describe('a run started while another process writes the replica', () => {
  it('says so on stderr: its link cannot be to that run\'s end', async () => {
    const dir = join(tmp, 'shared');
    // The lease counts as held only when touched within the last minute of the clock: real time here.
    const now = performance.timeOrigin + performance.now();
    vi.setSystemTime(now);
    const live = await openStoreRun(dir, 'gw-a', { scratch: tmp });
    await live.sink.flushed();
    vi.setSystemTime(now + 2000);
    const said: string[] = [];
    const second = await openStoreRun(dir, 'gw-a', { scratch: tmp, report: (line) => void said.push(line) });
    expect(said).toEqual([expect.stringMatching(/^kubewire: replica gw-a's run audit-\S+\.jsonl is being written by another process \(its \.lock is held\): give each process its own --audit-replica/)]);
    await second.bus.close();
    await live.bus.close();
  });
});

describe('checkRunLinks', () => {
  const run = (name: string, link: AuditRunLink | null | undefined, lastHash = name.slice(-1).repeat(64)) => ({ name, link, lastHash });
  it('a run that says it is the first after another, or links past the run before it, is a failure', () => {
    const a = 'audit-20260301T100000Z-1.jsonl';
    const b = 'audit-20260301T100100Z-1.jsonl';
    const c = 'audit-20260301T100200Z-1.jsonl';
    const found = checkRunLinks([run(a, null, '1'.repeat(64)), run(b, null), run(c, { file: a, lastHash: '1'.repeat(64) })], { fullHistory: false });
    expect(found.map((f) => [f.kind, f.failure, f.run, f.previous])).toEqual([
      ['not-first', true, b, a],
      ['order', true, c, b],
    ]);
    expect(found[1]!.message).toBe(`run ${c} links to ${a}, but the run before it is ${b}: ${b} was put in between`);
  });
});
