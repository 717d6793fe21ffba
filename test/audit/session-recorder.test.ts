/**
 * The audit record of a kubectl command, told by the session model: one `audit.session` per
 * session once it settled, then its seal; the exit code of the stream only (kubectl cp's
 * `test -d` probe and a refused WebSocket attempt never count); findings other listeners add
 * as the session settles are in it; a late finding gets a seal of its own; at shutdown every
 * session still open is recorded once, as stopped by the proxy; and through a real audit sink
 * the chain verifies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditSink } from '../../src/audit/audit-sink.js';
import { SessionRecorder } from '../../src/audit/session-recorder.js';
import { verifyFiles } from '../../src/audit/verify.js';
import { EventBus } from '../../src/events/event-bus.js';
import { noteFor } from '../../src/events/notes.js';
import type { AuditSessionEvent, EventBody, FindingEvent, KubewireEvent } from '../../src/events/types.js';
import { SessionObserver } from '../../src/session/session-observer.js';
import { expectValidLog } from '../support/event-log.js';
import { execConnection, type ExecConnection } from './live-connections.js';

const START_MS = Date.UTC(2026, 10, 21, 10, 0, 0);
/** Past the session model's grace (FALLBACK_GRACE_MS): a quiet session settles. */
const QUIET_MS = 3500;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function finding(rule: string): FindingEvent {
  return { type: 'finding', rule, severity: 'info', title: rule, explanation: '', evidence: { facts: [], seqs: [] }, hop: { where: 'client↔kubewire', answeredBy: 'unknown', why: '' }, fix: '' };
}

/**
 * A proxy's bus and its one session observer with the recorder on it, on a clock the test
 * moves; the recorder's deferred writes run when the test lets time pass.
 */
function harness() {
  let clock = START_MS;
  const b = new EventBus({ lossless: true, now: () => clock });
  const observer = new SessionObserver();
  b.subscribe((e) => observer.ingest(e));
  const deferred: (() => void)[] = [];
  const runDeferred = (): void => {
    for (const f of deferred.splice(0)) f();
  };
  const recorder = new SessionRecorder(observer.model, { publish: (body, session) => void b.publish(body, noteFor(body), { session }), defer: (f) => deferred.push(f) });
  observer.add(recorder);
  const log: KubewireEvent[] = [];
  b.subscribe((e) => log.push(e));
  const publish = (body: EventBody, fields: { session?: string; conn?: string }): void => {
    clock += 5;
    b.publish(body, noteFor(body), fields);
  };
  return {
    bus: b,
    observer,
    recorder,
    log,
    publish,
    runDeferred,
    connection(conn: string, c: ExecConnection): void {
      for (const body of execConnection(c)) publish(body, { session: c.session, conn });
    },
    /** Time passes: the observer's tick, then what the recorder deferred. */
    wait(ms: number): void {
      clock += ms;
      observer.tick(clock);
      runDeferred();
    },
    records: (): (KubewireEvent & AuditSessionEvent)[] => log.filter((e): e is KubewireEvent & AuditSessionEvent => e.type === 'audit.session'),
    seals: (session: string): KubewireEvent[] => log.filter((e) => e.type === 'audit.seal' && e.scope === 'session' && e.session === session),
  };
}

describe('SessionRecorder', () => {
  it('records a session once it settled, then seals it; a late finding gets a seal of its own and no second record', () => {
    const h = harness();
    h.connection('c1', { transport: 'websocket', command: ['sh', '-c', 'echo hi; exit 2'], kubectlCommand: 'kubectl exec', session: 's1', stdout: 'hi\n', exitCode: 2 });
    h.wait(1000);
    expect(h.records()).toEqual([]);
    h.wait(QUIET_MS);
    expect(h.records()).toHaveLength(1);
    expect(h.records()[0]).toMatchObject({
      session: 's1', kubectlVersion: 'v1.33.1', kubectlCommand: 'kubectl exec', operation: 'exec', namespace: 'default', pod: 'web', container: 'app',
      command: ['sh', '-c', 'echo hi; exit 2'], connections: ['c1'], requests: 1, transport: 'websocket', protocol: 'v5.channel.k8s.io',
      streams: { stdin: 0, stdout: 3, stderr: 0 }, bytes: { c2s: 200, s2c: 103 }, exitCode: 2, status: 'Failure', findings: [], endedBy: 'idle',
    });
    const record = h.log.findIndex((e) => e.type === 'audit.session');
    expect(h.log[record + 1]).toMatchObject({ type: 'audit.seal', scope: 'session', session: 's1' });

    h.publish(finding('late-rule'), { session: 's1' });
    h.runDeferred();
    expect(h.seals('s1')).toHaveLength(2);
    expect(h.log.at(-1)).toMatchObject({ type: 'audit.seal', session: 's1' });
    h.recorder.finish();
    expect(h.records()).toHaveLength(1);
    expect(h.seals('s1')).toHaveLength(2);
  });

  it('kubectl cp: the tar exec is the stream, so its exit 0 counts and not the test -d probe\'s exit 1', () => {
    const h = harness();
    h.connection('c1', { transport: 'websocket', command: ['test', '-d', '/tmp/small.txt'], kubectlCommand: 'kubectl cp', session: 'cp', exitCode: 1 });
    h.connection('c2', { transport: 'websocket', command: ['tar', '-xmf', '-', '-C', '/tmp'], kubectlCommand: 'kubectl cp', session: 'cp', exitCode: 0 });
    h.wait(QUIET_MS);
    expect(h.records()).toHaveLength(1);
    expect(h.records()[0]).toMatchObject({ operation: 'cp', command: ['tar', '-xmf', '-', '-C', '/tmp'], exitCode: 0, status: 'Success', connections: ['c1', 'c2'], requests: 2, endedBy: 'idle' });
  });

  it('a refused WebSocket attempt and the SPDY fallback that exits 3 are one record: exit 3 over spdy', () => {
    const h = harness();
    h.connection('c1', { transport: 'websocket', command: ['sh', '-c', 'exit 3'], kubectlCommand: 'kubectl exec', session: 'fb', refuse: 403 });
    // kubectl retries at once; the attempt alone is not a session's end.
    h.wait(500);
    h.connection('c2', { transport: 'spdy', command: ['sh', '-c', 'exit 3'], kubectlCommand: 'kubectl exec', session: 'fb', exitCode: 3 });
    h.wait(QUIET_MS);
    expect(h.records()).toHaveLength(1);
    expect(h.records()[0]).toMatchObject({ operation: 'exec', exitCode: 3, status: 'Failure', transport: 'spdy', protocol: 'v4.channel.k8s.io', connections: ['c1', 'c2'] });
    expect(h.seals('fb')).toHaveLength(1);
  });

  it('lists the findings another listener adds as the session settles, in one segment', () => {
    const h = harness();
    h.observer.add({ settled: (s) => h.publish(finding('on-settle'), { session: s.id }) });
    h.connection('c1', { transport: 'websocket', command: ['true'], kubectlCommand: 'kubectl exec', session: 's1' });
    h.wait(QUIET_MS);
    expect(h.records()[0]!.findings).toEqual(['on-settle']);
    expect(h.seals('s1')).toHaveLength(1);
    expect(h.log.at(-1)).toMatchObject({ type: 'audit.seal', session: 's1' });
  });

  it('at shutdown records every session once: settled ones as idle, open or unfinished ones as stopped by the proxy', () => {
    const h = harness();
    h.connection('c1', { transport: 'websocket', command: ['true'], kubectlCommand: 'kubectl exec', session: 'done' });
    h.wait(QUIET_MS);
    h.connection('c2', { transport: 'websocket', command: ['true'], kubectlCommand: 'kubectl exec', session: 'just-ended' });
    // Still open: its 101 and decoder stack, nothing after.
    for (const body of execConnection({ transport: 'websocket', command: ['sh'], kubectlCommand: 'kubectl exec', session: 'open' }).slice(0, 4)) h.publish(body, { session: 'open', conn: 'c3' });
    expect(h.observer.model.get('open')!.allEnded()).toBe(false);

    // As proxy-setup stops: the observer first, then the audit recording.
    h.observer.finish();
    h.recorder.finish();
    h.runDeferred();
    const byId = new Map(h.records().map((r) => [r.session, r]));
    expect(h.records()).toHaveLength(3);
    expect(byId.get('done')!.endedBy).toBe('idle');
    expect(byId.get('just-ended')!.endedBy).toBe('proxy-stop');
    expect(byId.get('open')!.endedBy).toBe('proxy-stop');
    for (const id of ['done', 'just-ended', 'open']) expect(h.seals(id)).toHaveLength(1);
  });

  it('a session still open at shutdown without the observer\'s finish is recorded as stopped by the proxy, with its end so far', () => {
    const h = harness();
    const events = execConnection({ transport: 'websocket', command: ['sh'], kubectlCommand: 'kubectl exec', session: 'open' });
    for (const body of events.slice(0, 4)) h.publish(body, { session: 'open', conn: 'c1' });
    h.wait(QUIET_MS);
    expect(h.records()).toEqual([]);
    h.recorder.finish();
    expect(h.records()).toHaveLength(1);
    const r = h.records()[0]!;
    expect(r).toMatchObject({ endedBy: 'proxy-stop', exitCode: null, transport: 'websocket' });
    expect(Date.parse(r.end)).toBeGreaterThan(Date.parse(r.start));
  });

  it('says audit-failure for sessions open when the log failed, and idle for those done before', () => {
    const h = harness();
    h.connection('c1', { transport: 'websocket', command: ['true'], kubectlCommand: 'kubectl exec', session: 'before' });
    const events = execConnection({ transport: 'websocket', command: ['sh'], kubectlCommand: 'kubectl exec', session: 'cut' });
    for (const body of events.slice(0, 4)) h.publish(body, { session: 'cut', conn: 'c2' });
    h.recorder.auditFailed();
    // Closed mode ends the open connection.
    h.publish({ type: 'conn.close', closedBy: 'proxy', bytes: { c2s: 10, s2c: 10 }, durationMs: 5, error: null }, { session: 'cut', conn: 'c2' });
    h.wait(QUIET_MS);
    const byId = new Map(h.records().map((r) => [r.session, r.endedBy]));
    expect(byId).toEqual(new Map([['before', 'idle'], ['cut', 'audit-failure']]));
  });

  it('writes through the audit sink a chain that verifies, each session sealed after all its records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubewire-recorder-'));
    dirs.push(dir);
    const h = harness();
    const bus = h.bus;
    const sink = await AuditSink.open({ path: join(dir, 'audit.jsonl'), maxSize: null, key: null, failMode: 'closed', redactStdin: 'none', publish: (body, fields = {}) => void bus.publish(body, noteFor(body), fields) });
    bus.addSink(sink);
    bus.publish({
      type: 'audit.start', chain: sink.chain,
      identity: { source: 'kubeconfig', username: null, uid: null, groups: [], extra: {}, kubeconfigUser: 'jane', clientCertificate: null, reviewError: 'test' },
      os: { user: 'jane', uid: 1000, host: 'laptop', platform: 'linux/x64' }, kubewire: { version: '0.1.0', pid: 1 },
      cluster: { server: 'https://10.0.0.1:6443/', context: 'test', via: 'https://10.0.0.1:6443' }, redactStdin: 'none', failMode: 'closed', maxSize: null,
    }, 'audit.start');
    h.connection('c1', { transport: 'websocket', command: ['test', '-d', '/tmp/x'], kubectlCommand: 'kubectl cp', session: 'cp', exitCode: 1 });
    h.connection('c2', { transport: 'websocket', command: ['tar', '-xmf', '-', '-C', '/tmp'], kubectlCommand: 'kubectl cp', session: 'cp', exitCode: 0 });
    h.connection('c3', { transport: 'websocket', command: ['sh'], kubectlCommand: 'kubectl exec', session: 'fb', refuse: 403 });
    h.connection('c4', { transport: 'spdy', command: ['sh'], kubectlCommand: 'kubectl exec', session: 'fb', exitCode: 3 });
    h.wait(QUIET_MS);
    // After the record, at shutdown: a segment of its own, sealed by the recorder's finish.
    h.publish(finding('late'), { session: 'cp' });
    h.observer.finish();
    h.recorder.finish();
    bus.publish({ type: 'audit.seal', scope: 'file', count: null, last: null, final: true }, 'seal');
    await bus.close();

    const recs = expectValidLog(sink.path);
    expect(recs.filter((e) => e.type === 'audit.session').map((e) => [e.session, (e as AuditSessionEvent).operation, (e as AuditSessionEvent).exitCode])).toEqual([['cp', 'cp', 0], ['fb', 'exec', 3]]);
    // cp: its connections' events and its record in one segment, then the late finding in a second.
    const cpSeals = recs.filter((e) => e.type === 'audit.seal' && e.scope === 'session' && e.session === 'cp');
    const cpEvents = recs.filter((e) => e.session === 'cp' && e.type !== 'audit.seal' && e.type !== 'finding');
    expect(cpSeals.map((e) => (e as { count: number }).count)).toEqual([cpEvents.length, 1]);
    const v = await verifyFiles([sink.path], { key: null });
    expect(v.problem ?? null).toBeNull();
    expect(v.status).toBe('consistent');
  });
});
