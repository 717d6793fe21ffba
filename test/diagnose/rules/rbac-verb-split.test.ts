import { describe, expect, it } from 'vitest';
import { diagnoseEvents } from '../../../src/diagnose/engine.js';
import { rbacVerbSplit } from '../../../src/diagnose/rules/rbac-verb-split.js';
import type { EventBody } from '../../../src/events/types.js';
import { LogBuilder, body, connClose, connOpen, ends, healthySpdyExec, healthyWsExec, response, spdy101, spdyRequest, statusJson, wsRequest } from '../events.js';

const rbac = (verb: string, sub = 'exec'): string => `pods "p1" is forbidden: User "jane" cannot ${verb} resource "pods/${sub}" in API group "" in the namespace "default"`;
const refused = (message: string): EventBody[] => [response(403, { auditId: 'a1', headers: [['Content-Type', 'application/json']] }), body(statusJson('Forbidden', message, 403)), ...ends()];

describe('rbac-verb-split', () => {
  it('a role with only create: refused over WebSocket (get), kubectl fell back to SPDY without a word', () => {
    const log = new LogBuilder()
      .add('c1', connOpen(), wsRequest(), ...refused(rbac('get')), connClose('upstream', 2))
      .after(5).add('c2', connOpen(), spdyRequest(), spdy101());
    const [f, ...rest] = rbacVerbSplit.evaluate(log.view({ ended: false }));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'rbac-verb-split', conn: 'c1', severity: 'warn', title: 'RBAC: jane lacks "get" on pods/exec: WebSocket needs both get and create', hop: { answeredBy: 'api-server' } });
    expect(f!.explanation).toContain('grants create but not get');
    expect(f!.explanation).toContain('without a word');
    expect(f!.explanation).toContain('WebSocket-only hop');
    expect(f!.fix).toContain('Add "get" to the Role bound to "jane"');
    expect(f!.fix).toContain('verbs: ["get", "create"]');
    expect(f!.fix).toContain('kubectl auth can-i get pods --subresource=exec -n default --as jane');
  });

  it('a role with only get on 1.35: WebSocket needs create too, and the SPDY retry is refused as well', () => {
    const log = new LogBuilder()
      .add('c1', wsRequest({ op: 'attach' }), ...refused(rbac('create', 'attach')))
      .after(5).add('c2', spdyRequest({ op: 'attach' }), ...refused(rbac('create', 'attach')));
    const [f] = rbacVerbSplit.evaluate(log.view());
    expect(f).toMatchObject({ severity: 'error', title: 'RBAC: jane lacks "create" on pods/attach: WebSocket needs both get and create' });
    expect(f!.explanation).toContain('AuthorizePodWebsocketUpgradeCreatePermission');
    expect(f!.explanation).toContain('worked through 1.34 and fails on 1.35');
    expect(f!.explanation).toContain('no transport gets through');
    expect(f!.evidence.facts).toContain('missing verb: create on pods/attach');
  });

  it('a role with neither verb: refused over WebSocket (get) and SPDY (create) alike, told as such, not as a split', () => {
    const log = new LogBuilder()
      .add('c1', wsRequest(), ...refused(rbac('get')))
      .after(5).add('c2', spdyRequest(), ...refused(rbac('create')));
    const [f, ...rest] = rbacVerbSplit.evaluate(log.view());
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ severity: 'error', title: 'RBAC: jane may neither get nor create pods/exec: no transport is allowed' });
    expect(f!.explanation).not.toContain('grants create but not get');
    expect(f!.explanation).toContain('grants neither verb');
    expect(f!.evidence.facts).toContain('missing verbs: get and create on pods/exec');
    expect(f!.fix).toContain('verbs: ["get", "create"]');
    expect(diagnoseEvents(log.events).map((x) => x.rule)).toEqual(['rbac-verb-split']);
  });

  it('is the one finding of such a session: not also forbidden or websocket-fallback', () => {
    const createOnly = new LogBuilder().add('c1', wsRequest({ op: 'portforward' }), ...refused(rbac('get', 'portforward'))).after(5).add('c2', spdyRequest({ op: 'portforward' }), spdy101('portforward.k8s.io'));
    expect(diagnoseEvents(createOnly.events).map((f) => f.rule)).toEqual(['rbac-verb-split']);
    const getOnly = new LogBuilder().add('c1', wsRequest(), ...refused(rbac('create'))).after(5).add('c2', spdyRequest(), ...refused(rbac('create')));
    expect(diagnoseEvents(getOnly.events).map((f) => f.rule)).toEqual(['rbac-verb-split']);
  });

  it('waits for the SPDY retry\'s answer, or for the grace without one', () => {
    const pending = new LogBuilder().add('c1', connOpen(), wsRequest(), ...refused(rbac('get')), connClose('upstream', 2)).after(5).add('c2', connOpen(), spdyRequest());
    expect(rbacVerbSplit.evaluate(pending.view({ now: 10, ended: false }))).toEqual([]);
    const alone = new LogBuilder().add('c1', connOpen(), wsRequest(), ...refused(rbac('get')), connClose('upstream', 2));
    expect(rbacVerbSplit.evaluate(alone.view({ now: 1_000, ended: false }))).toEqual([]);
    expect(rbacVerbSplit.evaluate(alone.view({ now: 4_000, ended: false }))[0]?.explanation).toContain('No SPDY retry followed');
  });

  it('is silent for healthy sessions, for RBAC on SPDY or on other resources, and for non-RBAC 403s', () => {
    expect(rbacVerbSplit.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    expect(rbacVerbSplit.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    expect(rbacVerbSplit.evaluate(new LogBuilder().add('c1', spdyRequest(), ...refused(rbac('create'))).view())).toEqual([]);
    const pods = 'pods "p1" is forbidden: User "jane" cannot get resource "pods" in API group "" in the namespace "default"';
    expect(rbacVerbSplit.evaluate(new LogBuilder().add('c1', wsRequest(), ...refused(pods)).view())).toEqual([]);
    expect(rbacVerbSplit.evaluate(new LogBuilder().add('c1', wsRequest(), ...refused('denied by policy')).view())).toEqual([]);
  });
});
