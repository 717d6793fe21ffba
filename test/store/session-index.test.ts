/** The session index: whose session a row names. */
import { describe, expect, it } from 'vitest';
import type { KubewireEvent } from '../../src/events/types.js';
import { SessionIndexer } from '../../src/store/session-index.js';

const start = {
  type: 'audit.start', v: 1, seq: 1, ts: '2025-01-01T00:00:00.000000Z',
  identity: { source: 'SelfSubjectReview', username: 'gateway-sa', uid: null, groups: ['system:serviceaccounts'], extra: {}, kubeconfigUser: 'gw', clientCertificate: null, reviewError: null },
  os: { user: 'kubewire', uid: 1000, host: 'gw', platform: 'linux/x64' }, cluster: { server: 'https://k8s/', context: 'prod', via: 'https://k8s/' },
} as unknown as KubewireEvent;

function session(id: string, user?: { username: string; groups: string[] }): KubewireEvent {
  return {
    type: 'audit.session', v: 1, seq: 2, ts: '2025-01-01T00:00:01.000000Z', session: id, operation: 'exec', namespace: 'default', pod: 'web', container: null,
    command: ['true'], tty: false, start: null, end: null, exitCode: 0, bytes: { c2s: 0, s2c: 0 }, transport: 'websocket', findings: [],
    ...(user ? { user: { ...user, uid: null, extra: {}, source: 'TokenReview' } } : {}),
  } as unknown as KubewireEvent;
}

describe('SessionIndexer', () => {
  it("names a gateway session's own user, and the chain's identity for a session without one", () => {
    const ix = new SessionIndexer();
    expect(ix.push(start)).toBeNull();
    expect(ix.push(session('s-1', { username: 'alice', groups: ['team-a'] }))).toMatchObject({ session: 's-1', user: 'alice', groups: ['team-a'], cluster: 'prod' });
    expect(ix.push(session('s-2'))).toMatchObject({ session: 's-2', user: 'gateway-sa', groups: ['system:serviceaccounts'] });
  });
});
