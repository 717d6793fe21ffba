import { describe, expect, it } from 'vitest';
import { diagnoseEvents } from '../../../src/diagnose/engine.js';
import { containerNotFound } from '../../../src/diagnose/rules/container-not-found.js';
import type { EventBody } from '../../../src/events/types.js';
import { LogBuilder, body, connClose, connOpen, ends, healthyWsExec, response, spdy101, spdyRequest, statusJson, wsRequest } from '../events.js';

const NOSUCH = 'container nosuch is not valid for pod web';
const target = { k8s: { pod: 'web', container: 'nosuch' } };
const refusal = (message = NOSUCH): EventBody[] => [response(400, { auditId: 'a1', headers: [['Content-Type', 'application/json']] }), body(statusJson('BadRequest', message, 400)), ...ends()];

/** `kubectl exec -c nosuch web`: the WebSocket attempt and the SPDY retry, both refused alike. */
function wrongContainer(message = NOSUCH): LogBuilder {
  return new LogBuilder()
    .add('c1', connOpen(), wsRequest(target), ...refusal(message), connClose('upstream', 2))
    .after(5).add('c2', connOpen(), spdyRequest(target), ...refusal(message), connClose('upstream', 2));
}

describe('container-not-found', () => {
  it('names the container and the pod, once for both attempts, answered by the API server', () => {
    const [f, ...rest] = containerNotFound.evaluate(wrongContainer().view());
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'container-not-found', conn: 'c1', severity: 'error', title: 'Pod default/web has no container "nosuch"', hop: { where: 'kubewire↔upstream', answeredBy: 'api-server' } });
    expect(f!.explanation).toContain('All 2 attempts');
    expect(f!.fix).toContain("kubectl get pod web -n default -o jsonpath='{.spec.containers[*].name}'");
    expect(f!.evidence.facts).toHaveLength(2);
    expect(f!.evidence.seqs).toEqual([2, 3, 4, 9, 10, 11]);
  });

  it('lists the pod\'s containers when a recorded Status names them', () => {
    const f = containerNotFound.evaluate(wrongContainer(`${NOSUCH}, choose one of: [app sidecar]`).view())[0];
    expect(f!.explanation).toContain('The pod\'s containers: app, sidecar.');
    expect(f!.fix).toContain('(app, sidecar)');
  });

  it('is the only finding of the session, once, however often it is evaluated: not a WebSocket fallback', () => {
    expect(diagnoseEvents(wrongContainer().events).map((f) => [f.rule, f.conn])).toEqual([['container-not-found', 'c1']]);
  });

  it('waits for kubectl\'s SPDY retry of the WebSocket refusal, then for the grace, as the model does', () => {
    const ws = new LogBuilder().add('c1', connOpen(), wsRequest(target), ...refusal(), connClose('upstream', 2));
    expect(containerNotFound.evaluate(ws.view({ now: 1_000, ended: false }))).toEqual([]);
    expect(containerNotFound.evaluate(ws.view({ now: 4_000, ended: false }))).toHaveLength(1);
    const spdyOnly = new LogBuilder().add('c1', spdyRequest(target), ...refusal());
    expect(containerNotFound.evaluate(spdyOnly.view({ ended: false }))).toHaveLength(1);
  });

  it('is silent for other refusals and for healthy sessions', () => {
    const other = new LogBuilder().add('c1', spdyRequest(), response(400), body(statusJson('BadRequest', 'Upgrade request required', 400)), ...ends());
    expect(containerNotFound.evaluate(other.view())).toEqual([]);
    expect(containerNotFound.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    const fine = new LogBuilder().add('c1', spdyRequest(), spdy101());
    expect(containerNotFound.evaluate(fine.view())).toEqual([]);
  });
});
