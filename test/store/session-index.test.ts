/**
 * The session index (src/store/session-index.ts) without a database: who a session is
 * indexed under (a gateway session's own `user` first), and the command lines typed, with the
 * one ECMA-48 stripper the stdin redactor uses (ESC intermediates, CAN/SUB ending a string).
 */
import { describe, expect, it } from 'vitest';
import type { AuditSessionEvent, KubewireEvent, SessionUser } from '../../src/events/types.js';
import { SessionIndexer } from '../../src/store/session-index.js';
import { TypedCommands } from '../../src/store/typed-commands.js';

const start = {
  v: 3, seq: 1, ts: '2026-01-01T00:00:00.000Z', note: '', type: 'audit.start',
  identity: { source: 'SelfSubjectReview', username: 'system:serviceaccount:kw:gateway', uid: null, groups: ['system:serviceaccounts'], extra: {}, kubeconfigUser: 'gw', clientCertificate: null, reviewError: null },
  os: { user: 'kw', uid: 1000, host: 'gw', platform: 'linux/x64' }, cluster: { server: 'https://127.0.0.1:6443/', context: 'demo', via: '' },
} as unknown as KubewireEvent;

function session(id: string, extra: { user?: SessionUser; identity?: unknown } = {}): KubewireEvent {
  const body: AuditSessionEvent = {
    type: 'audit.session', kubectlVersion: null, userAgent: null, kubectlCommand: null, operation: 'exec', namespace: 'default', pod: 'web', container: null,
    command: ['sh'], tty: false, stdin: false, start: '2026-01-01T00:00:01.000Z', end: '2026-01-01T00:00:02.000Z', durationMs: 1000, connections: [], requests: 1,
    transport: 'websocket', protocol: null, bytes: { c2s: 0, s2c: 0 }, streams: { stdin: 0, stdout: 0, stderr: 0 }, exitCode: 0, status: null, findings: [], endedBy: 'idle',
  };
  return { v: 3, seq: 2, ts: '2026-01-01T00:00:02.000Z', note: '', session: id, ...body, ...extra } as unknown as KubewireEvent;
}

describe('session index', () => {
  it("indexes a gateway session under its record's user, then its identity, then audit.start's", () => {
    const ix = new SessionIndexer();
    ix.push(start);
    const alice: SessionUser = { username: 'alice', uid: 'u-1', groups: ['dev'], extra: {}, source: 'TokenReview' };
    expect(ix.push(session('s1', { user: alice }))).toMatchObject({ user: 'alice', groups: ['dev'] });
    expect(ix.push(session('s2', { identity: { username: 'bob', groups: [] } }))).toMatchObject({ user: 'bob' });
    expect(ix.push(session('s3'))).toMatchObject({ user: 'system:serviceaccount:kw:gateway', groups: ['system:serviceaccounts'] });
  });

  it('strips ESC intermediates (charset designation) and ends an OSC string at CAN', () => {
    const t = new TypedCommands();
    // `ESC ( B` (designate G0, an intermediate then a final) must not leave `B` in the line.
    t.stdin(Buffer.from('ls\x1b(B -l\r'));
    // An OSC title cancelled by CAN: the text after it is typed text again.
    t.stdin(Buffer.from('\x1b]0;title\x18pwd\r'));
    expect(t.commands()).toEqual(['ls -l', 'pwd']);
  });
});
