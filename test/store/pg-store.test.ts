/**
 * The PostgreSQL audit store against a real PostgreSQL (test/support/postgres.ts): the schema
 * and its migrations, two replicas writing one database at once, `verify --store` (intact, a
 * changed row named by replica and position, a downgrade), the session index and `sessions`,
 * the spool while the database is down, and no credentials in a dump.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditSink } from '../../src/audit/audit-sink.js';
import { chainInfo } from '../../src/audit/chain.js';
import { sealSigner } from '../../src/audit/seal-signature.js';
import type { AuditSettings } from '../../src/cli/audit-setup.js';
import { runSessions } from '../../src/cli/sessions-command.js';
import { runVerify } from '../../src/cli/verify-command.js';
import { EventBus } from '../../src/events/event-bus.js';
import { noteFor } from '../../src/events/notes.js';
import type { AuditSessionEvent, EventBody } from '../../src/events/types.js';
import { openAuditStore } from '../../src/store/open-store.js';
import { migrate, SCHEMA_VERSION } from '../../src/store/pg-schema.js';
import { replicaLive } from '../../src/store/pg-lease.js';
import { PgAuditOutput, type SpoolState } from '../../src/store/pg-output.js';
import { PgStoreReader } from '../../src/store/pg-reader.js';
import { storeAnnotator } from '../../src/store/record-attachment.js';
import { SessionIndexer, type SessionRow } from '../../src/store/session-index.js';
import { PassThrough } from 'node:stream';
import { runWatch } from '../../src/cli/watch-command.js';
import { startTcpCut } from '../support/tcp-cut.js';
import { Lines } from '../support/lines-output.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../support/postgres.js';

const bin = postgresAvailable();
const TOKEN = 'kw-test-bearer-0123456789abcdef';

let server: TestPostgres;
let tmp: string;
beforeAll(async () => {
  if (!bin) return;
  server = await startPostgres(bin);
  tmp = mkdtempSync(join(tmpdir(), 'kubewire-pgstore-'));
}, 60_000);
afterAll(async () => {
  await server?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function settings(url: string, replica: string): AuditSettings {
  return { failMode: 'closed', keyFile: null, redactStdin: 'none', maxSize: null, store: { kind: 'postgres', url }, replica };
}

interface Writer { bus: EventBus; sink: AuditSink; publish(body: EventBody, fields?: { session?: string; conn?: string }): void; lines: string[]; output?: PgAuditOutput }

/** `direct`: the store's output opened here as openAuditStore does (its heartbeat set, and held for the test to look at). */
async function openWriter(url: string, replica: string, user: string, opts: { signingKey?: string; spool?: string; heartbeatMs?: number; direct?: boolean } = {}): Promise<Writer> {
  const bus = new EventBus({ lossless: true });
  const lines: string[] = [];
  const publish = (body: EventBody, fields: { session?: string; conn?: string } = {}): void => void bus.publish(body, noteFor(body), fields);
  const logPath = opts.spool ?? join(tmp, `${replica}-${Date.now()}-spool.jsonl`);
  const report = (t: string): number => lines.push(t);
  const signer = opts.signingKey ? sealSigner(opts.signingKey) : null;
  let output: PgAuditOutput | undefined;
  if (opts.heartbeatMs !== undefined || opts.direct) {
    output = await PgAuditOutput.open({ url, replica, chain: chainInfo(null, signer?.info ?? null), spoolPath: logPath, report, heartbeatMs: opts.heartbeatMs });
  }
  const sink = output === undefined
    ? await openAuditStore(settings(url, replica), { logPath, key: null, signer, publish, report })
    : await AuditSink.open({ path: `replica ${replica}`, key: null, signer, failMode: 'closed', redactStdin: 'none', maxSize: null, publish, annotate: storeAnnotator(), output });
  bus.addSink(sink);
  publish({
    type: 'audit.start', chain: sink.chain,
    identity: { source: 'SelfSubjectReview', username: user, uid: null, groups: ['system:authenticated', `team-${user}`], extra: {}, kubeconfigUser: user, clientCertificate: null, reviewError: null },
    os: { user, uid: 1000, host: 'gw', platform: 'linux/x64' }, kubewire: { version: '0.1.0', pid: 1 },
    cluster: { server: 'https://127.0.0.1:6443/', context: 'demo', via: 'https://127.0.0.1:6443' }, redactStdin: 'none', failMode: 'closed', maxSize: null,
  });
  return { bus, sink, publish, lines, output };
}

function data(dir: 'c2s' | 's2c', text: string): EventBody {
  const b = Buffer.from(text);
  return dir === 'c2s'
    ? { type: 'k8s.data', dir, offset: 0, channel: 0, stream: 'stdin', size: b.length, payload: b.toString('base64') }
    : { type: 'k8s.data', dir, offset: 0, channel: 1, stream: 'stdout', size: b.length, payload: b.toString('base64') };
}

function sessionBody(pod: string, command: string[], tty: boolean): AuditSessionEvent {
  return {
    type: 'audit.session', kubectlVersion: 'v1.33.1', userAgent: 'kubectl/v1.33.1', kubectlCommand: 'kubectl exec', operation: 'exec',
    namespace: 'default', pod, container: null, command, tty, stdin: tty, start: new Date().toISOString(), end: new Date().toISOString(), durationMs: 5,
    connections: ['c1'], requests: 1, transport: 'websocket', protocol: 'v5.channel.k8s.io', bytes: { c2s: 10, s2c: 20 }, streams: { stdin: 1, stdout: 1, stderr: 0 },
    exitCode: 0, status: 'Success', findings: [], endedBy: 'idle',
  };
}

/** A tty session in which `typed` is typed key by key and echoed after a prompt. */
function ttySession(w: Writer, session: string, pod: string, typed: string): void {
  const f = { session, conn: `${session}-c` };
  w.publish(data('s2c', '/ # '), f);
  for (const ch of typed) {
    w.publish(data('c2s', ch), f);
    w.publish(data('s2c', ch), f);
  }
  w.publish(data('c2s', '\r'), f);
  w.publish(data('s2c', '\r\n'), f);
  w.publish(data('s2c', `Authorization: Bearer ${'x'.repeat(3)}\r\n`), f);
  w.publish(sessionBody(pod, ['sh'], true), { session });
  w.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session });
}

/** Keys typed in a tty session, each echoed; a carriage return is echoed as a new line. */
function typeKeys(w: Writer, f: { session: string; conn: string }, keys: string): void {
  for (const ch of keys) {
    w.publish(data('c2s', ch), f);
    w.publish(data('s2c', ch === '\r' ? '\r\n' : ch), f);
  }
}

/** Two sessions, `<prefix>-tty` (typed rm) and `<prefix>-exec` (exit code 3), to compare their index rows. */
function indexedSessions(w: Writer, prefix: string): void {
  ttySession(w, `${prefix}-tty`, 'web', 'rm -rf /tmp/cache');
  w.publish({ ...sessionBody('db', ['psql', '-c', 'select 1'], false), exitCode: 3 }, { session: `${prefix}-exec` });
  w.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: `${prefix}-exec` });
}

/** A replica's records in the database in order: the columns stored with each, and its line parsed; each column must be what its line says. */
async function storedRecords(url: string, replica: string): Promise<{ type: string; session: string | null; hash: string; event: Record<string, unknown> }[]> {
  const { rows } = await server.query<{ seq: string; type: string; session: string | null; hash: string; line: string }>('SELECT seq, type, session, hash, line FROM audit_records WHERE replica = $1 ORDER BY pos', [replica], url);
  return rows.map((r) => {
    const event = JSON.parse(r.line) as Record<string, unknown>;
    expect({ seq: Number(r.seq), type: r.type, session: r.session, hash: r.hash }).toEqual({ seq: event['seq'], type: event['type'], session: event['session'] ?? null, hash: event['hash'] });
    return { type: r.type, session: r.session, hash: r.hash, event };
  });
}

/** The session index rows of a replica, as `sessions` reads them. */
async function indexedRows(url: string, replica: string): Promise<SessionRow[]> {
  const reader = await PgStoreReader.open(url);
  try {
    return (await reader.sessions({})).filter((s) => s.replica === replica).map(({ replica: _r, pos: _p, runPos: _rp, files: _f, ...row }) => row);
  } finally {
    await reader.close();
  }
}

function bySession(rows: SessionRow[]): SessionRow[] {
  return [...rows].sort((a, b) => a.session.localeCompare(b.session));
}

/** A row without what tells two runs of the same session apart: its id and times. */
function sameSession(r: SessionRow): Omit<SessionRow, 'session' | 'start' | 'end'> {
  const { session: _s, start: _st, end: _e, ...rest } = r;
  return rest;
}

/** Ends the writer's connection from the server's side, and waits until its backend (and so its lock) is gone. */
async function cutOff(url: string, replica: string): Promise<void> {
  const { rows } = await server.query<{ pid: number }>('SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`kubewire ${replica}`], url);
  expect(rows).toHaveLength(1);
  await waitFor(`the backend of ${replica} gone`, async () => (await server.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0]!.pid], url)).rowCount === 0);
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether a reader calls the replica live (its lock held or its heartbeat fresh). */
async function liveNow(url: string, replica: string): Promise<boolean> {
  const { rows } = await server.query<{ live: boolean }>(`SELECT ${replicaLive('a')} AS live FROM audit_replicas a WHERE name = $1`, [replica], url);
  return rows[0]?.live === true;
}

/** `kubewire watch --store url session` in this process: its output, status lines and exit code. */
function startWatch(url: string, session: string): { out: () => string; err: () => string; done: Promise<number>; stop(): void } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), 60_000);
  const done = runWatch({ store: url, session }, stdout, stderr, ac.signal).finally(() => clearTimeout(guard));
  return { out: () => out, err: () => err, done, stop: () => ac.abort() };
}

/**
 * A writer reaching the database through a relay, and `watch` following its session from the
 * database: `texts[0]` written and shown, then the relay cut, `texts[1]` written (spooled), and
 * the writer's backend gone with its lock.
 */
async function cutWhileWatched(url: string, replica: string, session: string, texts: [string, string]) {
  const relay = await startTcpCut(server.port);
  const w = await openWriter(url.replace(`:${server.port}/`, `:${relay.port}/`), replica, 'mia');
  const f = { session, conn: `${session}-c` };
  w.publish(data('s2c', texts[0]), f);
  await w.sink.flushed();
  const watch = startWatch(url, session);
  await waitFor('watch to print the first output', () => watch.out() === texts[0]);
  relay.cut();
  w.publish(data('s2c', texts[1]), f);
  await w.sink.flushed();
  await waitFor(`the lock of ${replica} released`, async () => (await server.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [`kubewire ${replica}`], url)).rowCount === 0);
  return { relay, w, watch, f };
}

/** The writer's next record fails: its replica was taken over (--audit-fail closed then refuses sessions). */
async function expectTakenOver(w: Writer, session: string): Promise<void> {
  w.publish(data('s2c', 'late\n'), { session, conn: `${session}-c` });
  await w.sink.flushed();
  expect(w.sink.failed?.reason).toMatch(/replica \S+ is no longer this process's to write \(its lease was taken over\)/);
  await w.bus.close();
}

/** A store reader whose every query is followed by `after(sql, params)`. */
async function spiedReader(url: string, after: (sql: string, params: unknown[]) => Promise<void> | void): Promise<PgStoreReader> {
  const reader = await PgStoreReader.open(url);
  const client = (reader as unknown as { client: pg.Client }).client;
  const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>;
  (client as unknown as { query: unknown }).query = async (...a: unknown[]): Promise<unknown> => {
    const r = await query(...a);
    await after(String(a[0]), (a[1] as unknown[] | undefined) ?? []);
    return r;
  };
  return reader;
}

async function finish(w: Writer): Promise<void> {
  w.publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true });
  await w.bus.close();
}

async function verifyStoreCli(url: string, extra: string[] = []): Promise<{ rc: number; out: string }> {
  const out = new Lines();
  const err = new Lines();
  const opts: Parameters<typeof runVerify>[0] = { files: [], store: url };
  if (extra[0] === '--public-key') opts.publicKey = extra[1]!;
  const rc = await runVerify(opts, out, err);
  return { rc, out: [...out.lines, ...err.lines].join('\n') };
}

/** An Ed25519 key pair: the private key's PEM, and the public key written to `name` in tmp. */
function signingKeys(name: string): { privatePem: string; pubPath: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pubPath = join(tmp, name);
  writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, pubPath };
}

/** What an attacker with database access does: the replica's rows re-linked as a plain chain, signatures removed. */
async function rewriteAsPlainChain(url: string, replica: string): Promise<void> {
  const { rows } = await server.query<{ pos: string; line: string }>('SELECT pos, line FROM audit_records WHERE replica = $1 ORDER BY pos', [replica], url);
  const { ChainLinker } = await import('../../src/audit/chain.js');
  const linker = new ChainLinker(null);
  const lastOf = new Map<string, string>();
  for (const r of rows) {
    const { prev: _p, hash: _h, signature: _s, ...rec } = JSON.parse(r.line) as Record<string, unknown>;
    if (rec['type'] === 'audit.start') delete (rec['chain'] as Record<string, unknown>)['signature'];
    if (rec['type'] === 'audit.seal') rec['last'] = rec['scope'] === 'file' ? linker.last : lastOf.get(rec['session'] as string);
    const linked = linker.link(rec);
    if (typeof rec['session'] === 'string') lastOf.set(rec['session'], linked.hash);
    await server.query('UPDATE audit_records SET line = $1, hash = $2 WHERE replica = $3 AND pos = $4', [linked.line, linked.hash, replica, r.pos], url);
  }
}

describe.skipIf(!bin)('PostgreSQL audit store', () => {
  it('creates the schema in a fresh database, records its version, and migrating again is a no-op', async () => {
    const url = await server.createDatabase('migrations');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      expect(await migrate(c)).toEqual([SCHEMA_VERSION]);
      expect(await migrate(c)).toEqual([]);
      const v = await c.query('SELECT version, kubewire FROM kubewire_schema');
      expect(v.rows).toEqual([{ version: SCHEMA_VERSION, kubewire: expect.any(String) }]);
      const t = await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
      expect(t.rows.map((r) => r.table_name)).toEqual(['audit_records', 'audit_replicas', 'audit_sessions', 'kubewire_schema']);
    } finally {
      await c.end();
    }
  });

  it('two replicas writing at once verify intact; sessions finds alice\'s typed rm and nothing of bob\'s; a changed row is named by replica and pos', async () => {
    const url = await server.createDatabase('replicas');
    const [a, b] = await Promise.all([openWriter(url, 'gw-a', 'alice'), openWriter(url, 'gw-b', 'bob')]);
    for (let i = 0; i < 20; i++) {
      a.publish(data('s2c', `tick ${i}\n`), { session: 'a-bg', conn: 'a-bg-c' });
      b.publish(data('s2c', `tock ${i}\n`), { session: 'b-bg', conn: 'b-bg-c' });
    }
    ttySession(a, 'alice-1', 'web', 'rm -rf /tmp/cache');
    ttySession(b, 'bob-1', 'web', 'ls /tmp');
    ttySession(b, 'bob-2', 'db', 'rmdir /x');
    a.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 'a-bg' });
    b.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 'b-bg' });
    await Promise.all([finish(a), finish(b)]);

    const v = await verifyStoreCli(url);
    expect(v.rc).toBe(0);
    expect(v.out).toMatch(/consistent, unauthenticated: replica gw-a: 1 run/);
    expect(v.out).toMatch(/consistent, unauthenticated: replica gw-b: 1 run/);

    const out = new Lines();
    expect(await runSessions({ store: url, user: 'alice', command: 'rm', json: true }, out)).toBe(0);
    const found = out.lines.map((l) => JSON.parse(l) as { session: string; user: string; typed: string[]; groups: string[] });
    expect(found.map((s) => s.session)).toEqual(['alice-1']);
    expect(found[0]!.typed).toContain('rm -rf /tmp/cache');
    expect(found[0]!.groups).toContain('team-alice');
    const bobs = new Lines();
    await runSessions({ store: url, user: 'bob', command: 'rm', json: true }, bobs);
    expect(bobs.lines.map((l) => (JSON.parse(l) as { session: string }).session)).toEqual(['bob-2']);
    const pods = new Lines();
    await runSessions({ store: url, pod: 'web', since: '1h' }, pods);
    expect(pods.lines).toHaveLength(2);

    // Someone edits a record in the database.
    const row = await server.query<{ pos: string; seq: string; line: string }>("SELECT pos, seq, line FROM audit_records WHERE replica = 'gw-b' AND type = 'k8s.data' ORDER BY pos LIMIT 1 OFFSET 5", [], url);
    const { pos, seq, line } = row.rows[0]!;
    await server.query('UPDATE audit_records SET line = $1 WHERE replica = $2 AND pos = $3', [line.replace('"size":', '"size": '), 'gw-b', pos], url);
    const t = await verifyStoreCli(url);
    expect(t.rc).toBe(1);
    expect(t.out).toContain(`tampered: replica gw-b: replica gw-b, pos ${pos} (seq ${seq})`);
    expect(t.out).toMatch(/consistent, unauthenticated: replica gw-a/);

    // No credential of the kubeconfig in a full dump.
    const dump = server.dump(url);
    expect(dump).toContain('rm -rf /tmp/cache');
    expect(dump).not.toContain(TOKEN);
    expect(dump).not.toContain(Buffer.from(TOKEN).toString('base64'));
  }, 60_000);

  it('spools while the database is down mid-session, uploads in order when it returns, and the chain verifies', async () => {
    const url = await server.createDatabase('spool');
    const w = await openWriter(url, 'gw-s', 'carol', { spool: join(tmp, 'spool.jsonl') });
    const f = { session: 's-1', conn: 's-1-c' };
    for (let i = 0; i < 10; i++) w.publish(data('s2c', `before ${i}\n`), f);
    await w.sink.flushed();
    await server.stop();
    for (let i = 0; i < 10; i++) w.publish(data('s2c', `during ${i}\n`), f);
    await w.sink.flushed();
    expect(w.sink.failed).toBeNull();
    expect(w.lines.join('\n')).toMatch(/spool/);
    // The gateway's store lag and spool size: behind since the first spooled record.
    const behind = w.sink.backlog;
    expect(behind.spoolBytes).toBeGreaterThan(0);
    expect(behind.oldestUnstoredAt).not.toBeNull();
    expect(behind.oldestUnstoredAt!).toBeLessThanOrEqual(Date.now());
    await server.start();
    for (let i = 0; i < 100 && w.sink.backlog.spoolBytes > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(w.sink.backlog).toEqual({ oldestUnstoredAt: null, spoolBytes: 0 });
    for (let i = 0; i < 10; i++) w.publish(data('s2c', `after ${i}\n`), f);
    w.publish(sessionBody('web', ['cat'], false), { session: 's-1' });
    w.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 's-1' });
    await finish(w);
    const rows = await server.query<{ line: string }>("SELECT line FROM audit_records WHERE replica = 'gw-s' AND type = 'k8s.data' ORDER BY pos", [], url);
    const texts = rows.rows.map((r) => Buffer.from((JSON.parse(r.line) as { payload: string }).payload, 'base64').toString());
    expect(texts).toEqual([...[...Array(10).keys()].map((i) => `before ${i}\n`), ...[...Array(10).keys()].map((i) => `during ${i}\n`), ...[...Array(10).keys()].map((i) => `after ${i}\n`)]);
    const v = await verifyStoreCli(url);
    expect(v.out).toMatch(/consistent, unauthenticated: replica gw-s/);
    expect(v.rc).toBe(0);
    const s = new Lines();
    await runSessions({ store: url, user: 'carol' }, s);
    expect(s.lines).toHaveLength(1);
  }, 90_000);

  it('a spool left by a run that stopped while the database was down is uploaded in order at the next start of the replica, before its new records, and the chain verifies', async () => {
    const url = await server.createDatabase('leftover');
    const dir = mkdtempSync(join(tmp, 'leftover-'));
    const a = await openWriter(url, 'gw-l', 'erin', { spool: join(dir, 'run-a.jsonl') });
    const f = { session: 'l-1', conn: 'l-1-c' };
    for (let i = 0; i < 5; i++) a.publish(data('s2c', `before ${i}\n`), f);
    await a.sink.flushed();
    await server.stop();
    for (let i = 0; i < 5; i++) a.publish(data('s2c', `during ${i}\n`), f);
    a.publish(sessionBody('web', ['cat'], false), { session: 'l-1' });
    a.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 'l-1' });
    await finish(a);
    expect(a.lines.join('\n')).toMatch(/stay in the spool/);
    expect(readdirSync(dir).filter((n) => n.includes('.spool-gw-l-'))).toHaveLength(1);
    await server.start();

    // The run that left the spool never gave its lease back, but its connection is gone: the next start takes the replica at once.
    const b = await openWriter(url, 'gw-l', 'erin', { spool: join(dir, 'run-b.jsonl') });
    expect(b.lines.join('\n')).toMatch(/replica gw-l was held by a process that is gone .*this process takes it over/);
    expect(b.lines.join('\n')).toMatch(/uploaded 8 records left in the spool .*run-a\.spool-gw-l-0001\.jsonl by an earlier run of replica gw-l/);
    const g = { session: 'l-2', conn: 'l-2-c' };
    b.publish(data('s2c', 'after\n'), g);
    b.publish(sessionBody('web', ['date'], false), { session: 'l-2' });
    b.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 'l-2' });
    await finish(b);

    const rows = await server.query<{ type: string; line: string }>("SELECT type, line FROM audit_records WHERE replica = 'gw-l' AND type IN ('k8s.data', 'audit.start') ORDER BY pos", [], url);
    const seen = rows.rows.map((r) => (r.type === 'audit.start' ? 'start' : Buffer.from((JSON.parse(r.line) as { payload: string }).payload, 'base64').toString()));
    expect(seen).toEqual(['start', ...[0, 1, 2, 3, 4].map((i) => `before ${i}\n`), ...[0, 1, 2, 3, 4].map((i) => `during ${i}\n`), 'start', 'after\n']);
    expect(readdirSync(dir).filter((n) => n.includes('.spool-'))).toEqual([]);
    const v = await verifyStoreCli(url);
    expect(v.out).toMatch(/^consistent, unauthenticated: replica gw-l: 2 runs/);
    expect(v.rc).toBe(0);
    const s = new Lines();
    await runSessions({ store: url, user: 'erin', json: true }, s);
    expect(s.lines.map((l) => (JSON.parse(l) as { command: string }).command)).toEqual(['cat', 'date']);
  }, 90_000);

  it('a long outage: thousands of records spool while the writer keeps only a few numbers about them; uploaded, they are stored in order, their sessions indexed as unspooled ones, and the chain verifies intact', async () => {
    const url = await server.createDatabase('spoolmeta');
    const { privatePem, pubPath } = signingKeys('spoolmeta.pub');
    const relay = await startTcpCut(server.port);
    try {
      const w = await openWriter(url.replace(`:${server.port}/`, `:${relay.port}/`), 'gw-sm', 'sara', { signingKey: privatePem, direct: true });
      const out = w.output!;
      indexedSessions(w, 'sm-a');
      // A tty session typed across the outage: its first keys reach the database, the rest the spool.
      const across = { session: 'sm-c', conn: 'sm-c-c' };
      w.publish(data('s2c', '/ # '), across);
      typeKeys(w, across, 'rm -');
      await w.sink.flushed();
      expect(out.spoolState).toBeNull();

      relay.cut();
      typeKeys(w, across, 'rf /tmp/cache\r');
      w.publish(sessionBody('web', ['sh'], true), { session: 'sm-c' });
      w.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 'sm-c' });
      await w.sink.flushed();
      const early = out.spoolState!;
      expect(early.records).toBeGreaterThan(0);
      for (let i = 0; i < 4000; i++) w.publish(data('s2c', `busy ${i}\n`), { session: `sm-busy-${i % 3}`, conn: `sm-busy-${i % 3}-c` });
      for (let i = 0; i < 3; i++) w.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: `sm-busy-${i}` });
      indexedSessions(w, 'sm-b');
      await w.sink.flushed();
      expect(w.sink.failed).toBeNull();
      const late = out.spoolState!;
      expect(late.records).toBeGreaterThan(early.records + 4000);
      expect(out.spooled).toBe(late.records);
      expect(late.uploadedRecords).toBe(0);
      // The same few numbers as after the first records: nothing is held per record, however many are spooled.
      expect(Object.keys(late)).toEqual(Object.keys(early));
      expect(Object.values(late).every((v) => typeof v === 'number' || typeof v === 'string')).toBe(true);
      expect(JSON.stringify(late).length).toBeLessThan(JSON.stringify(early).length + 10);

      relay.mend();
      await waitFor('the spool uploaded', () => out.spoolState === null, 60_000);
      expect(w.lines.join('\n')).toContain(`${late.records} spooled records were uploaded in order`);
      expect(readdirSync(tmp).filter((n) => n.includes('.spool-gw-sm-'))).toEqual([]);
      indexedSessions(w, 'sm-d');
      await finish(w);

      const records = await storedRecords(url, 'gw-sm');
      const busy = records.filter((r) => r.type === 'k8s.data' && r.session?.startsWith('sm-busy-')).map((r) => Buffer.from(r.event['payload'] as string, 'base64').toString());
      expect(busy).toEqual([...Array(4000).keys()].map((i) => `busy ${i}\n`));
      const indexed = await indexedRows(url, 'gw-sm');
      // Every row as a file store builds it from the records, spooled or not.
      const indexer = new SessionIndexer();
      const built = records.flatMap((r) => indexer.push(r.event as never) ?? []);
      expect(bySession(indexed)).toEqual(bySession(built));
      expect(indexed.map((r) => r.session).sort()).toEqual(['sm-a-exec', 'sm-a-tty', 'sm-b-exec', 'sm-b-tty', 'sm-c', 'sm-d-exec', 'sm-d-tty']);
      const row = (session: string): SessionRow => indexed.find((r) => r.session === session)!;
      // A spooled session is indexed as the same session before and after the outage.
      for (const kind of ['tty', 'exec']) {
        expect(sameSession(row(`sm-b-${kind}`))).toEqual(sameSession(row(`sm-a-${kind}`)));
        expect(sameSession(row(`sm-d-${kind}`))).toEqual(sameSession(row(`sm-a-${kind}`)));
      }
      expect(row('sm-b-tty')).toMatchObject({ user: 'sara', groups: ['system:authenticated', 'team-sara'], cluster: 'demo', pod: 'web', command: 'sh', typed: expect.arrayContaining(['rm -rf /tmp/cache']), tty: true });
      expect(row('sm-b-exec')).toMatchObject({ user: 'sara', pod: 'db', command: 'psql -c select 1', exitCode: 3, tty: false });
      // Its first keys were read back from the database for the upload: the command typed across the outage is whole.
      expect(row('sm-c').typed).toContain('rm -rf /tmp/cache');

      const v = await verifyStoreCli(url, ['--public-key', pubPath]);
      expect(v.out).toMatch(/^intact: replica gw-sm: 1 run/);
      expect(v.rc).toBe(0);
    } finally {
      await relay.close();
    }
  }, 120_000);

  it('a commit lost in flight during an upload: the next try resumes after what the database holds, with the records spooled meanwhile, each stored once and in order', async () => {
    const url = await server.createDatabase('spoolresume');
    const relay = await startTcpCut(server.port);
    const query = pg.Client.prototype.query;
    try {
      const w = await openWriter(url.replace(`:${server.port}/`, `:${relay.port}/`), 'gw-rs', 'tom', { direct: true });
      const out = w.output!;
      const f = { session: 'rs-1', conn: 'rs-1-c' };
      w.publish(data('s2c', 'before\n'), f);
      await w.sink.flushed();
      relay.cut();
      for (let i = 0; i < 1600; i++) w.publish(data('s2c', `during ${i}\n`), f);
      await w.sink.flushed();
      expect(out.spooled).toBeGreaterThanOrEqual(1600);

      // The upload's second batch commits, but the answer is lost: the connection ends instead, and records come meanwhile.
      let commits = 0;
      let batch = false;
      let resumedAt: SpoolState | null = null;
      (pg.Client.prototype as unknown as { query: unknown }).query = function (this: pg.Client, ...a: unknown[]): unknown {
        const name = (this as unknown as { connectionParameters: { application_name?: string } }).connectionParameters.application_name;
        const run = (query as (...b: unknown[]) => unknown).apply(this, a);
        if (name !== 'kubewire gw-rs') return run;
        if (typeof a[0] === 'string' && a[0].trimStart().startsWith('INSERT INTO audit_records')) batch = true;
        // The commits of batches of records (not the schema's at each connect).
        if (a[0] !== 'COMMIT' || !batch) return run;
        batch = false;
        if (++commits !== 2) return run;
        return (run as Promise<unknown>).then(() => {
          resumedAt = out.spoolState;
          for (let i = 0; i < 10; i++) w.publish(data('s2c', `meanwhile ${i}\n`), f);
          throw new Error('Connection terminated unexpectedly');
        });
      };
      relay.mend();
      await waitFor('the spool uploaded', () => out.spoolState === null, 60_000);
      pg.Client.prototype.query = query;
      expect(commits).toBeGreaterThan(2);
      // The first batch was recorded as stored; the second one, lost, was found in the database by its last hash.
      expect(resumedAt).toMatchObject({ uploadedRecords: 500 });
      expect(w.sink.failed).toBeNull();
      w.publish(data('s2c', 'after\n'), f);
      w.publish(sessionBody('web', ['cat'], false), { session: 'rs-1' });
      w.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 'rs-1' });
      await finish(w);

      const records = await storedRecords(url, 'gw-rs');
      expect(new Set(records.map((r) => r.hash)).size).toBe(records.length);
      const texts = records.filter((r) => r.type === 'k8s.data').map((r) => Buffer.from(r.event['payload'] as string, 'base64').toString());
      expect(texts).toEqual(['before\n', ...[...Array(1600).keys()].map((i) => `during ${i}\n`), ...[...Array(10).keys()].map((i) => `meanwhile ${i}\n`), 'after\n']);
      const v = await verifyStoreCli(url);
      expect(v.out).toMatch(/^consistent, unauthenticated: replica gw-rs: 1 run/);
      expect(v.rc).toBe(0);
    } finally {
      pg.Client.prototype.query = query;
      await relay.close();
    }
  }, 120_000);

  it('signed seals verify intact with --public-key; the same replica rewritten as a plain chain is a downgrade', async () => {
    const url = await server.createDatabase('signed');
    const { privatePem, pubPath } = signingKeys('audit.pub');
    const w = await openWriter(url, 'gw-k', 'dave', { signingKey: privatePem });
    ttySession(w, 'd-1', 'web', 'id');
    await finish(w);
    const ok = await verifyStoreCli(url, ['--public-key', pubPath]);
    expect(ok.out).toMatch(/^intact: replica gw-k: 1 run/);
    expect(ok.rc).toBe(0);
    expect((await verifyStoreCli(url)).out).toMatch(/^consistent, unauthenticated: replica gw-k/);

    // The attacker rewrites the chain without signatures: records re-hashed as a plain chain.
    await rewriteAsPlainChain(url, 'gw-k');
    const down = await verifyStoreCli(url, ['--public-key', pubPath]);
    expect(down.rc).toBe(1);
    expect(down.out).toMatch(/tampered: replica gw-k: replica gw-k, pos 1 .*downgrade/);
    // Without a key, the store still remembers the replica was created signed.
    const noKey = await verifyStoreCli(url);
    expect(noKey.rc).toBe(1);
    expect(noKey.out).toMatch(/tampered: replica gw-k: .*created with a plain SHA-256 chain with seals signed by ed25519 key .*downgrade/);
  }, 60_000);

  it('a NUL in an exec command or pod (exec?command=%00) is indexed as U+FFFD; the record keeps it and the chain verifies', async () => {
    const url = await server.createDatabase('nul');
    const w = await openWriter(url, 'gw-n', 'erin');
    w.publish(sessionBody('we\u0000b', ['sh', '-c', 'echo a\u0000b'], false), { session: 'n-1' });
    w.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 'n-1' });
    await w.sink.flushed();
    expect(w.sink.failed).toBeNull();
    await finish(w);
    expect(w.lines.join('\n')).not.toMatch(/spool/);
    const out = new Lines();
    await runSessions({ store: url, command: 'echo a', json: true }, out);
    const found = out.lines.map((l) => JSON.parse(l) as { pod: string; command: string });
    expect(found).toEqual([expect.objectContaining({ pod: 'we\uFFFDb', command: 'sh -c echo a\uFFFDb' })]);
    const rec = await server.query<{ line: string }>("SELECT line FROM audit_records WHERE replica = 'gw-n' AND type = 'audit.session'", [], url);
    expect((JSON.parse(rec.rows[0]!.line) as { command: string[] }).command).toEqual(['sh', '-c', 'echo a\u0000b']);
    const v = await verifyStoreCli(url);
    expect(v.rc).toBe(0);
  }, 60_000);

  it('a batch the database rejects for its content fails the append (the fail mode applies) instead of spooling for ever', async () => {
    const url = await server.createDatabase('reject');
    const w = await openWriter(url, 'gw-r', 'frank');
    await w.sink.flushed();
    await server.query("ALTER TABLE audit_sessions ADD CONSTRAINT no_bad_pod CHECK (pod <> 'bad')", [], url);
    w.publish(sessionBody('bad', ['id'], false), { session: 'r-1' });
    await w.sink.flushed();
    expect(w.sink.failed?.reason).toMatch(/refused a batch of records: .*no_bad_pod/);
    expect(w.lines.join('\n')).not.toMatch(/spool/);
    await w.bus.close();
  }, 60_000);

  it('a lease taken over fails the append at once; after a reconnect that finds it taken, too', async () => {
    const url = await server.createDatabase('takeover');
    const w = await openWriter(url, 'gw-t', 'gina');
    await w.sink.flushed();
    await server.query("UPDATE audit_replicas SET owner = 'another', heartbeat = now() WHERE name = 'gw-t'", [], url);
    w.publish(data('s2c', 'x'), { session: 't-1', conn: 't-1-c' });
    await w.sink.flushed();
    expect(w.sink.failed?.reason).toMatch(/lease was taken over/);
    expect(w.lines.join('\n')).not.toMatch(/spool/);
    await w.bus.close();

    // The connection is cut and another process takes the replica meanwhile: the reconnect is refused.
    const v = await openWriter(url, 'gw-u', 'hank');
    await v.sink.flushed();
    await cutOff(url, 'gw-u');
    const other = await openWriter(url, 'gw-u', 'hank');
    for (let i = 0; i < 60 && !v.sink.failed; i++) {
      v.publish(data('s2c', `y${i}`), { session: 'u-1', conn: 'u-1-c' });
      await v.sink.flushed();
      if (!v.sink.failed) await new Promise((r) => setTimeout(r, 100));
    }
    expect(v.sink.failed?.reason).toMatch(/replica gw-u is no longer this process's to write \(its lease was taken over\)/);
    await v.bus.close();
    await finish(other);
  }, 60_000);

  it('start-up fails with one line on a database that does not exist, an unknown user, or a URL that does not parse', async () => {
    const open = (url: string): Promise<unknown> => openAuditStore(settings(url, 'gw-x'), { logPath: join(tmp, 'x-spool.jsonl'), key: null, signer: null, publish: () => undefined, report: () => undefined });
    await expect(open(server.url.replace(/\/kubewire$/, '/no_such_db'))).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/does not exist .*3D000/) });
    await expect(open(server.url.replace('kubewire@', 'no_such_user@'))).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/refused the user .*28000/) });
    await expect(open('postgres://127.0.0.1:notaport/db')).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/URL does not parse/) });

    // A user that must give a password (the test server trusts every other user).
    await server.query("CREATE ROLE pw_user LOGIN PASSWORD 'right'");
    const hba = (await server.query<{ hba_file: string }>('SHOW hba_file')).rows[0]!.hba_file;
    writeFileSync(hba, `host all pw_user 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await server.query('SELECT pg_reload_conf()');
    const wrong = server.url.replace('kubewire@', 'pw_user:wrong@');
    let refused: unknown = null;
    // The postmaster reloads its configuration on a signal: until then the user is trusted.
    for (let i = 0; i < 50 && !refused; i++) {
      refused = await open(wrong).then((sink) => (sink as AuditSink).close().then(() => null), (e: unknown) => e);
      if (!refused) await new Promise((r) => setTimeout(r, 100));
    }
    expect(refused).toMatchObject({ exitCode: 1, message: expect.stringMatching(/refused the password .*28P01/) });
    expect((refused as Error).message).not.toContain('wrong');
  }, 60_000);

  it('verify --store: a live replica without its final seal is open; rewritten as a plain chain it is a downgrade, live or not', async () => {
    const url = await server.createDatabase('live');
    const { privatePem, pubPath } = signingKeys('live.pub');
    const w = await openWriter(url, 'gw-l', 'ivy', { signingKey: privatePem });
    ttySession(w, 'l-1', 'web', 'id');
    await w.sink.flushed();
    const open = await verifyStoreCli(url, ['--public-key', pubPath]);
    expect(open.out).toMatch(/^open: replica gw-l/);
    expect(open.rc).toBe(0);

    // Rewritten as a plain chain, without a final seal, while the writer still holds the lease.
    await rewriteAsPlainChain(url, 'gw-l');
    const down = await verifyStoreCli(url);
    expect(down.out).toMatch(/^tampered: replica gw-l: .*downgrade/);
    expect(down.rc).toBe(1);
    await w.bus.close();
  }, 60_000);

  it('verify --store reads a live replica in one snapshot: a batch committed while it reads is not "rows added"', async () => {
    const url = await server.createDatabase('race');
    const w = await openWriter(url, 'gw-c', 'jay');
    for (let i = 0; i < 5; i++) w.publish(data('s2c', `a ${i}\n`), { session: 'c-1', conn: 'c-1-c' });
    await w.sink.flushed();
    let calls = 0;
    // After the reader's first query, the writer commits another batch.
    const reader = await spiedReader(url, async () => {
      if (calls++ === 0) {
        for (let i = 0; i < 5; i++) w.publish(data('s2c', `b ${i}\n`), { session: 'c-1', conn: 'c-1-c' });
        await w.sink.flushed();
      }
    });
    try {
      const [replica] = await reader.replicas();
      expect(calls).toBeGreaterThan(1);
      expect(replica!.problem).toBeNull();
      expect(replica!.live).toBe(true);
      const { verifySources } = await import('../../src/audit/verify.js');
      const r = await verifySources(replica!.runs[0]!.sources, { key: null });
      expect(r.problem?.unsealedEnd).toBe(true);
    } finally {
      await reader.close();
      await w.bus.close();
    }
  }, 60_000);

  it('sessions: --limit keeps the newest; an unreachable database is exit 1, a failed query one line with exit 1', async () => {
    const url = await server.createDatabase('limits');
    const w = await openWriter(url, 'gw-m', 'kim');
    for (let i = 1; i <= 3; i++) {
      w.publish({ ...sessionBody(`p${i}`, ['id'], false), start: `2026-01-0${i}T00:00:00.000Z` }, { session: `m-${i}` });
      w.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: `m-${i}` });
    }
    await finish(w);
    const out = new Lines();
    const err = new Lines();
    expect(await runSessions({ store: url, limit: 2, json: true }, out, err)).toBe(0);
    expect(out.lines.map((l) => (JSON.parse(l) as { pod: string }).pod)).toEqual(['p2', 'p3']);
    expect(err.lines.join('\n')).toMatch(/more than 2 sessions matched/);

    const closed = url.replace(/:\d+\//, ':1/');
    await expect(runSessions({ store: closed }, new Lines(), new Lines())).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/cannot read the audit store: connection refused/) });
    await server.query('ALTER TABLE audit_sessions RENAME TO audit_sessions_gone', [], url);
    await expect(runSessions({ store: url }, new Lines(), new Lines())).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/^cannot search the audit store: relation "audit_sessions" does not exist/) });
  }, 60_000);
  it('a second live writer of a replica is refused; once the first one\'s connection is gone, the replica is taken at once and its new run follows the last', async () => {
    const url = await server.createDatabase('crash');
    const a = await openWriter(url, 'gw-d', 'lena');
    a.publish(data('s2c', 'first run\n'), { session: 'd-1', conn: 'd-1-c' });
    await a.sink.flushed();
    await expect(openWriter(url, 'gw-d', 'lena')).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/replica gw-d is being written by another kubewire right now: give each replica its own --audit-replica name/) });
    // Its connection is gone as a crashed process's is: its heartbeat is still fresh, its lock is not held.
    await cutOff(url, 'gw-d');
    const b = await openWriter(url, 'gw-d', 'lena');
    expect(b.lines.join('\n')).toMatch(/replica gw-d was held by a process that is gone/);
    b.publish(data('s2c', 'second run\n'), { session: 'd-2', conn: 'd-2-c' });
    b.publish(sessionBody('web', ['cat'], false), { session: 'd-2' });
    b.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 'd-2' });
    await finish(b);
    const runs = await server.query<{ pos: string }>("SELECT pos FROM audit_records WHERE replica = 'gw-d' AND type = 'audit.start' ORDER BY pos", [], url);
    const head = await server.query<{ n: string }>("SELECT count(*) AS n FROM audit_records WHERE replica = 'gw-d' AND pos < $1", [runs.rows[1]!.pos], url);
    expect(runs.rows).toHaveLength(2);
    // The second run starts at the position after the first run's last record.
    expect(Number(runs.rows[1]!.pos)).toBe(Number(head.rows[0]!.n) + 1);
    // The first run was cut short: no final seal; that is reported, not taken for a run still being written.
    const v = await verifyStoreCli(url);
    expect(v.out).toMatch(/^tampered: replica gw-d: replica gw-d, pos \d+ .*without the seal that closes every file/);
    expect(v.rc).toBe(1);
    // The writer that lost its replica finds out at its next record.
    await expectTakenOver(a, 'd-1');
  }, 60_000);

  it('watch follows a session across its writer\'s outage: the writer spools, takes its lease again when the database answers, uploads, and watch ends with the session', async () => {
    const url = await server.createDatabase('outagewatch');
    const { relay, w, watch, f } = await cutWhileWatched(url, 'gw-o', 'o-1', ['before\n', 'during\n']);
    try {
      expect(w.lines.join('\n')).toMatch(/they spool to local files/);
      // Its lock is gone with its connection; its heartbeat is fresh: still live, and watch waits.
      const before = (await server.query<{ h: Date }>("SELECT heartbeat AS h FROM audit_replicas WHERE name = 'gw-o'", [], url)).rows[0]!.h;
      expect(await liveNow(url, 'gw-o')).toBe(true);
      relay.mend();
      await waitFor('the spool uploaded', () => w.sink.backlog.spoolBytes === 0);
      const after = (await server.query<{ h: Date }>("SELECT heartbeat AS h FROM audit_replicas WHERE name = 'gw-o'", [], url)).rows[0]!.h;
      expect(after.getTime()).toBeGreaterThan(before.getTime());
      await waitFor('watch to print the spooled output', () => watch.out() === 'before\nduring\n');
      w.publish(data('s2c', 'after\n'), f);
      w.publish(sessionBody('web', ['cat'], false), { session: 'o-1' });
      w.publish({ type: 'audit.seal', scope: 'session', count: null, last: null }, { session: 'o-1' });
      expect(await watch.done).toBe(0);
      expect(watch.out()).toBe('before\nduring\nafter\n');
      expect(watch.err()).toMatch(/ended, exit 0\n$/);
      expect(w.sink.failed).toBeNull();
      await finish(w);
      expect((await verifyStoreCli(url)).rc).toBe(0);
    } finally {
      await relay.close();
    }
  }, 90_000);

  it('a writer cut off past its lease: watch stops and says why; the replica taken over meanwhile, the spool upload is refused and every later record fails', async () => {
    const url = await server.createDatabase('cutoff');
    const { relay, w, watch, f } = await cutWhileWatched(url, 'gw-p', 'p-1', ['one\n', 'two\n']);
    const failures: string[] = [];
    w.sink.onFailure((e) => failures.push(e.reason));
    try {
      // Not heard from for a lease period (set back rather than waited for), its lock not held.
      await server.query("UPDATE audit_replicas SET heartbeat = now() - interval '5 minutes' WHERE name = 'gw-p'", [], url);
      expect(await watch.done).toBe(1);
      expect(watch.err()).toMatch(/kubewire: the run of replica gw-p ended before session p-1 was recorded as ended: replica gw-p's writer has not been heard from for 30\d s: it stopped, crashed or lost the database\n$/);

      // Another process (on another host: its spools elsewhere) starts with its name and takes the replica; the cut-off writer comes back.
      const other = await openWriter(url, 'gw-p', 'noor', { spool: join(mkdtempSync(join(tmp, 'other-')), 'log.jsonl') });
      expect(other.lines.join('\n')).toMatch(/held by a process that is gone/);
      relay.mend();
      await waitFor('the refusal', () => w.lines.some((l) => /takes no more records/.test(l)));
      expect(w.lines.join('\n')).toMatch(/kubewire: the audit store takes no more records: replica gw-p is no longer this process's to write \(its lease was taken over\); 1 records stay in the spool \S+\.spool-gw-p-0001\.jsonl/);
      w.publish(data('s2c', 'three\n'), f);
      await w.sink.flushed();
      // --audit-fail closed: the proxy ends open sessions and refuses new ones on this failure.
      expect(w.sink.failed?.reason).toMatch(/its lease was taken over/);
      expect(failures).toHaveLength(1);
      await w.bus.close();
      await finish(other);
      const rows = await server.query<{ line: string }>("SELECT line FROM audit_records WHERE replica = 'gw-p' AND type = 'k8s.data' ORDER BY pos", [], url);
      expect(rows.rows.map((r) => Buffer.from((JSON.parse(r.line) as { payload: string }).payload, 'base64').toString())).toEqual(['one\n']);
    } finally {
      await relay.close();
    }
  }, 90_000);

  it('an idle writer: its connection lost, it reconnects at its heartbeat and holds its lock again; its replica taken, the heartbeat tells it at once', async () => {
    const url = await server.createDatabase('heartbeat');
    const w = await openWriter(url, 'gw-h', 'omar', { heartbeatMs: 100 });
    await w.sink.flushed();
    await cutOff(url, 'gw-h');
    await waitFor('the writer back', async () => (await server.query("SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND a.application_name = 'kubewire gw-h'", [], url)).rowCount === 1);
    await expect(openWriter(url, 'gw-h', 'omar')).rejects.toMatchObject({ message: expect.stringMatching(/being written by another kubewire right now/) });
    expect(w.lines).toEqual([]);

    // Its row is given to another owner: no record comes, the heartbeat finds it.
    await server.query("UPDATE audit_replicas SET owner = 'another' WHERE name = 'gw-h'", [], url);
    await waitFor('the refusal', () => w.lines.some((l) => /takes no more records/.test(l)));
    expect(w.lines.join('\n')).toMatch(/kubewire: the audit store takes no more records: replica gw-h is no longer this process's to write \(its lease was taken over\)/);
    await expectTakenOver(w, 'h-1');
  }, 60_000);

  it('follow reads only the rows after the last position it looked at: a quiet session on a busy replica is not rescanned', async () => {
    const url = await server.createDatabase('follow');
    const w = await openWriter(url, 'gw-f', 'quinn');
    w.publish(data('s2c', 'quiet\n'), { session: 'q-1', conn: 'q-1-c' });
    for (let i = 0; i < 200; i++) w.publish(data('s2c', `busy ${i}\n`), { session: 'b-1', conn: 'b-1-c' });
    await w.sink.flushed();
    const looks: { from: number; to: number }[] = [];
    const reader = await spiedReader(url, (sql, params) => {
      if (sql.includes('FROM audit_records WHERE session')) looks.push({ from: Number(params[1]), to: Number(params[3]) });
    });
    try {
      const [place] = await reader.latestRunSessions('q-1');
      const ac = new AbortController();
      const seen: string[] = [];
      const following = (async () => {
        for await (const e of reader.follow(place!, ac.signal)) seen.push(e.type);
      })();
      await waitFor('the quiet session\'s records', () => seen.length === 2);
      const headOf = async (): Promise<number> => Number((await server.query<{ p: string }>("SELECT last_pos AS p FROM audit_replicas WHERE name = 'gw-f'", [], url)).rows[0]!.p);
      const head = await headOf();
      for (let i = 200; i < 300; i++) w.publish(data('s2c', `busy ${i}\n`), { session: 'b-1', conn: 'b-1-c' });
      await w.sink.flushed();
      const head2 = await headOf();
      await waitFor('a look up to the new head', () => looks.at(-1)!.to === head2);
      ac.abort();
      await following;
      expect(seen).toEqual(['audit.start', 'k8s.data']);
      // The first look is from the run's start to the head; each later one from where the last one ended, never from the quiet session's row again.
      expect(looks[0]).toEqual({ from: 0, to: head });
      for (let i = 1; i < looks.length; i++) expect(looks[i]!.from).toBe(looks[i - 1]!.to);
    } finally {
      await reader.close();
      await finish(w);
    }
  }, 60_000);
});
