/**
 * The file store (`--audit-store DIR`) and `verify --store DIR` while a run is written: the run
 * holds its lease file (src/store/file-lease.ts) and is reported open; closed, it is sealed and
 * its lease gone; a lease left by a writer that is gone does not make a cut chain open.
 */
import { readdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSessions } from '../../src/cli/sessions-command.js';
import { runVerify } from '../../src/cli/verify-command.js';
import type { AuditSessionEvent } from '../../src/events/types.js';
import { FileStoreReader, MAX_MATCHES } from '../../src/store/store-reader.js';
import { Lines } from '../support/lines-output.js';
import { openStoreRun, type StoreRun } from '../support/store-run.js';

const tmp = mkdtempSync(join(tmpdir(), 'kubewire-filestore-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function verifyDir(dir: string): Promise<{ rc: number; out: string }> {
  const out = new Lines();
  const err = new Lines();
  const rc = await runVerify({ files: [], store: dir }, out, err);
  return { rc, out: [...out.lines, ...err.lines].join('\n') };
}

async function openRun(dir: string): Promise<StoreRun> {
  const run = await openStoreRun(dir, 'gw-f', { scratch: tmp });
  const b = Buffer.from('hello\n');
  run.publish({ type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: b.length, payload: b.toString('base64') }, { session: 's1', conn: 'c1' });
  await run.sink.flushed();
  return run;
}

describe('file store: a run being written', () => {
  it('is open while it holds its lease, consistent once closed (lease removed)', async () => {
    const dir = join(tmp, 'live');
    const run = await openRun(dir);
    const files = readdirSync(join(dir, 'gw-f'));
    expect(files.filter((f) => f.endsWith('.lock'))).toHaveLength(1);
    const open = await verifyDir(dir);
    expect(open.out).toMatch(/^open: replica gw-f: 1 run/);
    expect(open.rc).toBe(0);
    run.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 's1' });
    run.publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
    await run.bus.close();
    expect(readdirSync(join(dir, 'gw-f')).filter((f) => f.endsWith('.lock'))).toEqual([]);
    const done = await verifyDir(dir);
    expect(done.out).toMatch(/^consistent, unauthenticated: replica gw-f: 1 run/);
    expect(done.rc).toBe(0);
  });

  it('a lease left by a writer that is gone (or not touched for a minute) does not make a cut chain open', async () => {
    const dir = join(tmp, 'crashed');
    const run = await openRun(dir);
    const lock = readdirSync(join(dir, 'gw-f')).find((f) => f.endsWith('.lock'))!;
    // A pid that is not running on this host.
    writeFileSync(join(dir, 'gw-f', lock), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: new Date().toISOString() }));
    const gone = await verifyDir(dir);
    expect(gone.out).toMatch(/^tampered: replica gw-f: .*without the seal/);
    expect(gone.rc).toBe(1);
    // Another host's writer, whose lease was not touched for two minutes.
    writeFileSync(join(dir, 'gw-f', lock), JSON.stringify({ pid: 1, host: 'elsewhere', since: new Date().toISOString() }));
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(dir, 'gw-f', lock), old, old);
    expect((await verifyDir(dir)).rc).toBe(1);
    await run.bus.close();
  });
});

function sessionBody(pod: string, start: string): AuditSessionEvent {
  return {
    type: 'audit.session', kubectlVersion: null, userAgent: null, kubectlCommand: null, operation: 'exec', namespace: 'default', pod, container: null,
    command: ['id'], tty: false, stdin: false, start, end: start, durationMs: 0, connections: [], requests: 1, transport: 'websocket', protocol: null,
    bytes: { c2s: 0, s2c: 0 }, streams: { stdin: 0, stdout: 0, stderr: 0 }, exitCode: 0, status: null, findings: [], endedBy: 'idle',
  };
}

describe('kubewire sessions on a file store', () => {
  it('--limit shows the newest sessions, oldest first, with a note when more matched', async () => {
    const dir = join(tmp, 'limit');
    const run = await openRun(dir);
    for (let i = 1; i <= 3; i++) run.publish(sessionBody(`p${i}`, `2026-01-0${i}T00:00:00.000Z`), { session: `s${i}` });
    await run.bus.close();
    const out = new Lines();
    const err = new Lines();
    expect(await runSessions({ store: dir, limit: '2', json: true }, out, err)).toBe(0);
    expect(out.lines.map((l) => (JSON.parse(l) as { pod: string }).pod)).toEqual(['p2', 'p3']);
    expect(err.lines).toEqual([expect.stringMatching(/more than 2 sessions matched; these are the newest 2/)]);
    const all = new Lines();
    const none = new Lines();
    await runSessions({ store: dir, json: true }, all, none);
    expect(all.lines).toHaveLength(3);
    expect(none.lines).toEqual([]);
    await expect(runSessions({ store: dir, limit: 'x' }, new Lines(), new Lines())).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/--limit x/) });
  });

  it('a store directory that does not exist, or is a file, is one line with exit code 2', async () => {
    await expect(runSessions({ store: join(tmp, 'missing') }, new Lines(), new Lines())).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/--store .*missing: /) });
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    await expect(runSessions({ store: file }, new Lines(), new Lines())).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/not a directory/) });
  });
});

describe('the latest run of a file store, for watch', () => {
  it('names at most MAX_MATCHES sessions of a replica\'s latest run; follow says why a run without its seal ended', async () => {
    const dir = join(tmp, 'latest');
    const run = await openRun(dir);
    const b = Buffer.from('x');
    for (let i = 0; i < MAX_MATCHES + 20; i++) run.publish({ type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: 1, payload: b.toString('base64') }, { session: `m-${i}`, conn: `m-${i}-c` });
    await run.bus.close();
    const reader = new FileStoreReader(dir);
    const found = await reader.latestRunSessions('m-');
    expect(found).toHaveLength(MAX_MATCHES);
    expect(found.map((p) => p.session)).toEqual([...Array(MAX_MATCHES).keys()].map((i) => `m-${i}`));

    // A run cut short (its lock gone, no final seal): follow ends with why.
    const cut = join(tmp, 'latest-cut');
    const live = await openRun(cut);
    const lock = readdirSync(join(cut, 'gw-f')).find((f) => f.endsWith('.lock'))!;
    writeFileSync(join(cut, 'gw-f', lock), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: new Date().toISOString() }));
    const cutReader = new FileStoreReader(cut);
    const [place] = await cutReader.latestRunSessions('s1');
    const events = cutReader.follow(place!, AbortSignal.timeout(20_000));
    const types: string[] = [];
    let next = await events.next();
    for (; !next.done; next = await events.next()) types.push(next.value.type);
    expect(types).toEqual(['audit.start', 'k8s.data']);
    expect(next.value).toMatch(/^replica gw-f's writer holds the run's lock no more .*: it stopped or crashed$/);
    await live.bus.close();
  });
});
